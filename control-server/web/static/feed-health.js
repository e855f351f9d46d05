// Feed health: each source's last success, last error and data age, failing
// sources first; refreshed every 10 s.
import { el, formatDate, t } from './common.js';
import { getJson } from './staff.js';

const body = document.getElementById('feeds');
const summary = document.getElementById('summary');
const status = document.getElementById('status');

function age(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

async function refresh() {
  let feeds;
  try {
    feeds = await getJson('/api/feeds');
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
    return;
  }
  status.textContent = '';
  feeds.sort((a, b) => Number(a.ok) - Number(b.ok) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  body.replaceChildren(...feeds.map((f) => el('tr', { class: f.ok ? 'online' : 'offline', 'data-feed': f.name },
    el('th', { scope: 'row' }, f.name),
    el('td', {}, f.kind),
    el('td', {}, el('span', { class: `state ${f.ok ? 'on' : 'off'}` }, f.ok ? t('feeds_ok') : t('feeds_failing'))),
    el('td', {}, f.last_success ? formatDate(f.last_success) : t('feeds_never')),
    el('td', {}, age(f.data_age_s)),
    el('td', {}, f.last_error ? `${f.last_error}${f.last_error_at ? ` (${formatDate(f.last_error_at)})` : ''}` : '–'))));
  const failing = feeds.filter((f) => !f.ok).length;
  summary.textContent = feeds.length
    ? t('feeds_summary').replace('{failing}', failing).replace('{total}', feeds.length)
    : t('feeds_none');
}

refresh();
setInterval(refresh, 10000);
