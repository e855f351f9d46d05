// The preview: the player's own rendering of a display at a chosen local time
// (Europe/Berlin, as staff think of it), fetched as an image; errors in words.
import { el, formatDate, t } from './common.js';
import { getJson } from './staff.js';

const form = document.getElementById('preview-form');
const select = document.getElementById('display');
const status = document.getElementById('status');
const busy = document.getElementById('busy');
const figure = document.getElementById('figure');
const img = document.getElementById('preview');
const caption = document.getElementById('caption');
let lastUrl = null;

/** The browser's local date and time as the inputs want them. */
function nowParts() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return [`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, `${pad(d.getHours())}:${pad(d.getMinutes())}`];
}

async function show() {
  status.textContent = '';
  const at = new Date(`${form.date.value}T${form.time.value}`);
  if (Number.isNaN(at.getTime())) return;
  busy.textContent = t('preview_rendering');
  try {
    const response = await fetch(`/api/displays/${select.value}/preview.png?at=${encodeURIComponent(at.toISOString())}`);
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).message ?? message; } catch { /* not JSON */ }
      throw new Error(message);
    }
    const blob = await response.blob();
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(blob);
    const name = select.options[select.selectedIndex].textContent;
    img.src = lastUrl;
    img.alt = `${t('preview_of')} ${name} ${t('preview_at')} ${formatDate(at.toISOString())}`;
    caption.textContent = img.alt;
    figure.hidden = false;
  } catch (e) {
    status.textContent = e.message;
  } finally {
    busy.textContent = '';
  }
}

async function init() {
  const [date, time] = nowParts();
  form.date.value = date;
  form.time.value = time;
  try {
    const displays = await getJson('/api/displays');
    if (!displays.length) { status.textContent = t('preview_none'); return; }
    select.replaceChildren(...displays.map((d) => el('option', { value: d.id }, d.name)));
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

form.addEventListener('submit', (event) => { event.preventDefault(); show(); });
init();
