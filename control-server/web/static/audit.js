// The audit log (admin), newest first, 100 at a time.
import { el, formatDate, t } from './common.js';
import { getJson } from './staff.js';

const body = document.getElementById('entries');
const status = document.getElementById('status');
const more = document.getElementById('more');
let oldest = null;

async function load() {
  more.disabled = true;
  try {
    const entries = await getJson(`/api/audit?limit=100${oldest ? `&before_id=${oldest}` : ''}`);
    body.append(...entries.map((e) => el('tr', {},
      el('td', {}, formatDate(e.at)),
      el('td', {}, e.actor),
      el('td', {}, e.action),
      el('td', {}, e.target),
      el('td', {}, el('code', {}, JSON.stringify(e.detail))))));
    if (entries.length) oldest = entries[entries.length - 1].id;
    more.disabled = entries.length < 100;
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

more.addEventListener('click', load);
load();
