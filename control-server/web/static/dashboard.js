// The dashboard: every display with its online state, last heartbeat, health,
// what it plays, its night mode and its latest screenshot; a fresh screenshot
// on request. Refreshed every 10 s; offline displays stand out. A display's
// name leads to its own page.
import { el, formatDate, t } from './common.js';
import { getJson, send } from './staff.js';
import { nightSummary } from './night-mode.js';

const body = document.getElementById('displays');
const groupSelect = document.getElementById('group');
const summary = document.getElementById('summary');
const status = document.getElementById('status');
let itemNames = new Map();
const shotVersion = new Map();

function health(h) {
  if (!h) return '–';
  const parts = [];
  if (h.cpu_temp_c !== undefined && h.cpu_temp_c !== null) parts.push(`${t('temperature')} ${h.cpu_temp_c.toFixed(0)} °C`);
  parts.push(`${h.fps.toFixed(0)} ${t('fps')}`);
  if (h.disk_total_bytes) parts.push(`${Math.round((100 * h.disk_free_bytes) / h.disk_total_bytes)} % ${t('disk_free')}`);
  return el('ul', { class: 'plain' }, parts.map((p) => el('li', {}, p)), (h.problems || []).map((p) => el('li', { class: 'problem' }, p)));
}

function playing(h) {
  const now = h?.now_playing ?? [];
  if (!now.length) return t('nothing');
  return el('ul', { class: 'plain' }, now.map((n) => el('li', {}, `${n.zone}: ${itemNames.get(n.item) ?? `#${n.item}`}`)));
}

function screenshotCell(d) {
  const version = shotVersion.get(d.id) ?? 0;
  const img = el('img', {
    src: `/api/displays/${d.id}/screenshot?v=${version}`,
    alt: `${t('screenshot_of')} ${d.name}`,
    width: 192, height: 108, loading: 'lazy',
  });
  const note = el('span', { class: 'note' });
  img.addEventListener('error', () => { img.hidden = true; note.textContent = t('no_screenshot'); }, { once: true });
  const button = el('button', {
    type: 'button', class: 'secondary',
    'aria-label': `${t('refresh_screenshot')}: ${d.name}`,
    disabled: !d.online,
    onclick: async () => {
      button.disabled = true;
      note.textContent = t('requested');
      try {
        await send('POST', `/api/displays/${d.id}/screenshot`);
        // The player answers within seconds; the next refresh shows it.
        setTimeout(() => { shotVersion.set(d.id, Date.now()); refresh(); }, 3000);
      } catch (e) {
        note.textContent = e.message;
        button.disabled = false;
      }
    },
  }, t('refresh_screenshot'));
  return el('td', { class: 'shot' }, img, note, button);
}

const SVG = 'http://www.w3.org/2000/svg';
const map = document.getElementById('map');

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/**
 * Every display on a plain map from its coordinates (no tiles: nothing is
 * fetched from elsewhere), north up, longitudes shrunk by the latitude so
 * distances look right; offline ones red and drawn last, on top.
 */
function drawMap(displays) {
  const W = 600;
  const H = 320;
  const pad = 40;
  const placed = displays.filter((d) => d.location);
  if (!placed.length) { map.replaceChildren(); return; }
  const lats = placed.map((d) => d.location.lat);
  const lons = placed.map((d) => d.location.lon);
  const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180);
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 0.002);
  const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 0.002);
  const scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2;
  const cy = (Math.min(...lats) + Math.max(...lats)) / 2;
  const order = [...placed].sort((a, b) => Number(b.online) - Number(a.online));
  map.replaceChildren(
    ...order.map((d) => {
      const x = W / 2 + (d.location.lon - cx) * k * scale;
      const y = H / 2 - (d.location.lat - cy) * scale;
      return svg('g', { class: d.online ? 'point on' : 'point off', 'data-display': d.id },
        svg('circle', { cx: x, cy: y, r: 7 }),
        svg('text', { x: x + 10, y: y + 4 }, d.name),
        svg('title', {}, `${d.name}: ${d.online ? t('online') : t('offline')}`));
    }));
}

function row(d) {
  const state = d.online ? t('online') : t('offline');
  return el('tr', { class: d.online ? 'online' : 'offline', 'data-display': d.id },
    el('th', { scope: 'row' }, el('a', { class: 'name', href: `/konsole/bildschirme/${d.id}` }, d.name),
      el('span', { class: 'where' }, [d.location?.address, (d.groups || []).join(', ')].filter(Boolean).join(' · ')),
      d.screen_off?.length ? el('span', { class: 'where night' }, nightSummary(d.screen_off)) : null),
    el('td', {}, el('span', { class: `state ${d.online ? 'on' : 'off'}` }, state),
      el('span', { class: 'where' }, d.last_seen ? `${t('last_seen')} ${formatDate(d.last_seen)}` : t('never_seen'))),
    el('td', {}, health(d.health)),
    el('td', {}, playing(d.health)),
    screenshotCell(d));
}

async function refresh() {
  try {
    const [displays, groups, items] = await Promise.all([
      getJson('/api/displays'), getJson('/api/groups'), getJson('/api/items'),
    ]);
    itemNames = new Map(items.map((i) => [i.id, i.name]));
    const chosen = groupSelect.value;
    const names = groups.map((g) => g.name);
    if ([...groupSelect.options].slice(1).map((o) => o.value).join('\n') !== names.join('\n')) {
      groupSelect.replaceChildren(groupSelect.options[0], ...names.map((n) => el('option', { value: n }, n)));
      groupSelect.value = names.includes(chosen) ? chosen : '';
    }
    const shown = displays.filter((d) => !groupSelect.value || (d.groups || []).includes(groupSelect.value));
    // Offline first: what needs a technician is at the top.
    shown.sort((a, b) => Number(a.online) - Number(b.online) || a.name.localeCompare(b.name));
    body.replaceChildren(...shown.map(row));
    drawMap(shown);
    summary.textContent = t('summary').replace('{online}', shown.filter((d) => d.online).length).replace('{total}', shown.length);
    status.textContent = '';
  } catch (e) {
    status.textContent = `${t('load_failed')} (${e.message})`;
  }
}

groupSelect.addEventListener('change', refresh);
refresh();
setInterval(refresh, 10000);
