// Council TV: the live picture with the agenda beside it, or the next session.
// Polls the public live state every 5 s; the stream starts when a session does.
import { el, formatDate, getJson, keyboardControls, t } from './common.js';
import { HlsPlayer } from './player.js';

const video = document.getElementById('video');
const offair = document.getElementById('offair');
const badge = document.getElementById('live-badge');
const now = document.getElementById('now');
const speaker = document.getElementById('speaker');
const agenda = document.getElementById('agenda');
const meetingTitle = document.getElementById('meeting-title');
let player = null;
let playing = null;

keyboardControls(video);

function showOffAir(state) {
  if (player) { player.stop(); player = null; playing = null; }
  video.hidden = true;
  badge.hidden = true;
  offair.hidden = false;
  now.textContent = '';
  speaker.textContent = '';
  agenda.replaceChildren();
  offair.replaceChildren(t('not_live'));
  if (state.next) {
    offair.append(el('br'), `${t('next')}: ${state.next.title}, ${formatDate(state.next.start)}`);
    meetingTitle.textContent = `${t('next')}: ${state.next.title}`;
  } else {
    offair.append(el('br'), t('none_planned'));
    meetingTitle.textContent = '';
  }
}

function showLive(state) {
  offair.hidden = true;
  video.hidden = false;
  badge.hidden = false;
  meetingTitle.textContent = state.meeting ? `${state.meeting.title} – ${formatDate(state.meeting.start)}` : '';
  if (state.closed) {
    now.textContent = t('closed');
  } else if (state.item) {
    now.textContent = `${t('current_item')}: ${[state.item.number, state.item.title].filter(Boolean).join(' ')}`;
  } else {
    now.textContent = '';
  }
  speaker.textContent = state.speaker ? `${t('speaker')}: ${state.speaker.name}${state.speaker.role ? `, ${state.speaker.role}` : ''}` : '';
  agenda.replaceChildren(...state.agenda.map((item, i) => {
    const current = i === state.item_index;
    return el('li', { class: current ? 'current' : null, 'aria-current': current ? 'step' : null },
      item.number ? el('span', { class: 'number' }, item.number) : null, ' ', item.title,
      current ? el('span', { class: 'visually-hidden' }, ` (${t('live')})`) : null);
  }));
  if (state.hls_url && playing !== state.hls_url) {
    if (player) player.stop();
    playing = state.hls_url;
    player = new HlsPlayer(video, state.hls_url, {
      live: true,
      onError: (e) => { now.textContent = `${t('play_failed')} (${e.message})`; },
    });
    player.start()
      .then(() => video.play().catch(() => { /* the viewer presses play */ }))
      .catch((e) => { now.textContent = `${t('play_failed')} (${e.message})`; playing = null; });
  }
}

async function refresh() {
  try {
    const state = await getJson('/api/council/live');
    if (state.live) showLive(state); else showOffAir(state);
  } catch (e) {
    offair.textContent = t('load_failed');
  }
}

refresh();
setInterval(refresh, 5000);
