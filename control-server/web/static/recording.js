// One archived session: the recording with its chapters, opened at a chosen
// point (`?t=<seconds>` or `#t=<seconds>`, as links from the archive and other
// sites give it), the download where the town allows it, and the embed code.
import { el, formatClock, formatDate, getJson, keyboardControls, t } from './common.js';
import { HlsPlayer } from './player.js';

const box = document.querySelector('[data-recording]');
const id = box.dataset.recording;
const video = document.getElementById('video');
const status = document.getElementById('status');
const chapterList = document.getElementById('chapters');

function startTime() {
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const raw = params.get('t') ?? hash.get('t');
  const seconds = Number(raw);
  return raw !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds : 0;
}

function jump(seconds) {
  video.currentTime = seconds;
  video.play().catch(() => {});
  history.replaceState(null, '', `?t=${Math.floor(seconds)}`);
}

async function main() {
  let entries;
  try {
    entries = await getJson(`/api/council/archive?recording=${encodeURIComponent(id)}`);
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
    return;
  }
  const entry = entries[0];
  const rec = entry?.recordings.find((r) => String(r.id) === id);
  if (!rec) {
    status.textContent = t('not_found');
    return;
  }
  const title = document.getElementById('title');
  title.textContent = entry.meeting.title;
  document.title = `${entry.meeting.title} – ${document.title.split(' – ').pop()}`;
  const meta = document.getElementById('meta');
  if (meta) meta.textContent = `${formatDate(entry.meeting.start)}${rec.duration_s ? ` · ${t('duration')} ${formatClock(rec.duration_s)}` : ''}`;
  if (rec.poster_url) video.poster = rec.poster_url;
  if (rec.chapters_url) {
    video.append(el('track', { kind: 'chapters', src: rec.chapters_url, srclang: document.documentElement.lang, label: t('chapters'), default: true }));
  }
  chapterList.replaceChildren(...rec.chapters.filter((c) => c.kind === 'agenda').map((c) => el('li', {},
    c.public
      ? el('button', { type: 'button', class: 'chapter', 'data-start': c.start_s, onclick: () => jump(c.start_s) },
        el('span', { class: 'time' }, formatClock(c.start_s)), ' ', c.title)
      : el('span', { class: 'chapter closed' }, el('span', { class: 'time' }, formatClock(c.start_s)), ' ', t('closed_chapter')))));
  const download = document.getElementById('download');
  if (download && rec.download_url) {
    download.href = rec.download_url;
    download.hidden = false;
  }
  const embed = document.getElementById('embed-code');
  if (embed) {
    embed.value = `<iframe src="${location.origin}/embed/${id}" width="640" height="360" title="${entry.meeting.title.replace(/"/g, '&quot;')}" allow="fullscreen" loading="lazy"></iframe>`;
  }
  keyboardControls(video);
  const player = new HlsPlayer(video, rec.hls_url, {
    startAt: startTime(),
    onError: (e) => { status.textContent = `${t('play_failed')} (${e.message})`; },
  });
  try {
    await player.start();
  } catch (e) {
    status.textContent = `${t('play_failed')} (${e.message})`;
  }
}

main();
