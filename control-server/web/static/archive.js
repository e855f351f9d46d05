// The archive: past public sessions, searchable by agenda-item title.
import { el, formatClock, formatDate, getJson, t } from './common.js';

const form = document.getElementById('search');
const input = document.getElementById('q');
const results = document.getElementById('results');
const status = document.getElementById('status');

async function search(q) {
  status.textContent = '';
  let entries;
  try {
    entries = await getJson(`/api/council/archive${q ? `?q=${encodeURIComponent(q)}` : ''}`);
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
    return;
  }
  results.replaceChildren(...entries.flatMap((entry) => entry.recordings.map((rec) => {
    const chapters = rec.chapters.filter((c) => c.kind === 'agenda');
    return el('li', { class: 'result' },
      el('h3', {}, el('a', { href: `/archiv/${rec.id}` }, entry.meeting.title)),
      el('p', { class: 'meta' }, formatDate(entry.meeting.start),
        rec.duration_s ? ` · ${t('duration')} ${formatClock(rec.duration_s)}` : ''),
      chapters.length ? el('ol', { class: 'chapter-links', 'aria-label': `${t('chapters')}: ${entry.meeting.title}` },
        chapters.map((c) => el('li', {},
          c.public
            ? el('a', { href: `/archiv/${rec.id}?t=${Math.floor(c.start_s)}` }, `${formatClock(c.start_s)} ${c.title}`)
            : `${formatClock(c.start_s)} ${t('closed_chapter')}`))) : null);
  })));
  if (!results.children.length) status.textContent = t('no_results');
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const q = input.value.trim();
  history.replaceState(null, '', q ? `?q=${encodeURIComponent(q)}` : location.pathname);
  search(q);
});

const initial = new URLSearchParams(location.search).get('q') || '';
input.value = initial;
search(initial);
