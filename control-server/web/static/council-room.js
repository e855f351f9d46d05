// The council control room: today's meeting with its agenda; start and stop
// the broadcast, next item, any item, speaker, camera, closed part; the
// programme picture and the encoder's status (bitrate, dropped frames, audio
// level, disk), refreshed every 2 s.
import { el, formatDate, t } from './common.js';
import { HlsPlayer } from './player.js';
import { getJson, send } from './staff.js';

const select = document.getElementById('meeting');
const stateLine = document.getElementById('meeting-state');
const message = document.getElementById('message');
const done = document.getElementById('done');
const agenda = document.getElementById('agenda');
const speakerSelect = document.getElementById('speaker');
const cameras = document.getElementById('cameras');
const encoder = document.getElementById('encoder');
const closedButton = document.getElementById('closed');
const video = document.getElementById('video');
let meeting = null;
let player = null;

/** The meeting to show first: the live one, else the next planned, else the newest. */
function preferred(meetings) {
  const now = Date.now();
  return meetings.find((m) => m.state === 'live')
    ?? meetings.filter((m) => m.state === 'planned' && Date.parse(m.start) >= now - 12 * 3600e3)
      .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0]
    ?? meetings[0];
}

async function command(name, body = {}) {
  message.textContent = '';
  done.textContent = '';
  try {
    const result = await send('POST', `/api/council/meetings/${meeting.id}/${name}`, body);
    done.textContent = t('room_delivered').replace('{n}', result.delivered);
    await refresh();
  } catch (e) {
    message.textContent = e.message;
  }
}

function renderMeeting(m) {
  const live = m.state === 'live';
  stateLine.textContent = `${formatDate(m.start)} · ${t(`room_${m.state}`)}`;
  document.getElementById('start').disabled = m.state !== 'planned';
  document.getElementById('stop').disabled = !live;
  document.getElementById('next').disabled = !live;
  closedButton.disabled = !live;
  closedButton.setAttribute('aria-pressed', String(m.closed_manual));
  agenda.replaceChildren(...m.items.map((item) => {
    const current = item.id === m.current_item_id;
    return el('li', { class: current ? 'current' : null, 'aria-current': current ? 'step' : null },
      el('span', { class: 'label' }, `${item.number} ${item.title}`,
        item.public ? null : el('span', { class: 'tag' }, ` (${t('room_closed_item')})`),
        current ? el('span', { class: 'tag' }, ` – ${t('room_current')}`) : null),
      el('button', {
        type: 'button', class: 'secondary', disabled: !live || current,
        'aria-label': `${t('room_go')}: ${item.number} ${item.title}`,
        onclick: () => command('goto', { item_id: item.id }),
      }, t('room_go')));
  }));
  const chosen = speakerSelect.value;
  speakerSelect.replaceChildren(el('option', { value: '' }, t('room_speaker_none')),
    ...m.speakers.map((sp) => el('option', { value: sp.id }, sp.role ? `${sp.name} (${sp.role})` : sp.name)));
  speakerSelect.value = [...speakerSelect.options].some((o) => o.value === chosen) ? chosen : '';
  document.getElementById('speaker-show').disabled = !live;
  if (live && !player) {
    player = new HlsPlayer(video, '/council/live/index.m3u8', { live: true, onError: (e) => { message.textContent = e.message; } });
    player.start().then(() => video.play().catch(() => {})).catch((e) => { message.textContent = e.message; player = null; });
  } else if (!live && player) {
    player.stop();
    player = null;
  }
}

function renderEncoders(rows) {
  const connected = rows.filter((r) => r.connected);
  if (!connected.length) {
    encoder.replaceChildren(el('dt', {}, t('room_state')), el('dd', {}, t('room_no_broadcaster')));
    cameras.replaceChildren();
    return;
  }
  const r = connected[0];
  const s = r.status ?? {};
  const rowsOut = [
    [r.name, t('room_connected')],
    [t('room_state'), s.state ?? '–'],
    [t('room_bitrate'), s.bitrate_kbps != null ? `${s.bitrate_kbps} kbit/s` : '–'],
    [t('room_dropped'), s.dropped_frames ?? '–'],
    [t('room_audio'), s.audio_level_db != null ? `${s.audio_level_db.toFixed(1)} dBFS` : '–'],
    [t('room_disk'), s.disk_free_bytes != null ? `${(s.disk_free_bytes / 1e9).toFixed(1)} GB` : '–'],
  ];
  encoder.replaceChildren(...rowsOut.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
    ...(s.errors ?? []).map((e) => el('dd', { class: 'problem' }, e)));
  const live = meeting?.state === 'live';
  cameras.replaceChildren(...(s.inputs ?? []).map((input) => el('button', {
    type: 'button', class: 'secondary', 'aria-pressed': String(s.camera === input.name),
    disabled: !live || !input.ok,
    onclick: () => command('camera', { name: input.name }),
  }, input.name)));
}

async function refresh() {
  try {
    const [detail, encoders] = await Promise.all([
      meeting ? getJson(`/api/council/meetings/${meeting.id}`) : null,
      getJson('/api/council/broadcasters'),
    ]);
    if (detail) { meeting = detail; renderMeeting(detail); }
    renderEncoders(encoders);
  } catch (e) {
    message.textContent = `${t('load_failed')} (${e.message})`;
  }
}

async function init() {
  let meetings;
  try {
    meetings = await getJson('/api/council/meetings');
  } catch (e) {
    message.textContent = `${t('load_failed')} (${e.message})`;
    return;
  }
  if (!meetings.length) {
    stateLine.textContent = t('room_no_meetings');
    return;
  }
  select.replaceChildren(...meetings.map((m) => el('option', { value: m.id }, `${m.title} – ${formatDate(m.start)}`)));
  const first = preferred(meetings);
  select.value = String(first.id);
  meeting = first;
  await refresh();
}

select.addEventListener('change', async () => {
  meeting = { id: Number(select.value) };
  if (player) { player.stop(); player = null; }
  await refresh();
});
document.getElementById('start').addEventListener('click', () => command('start'));
document.getElementById('stop').addEventListener('click', () => command('stop'));
document.getElementById('next').addEventListener('click', () => command('next'));
closedButton.addEventListener('click', () => command('closed', { closed: closedButton.getAttribute('aria-pressed') !== 'true' }));
document.getElementById('speaker-show').addEventListener('click', () => {
  const sp = meeting.speakers.find((x) => String(x.id) === speakerSelect.value);
  command('speaker', sp ? { speaker: { name: sp.name, role: sp.role || undefined } } : {});
});

init();
setInterval(refresh, 2000);
