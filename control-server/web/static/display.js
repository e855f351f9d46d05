// One display's page: its state and place, and its night mode, saved with
// `PUT /api/displays/{id}` (admin only); a refusal is shown beside the form
// and on the window it names.
import { el, formatDate, t } from './common.js';
import { getJson, role, send } from './staff.js';
import { nightSummary } from './night-mode.js';
import { nightEditor } from './night-editor.js';

const url = `/api/displays/${document.getElementById('display-page').dataset.display}`;
const status = document.getElementById('status');
const facts = document.getElementById('facts');
const summary = document.getElementById('night-summary');
const form = document.getElementById('night-form');
const error = document.getElementById('night-error');
const done = document.getElementById('night-done');
const addButton = document.getElementById('night-add');
const saveButton = document.getElementById('night-save');
const mayEdit = role === 'admin';

/**
 * What `GET` adds to a display's settings (the server's `DisplayView`);
 * `PUT` takes the settings alone. Listed so a setting the console does not
 * know is sent back as it came rather than dropped: should the view grow a
 * field, the save is refused in words instead of losing something quietly.
 */
const VIEW_ONLY = ['adopted', 'revoked', 'manifest_version', 'acked_manifest', 'online', 'last_seen', 'player_version', 'health', 'connected_since'];

function settingsOf(view) {
  const settings = { ...view };
  for (const k of VIEW_ONLY) delete settings[k];
  return settings;
}

const editor = nightEditor(document.getElementById('night-windows'), document.getElementById('night-empty'), {
  readonly: !mayEdit,
  removed: () => addButton.focus(),
});

function showFacts(d) {
  const state = d.online ? t('online') : t('offline');
  const seen = d.last_seen ? `${t('last_seen')} ${formatDate(d.last_seen)}` : t('never_seen');
  const place = d.location.address ?? `${d.location.lat}, ${d.location.lon}`;
  const rows = [
    ['display_state', [el('span', { class: `state ${d.online ? 'on' : 'off'}` }, state), ' ', seen]],
    ['display_place', place],
    ['display_groups', (d.groups ?? []).join(', ') || '–'],
    ['display_tz', d.timezone],
    ['display_resolution', `${d.resolution.width} × ${d.resolution.height}`],
    ['display_version', d.player_version || '–'],
  ];
  facts.replaceChildren(...rows.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]));
}

function showNight(windows) {
  summary.textContent = nightSummary(windows) || t('night_none');
  editor.show(windows);
}

async function load() {
  try {
    const d = await getJson(url);
    showFacts(d);
    showNight(d.screen_off ?? []);
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

function clearMessages() {
  error.textContent = '';
  done.textContent = '';
  editor.clearInvalid();
}

async function save() {
  clearMessages();
  const read = editor.read();
  if (read.error) {
    read.field.setAttribute('aria-invalid', 'true');
    read.field.focus();
    error.textContent = read.error;
    return;
  }
  saveButton.disabled = true;
  try {
    // The display as it is now, not as the page loaded it: a change made
    // elsewhere since (a name, a group) stays; only the windows are ours.
    const current = await getJson(url);
    const saved = await send('PUT', url, { ...settingsOf(current), screen_off: read.windows });
    showNight(saved.screen_off ?? []);
    done.textContent = t('night_saved');
  } catch (e) {
    error.textContent = `${t('night_refused')} ${e.message}`;
    // "screen_off[1]: …" names the window as the server counts them.
    const named = /screen_off\[(\d+)\]/.exec(e.message);
    if (named) editor.markInvalid(Number(named[1]));
  } finally {
    saveButton.disabled = false;
  }
}

document.getElementById('night-readonly').hidden = mayEdit;
document.getElementById('night-buttons').hidden = !mayEdit;
addButton.addEventListener('click', () => { clearMessages(); editor.add(); });
form.addEventListener('submit', (event) => { event.preventDefault(); if (mayEdit) save(); });
load();
