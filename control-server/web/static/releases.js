// The player-versions page: the releases with where they are assigned and
// where they run, the upload form (release-upload.js) and the assignment to
// all displays or chosen ones, all through `/api/releases`. Only admins get
// the forms, as only admins may use those endpoints.
import { el, formatDate, lang, t } from './common.js';
import { getJson, role, send } from './staff.js';
import { releaseUpload } from './release-upload.js';

const filled = (key, values) => t(key).replace(/\{(\w+)\}/g, (m, k) => values[k] ?? m);
const mayEdit = role === 'admin';
const $ = (id) => document.getElementById(id);
const status = $('status');
const releaseRows = $('releases');
const displayRows = $('release-displays');
const releaseSelect = $('assign-release');
const targetChosen = $('target-chosen');
const assignError = $('assign-error');
const assignDone = $('assign-done');
const assignSave = $('assign-save');

const number = new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'de-DE', { maximumFractionDigits: 1 });
function size(bytes) {
  if (bytes >= 1024 * 1024) return `${number.format(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${number.format(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/** Whether the server checked the signature against its release key. */
function signatureCheck(check) {
  switch (check) {
    case 'verified': return t('releases_check_verified');
    case 'mismatch': return t('releases_check_mismatch');
    default: return t('releases_check_no_key');
  }
}

function releaseRow(r, displays) {
  const names = (ids) => ids.map((id) => displays.find((d) => d.id === id)?.name ?? `#${id}`);
  const assigned = [r.global ? t('releases_global') : null, ...names(r.displays)].filter(Boolean);
  const running = displays.filter((d) => d.player_version === r.version).map((d) => d.name);
  return el('tr', { 'data-version': r.version },
    el('th', { scope: 'row' }, r.version),
    el('td', {}, size(r.size)),
    el('td', {}, formatDate(r.uploaded_at), ' ', el('span', { class: 'where' }, `${t('releases_by')} ${r.uploaded_by}`)),
    el('td', {}, el('code', { title: `${t('releases_sha_full')}: ${r.sha256}`, 'data-sha': r.sha256 }, `${r.sha256.slice(0, 12)}…`)),
    el('td', { class: 'check', 'data-check': r.signature_check }, signatureCheck(r.signature_check)),
    el('td', { class: 'assigned' }, assigned.join(', ') || '–'),
    el('td', { class: 'running' }, running.length
      ? [filled('releases_displays', { n: running.length }), ' ', el('span', { class: 'where' }, `(${running.join(', ')})`)]
      : '–'));
}

/** What `d` is told to run: its own release, else the one for all. */
function told(d, releases) {
  const own = releases.find((r) => r.displays.includes(d.id));
  if (own) return filled('releases_own', { version: own.version });
  const all = releases.find((r) => r.global);
  return all ? filled('releases_via_all', { version: all.version }) : '–';
}

function displayRow(d, releases) {
  const id = `release-display-${d.id}`;
  // Only what concerns versions: a rolled-back release, a missing update key.
  const problems = (d.health?.problems ?? []).filter((p) => /release|update/i.test(p));
  return el('tr', { 'data-display': d.id },
    el('td', {}, el('input', { type: 'checkbox', id, value: d.id, disabled: !mayEdit || !targetChosen.checked })),
    el('th', { scope: 'row' }, el('label', { for: id }, d.name)),
    el('td', { class: 'runs' }, d.player_version || '–'),
    el('td', { class: 'told' }, told(d, releases)),
    el('td', { class: 'problem' }, problems.join('; ')));
}

function showReleases(releases, displays) {
  const newest = [...releases].reverse();
  const global = releases.find((r) => r.global);
  $('current').textContent = global
    ? filled('releases_current_global', { version: global.version })
    : t('releases_current_none');
  $('releases-empty').textContent = t('releases_empty');
  $('releases-empty').hidden = releases.length > 0;
  $('releases-table').hidden = releases.length === 0;
  releaseRows.replaceChildren(...newest.map((r) => releaseRow(r, displays)));
  const chosen = releaseSelect.value;
  releaseSelect.replaceChildren(releaseSelect.options[0],
    ...newest.map((r) => el('option', { value: r.version }, r.version)));
  releaseSelect.value = newest.some((r) => r.version === chosen) ? chosen : (global?.version ?? '');
  const checked = new Set([...displayRows.querySelectorAll('input:checked')].map((i) => i.value));
  displayRows.replaceChildren(...displays.map((d) => displayRow(d, releases)));
  for (const input of displayRows.querySelectorAll('input')) input.checked = checked.has(input.value);
}

async function refresh() {
  try {
    const [releases, displays] = await Promise.all([getJson('/api/releases'), getJson('/api/displays')]);
    showReleases(releases, displays);
    status.textContent = '';
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

async function assign() {
  assignError.textContent = '';
  assignDone.textContent = '';
  const body = { version: releaseSelect.value || null };
  if (targetChosen.checked) {
    body.displays = [...displayRows.querySelectorAll('input:checked')].map((i) => Number(i.value));
    if (!body.displays.length) {
      assignError.textContent = t('releases_need_display');
      displayRows.querySelector('input')?.focus();
      return;
    }
  }
  assignSave.disabled = true;
  try {
    await send('PUT', '/api/releases/assignment', body);
    assignDone.textContent = t('releases_assigned');
    await refresh();
  } catch (e) {
    assignError.textContent = `${t('releases_not_assigned')} ${e.message}`;
  } finally {
    assignSave.disabled = false;
  }
}

$('releases-readonly').hidden = mayEdit;
$('upload-section').hidden = !mayEdit;
$('assign-buttons').hidden = !mayEdit;
for (const input of $('assign-form').querySelectorAll('select, input[name=target]')) input.disabled = !mayEdit;
for (const radio of $('assign-form').querySelectorAll('input[name=target]')) {
  radio.addEventListener('change', () => {
    for (const box of displayRows.querySelectorAll('input')) box.disabled = !mayEdit || !targetChosen.checked;
  });
}
$('assign-form').addEventListener('submit', (event) => { event.preventDefault(); if (mayEdit) assign(); });
if (mayEdit) releaseUpload($('upload-form'), { uploaded: refresh });
refresh();
