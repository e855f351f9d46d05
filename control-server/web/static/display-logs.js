// One display's forwarded system log, newest first, at least as severe as
// chosen (the server filters, so older errors are not hidden behind newer
// warnings). Times in the display's own zone. Every line comes from the board
// and goes into the page as text.
import { el, lang, t } from './common.js';
import { getJson } from './staff.js';

const page = document.getElementById('display-page');
const select = document.getElementById('max-priority');
const body = document.getElementById('logs');
const table = document.getElementById('logs-table');
const empty = document.getElementById('logs-empty');
const summary = document.getElementById('summary');
const status = document.getElementById('status');
const older = document.getElementById('logs-older');
const STEP = 200;
const MAX = 5000;
let limit = STEP;

function timeFormat(tz) {
  const options = {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  };
  const locale = lang === 'en' ? 'en-GB' : 'de-DE';
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: tz });
  } catch {
    // A zone this browser does not know: the town's.
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: 'Europe/Berlin' });
  }
}
const format = timeFormat(page.dataset.tz);

/** syslog priority → how loud its badge is. */
const loudness = (p) => (p <= 3 ? 'bad' : p === 4 ? 'warn' : 'quiet');

function row(line) {
  return el('tr', { 'data-priority': line.priority },
    el('td', { class: 'at' }, el('time', { datetime: line.at }, format.format(new Date(line.at)))),
    el('td', {}, el('span', { class: `severity ${loudness(line.priority)}` }, t(`logs_sev_${line.priority}`))),
    el('td', { class: 'source' }, line.source),
    el('td', { class: 'message' }, line.message));
}

async function load() {
  const filter = select.value;
  try {
    const lines = await getJson(`/api/displays/${page.dataset.display}/logs?limit=${limit}&max_priority=${filter}`);
    if (filter !== select.value) return; // a newer choice is on its way
    status.textContent = '';
    body.replaceChildren(...lines.map(row));
    table.hidden = lines.length === 0;
    empty.hidden = lines.length > 0;
    empty.textContent = filter === '7' ? t('logs_empty') : t('logs_empty_filtered');
    summary.textContent = lines.length ? t('logs_count').replace('{n}', lines.length) : '';
    older.hidden = lines.length < limit || limit >= MAX;
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

// The filter is in the address, so a filtered view can be bookmarked and sent.
const wanted = new URLSearchParams(location.search).get('max_priority');
if ([...select.options].some((o) => o.value === wanted)) select.value = wanted;
select.addEventListener('change', () => {
  limit = STEP;
  const address = new URL(location.href);
  address.searchParams.set('max_priority', select.value);
  history.replaceState(null, '', address);
  load();
});
document.getElementById('logs-filter').addEventListener('submit', (event) => { event.preventDefault(); load(); });
document.getElementById('logs-refresh').addEventListener('click', load);
older.addEventListener('click', () => { limit = Math.min(limit + STEP, MAX); load(); });
load();
