// The alert console: compose an alert (or start from an incoming official
// one), choose its area by district or by a rectangle on a map of the
// displays, have a second publisher approve it (or send it at once in an
// emergency, with a reason), cancel it, and watch the displays' receipts come
// in. Polls every 2.5 s; items whose data did not change keep their DOM nodes,
// so focus and screen-reader position survive the refresh.
import { el, formatDate, lang, t } from './common.js';
import { getJson, role, send } from './staff.js';

const POLL_MS = 2500;
/** Older alerts are listed without polling their receipts again. */
const SHOWN_ALERTS = 50;
const SVG = 'http://www.w3.org/2000/svg';

const me = document.getElementById('alerts-page')?.dataset.user ?? '';
const mayPublish = role === 'publisher' || role === 'admin';
// Editors propose alerts; a publisher approves (or, in an emergency, sends at once).
const mayPropose = mayPublish || role === 'editor';
const status = document.getElementById('status');
const done = document.getElementById('done');
const form = document.getElementById('compose');
const list = document.getElementById('alerts');
const empty = document.getElementById('empty');
const districtList = document.getElementById('districts');
const noDistricts = document.getElementById('no-districts');
const map = document.getElementById('map');
const reach = document.getElementById('reach');
const boxInputs = ['north', 'south', 'west', 'east'].map((k) => document.getElementById(`box-${k}`));
const boxClear = document.getElementById('box-clear');
const carriedNote = document.getElementById('carried');
const carriedClear = document.getElementById('carried-clear');
const takenOver = document.getElementById('taken-over');
const bypass = document.getElementById('bypass');
const reasonBox = document.getElementById('reason-box');
const submit = document.getElementById('submit');

let displays = [];
/** The rectangle chosen on the map: { north, south, west, east } or null. */
let box = null;
/** Area parts of a taken-over alert the form has no control for (polygons, circles). */
let carried = { polygons: [], circles: [] };
/** Regional keys of a taken-over alert that no display stands in (offered all the same). */
let extraKeys = [];
/** alert id → JSON of what its list item shows, to rebuild only what changed. */
const drawn = new Map();
/** alert id → its last detail (receipts); ended alerts are not fetched again. */
const details = new Map();
const busy = new Set();

/** Receipts arrive seconds apart: the time with seconds says more than the weekday. */
const receiptFormat = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'de-DE', {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'Europe/Berlin',
});

/** The text for `key` with `{n}` filled, in its singular form (`key_one`) where one is given. */
function count(key, n) {
  const one = t(`${key}_one`);
  return (n === 1 && one !== `${key}_one` ? one : t(key)).replaceAll('{n}', n);
}

function showError(message) {
  done.textContent = '';
  status.textContent = message;
}

function showDone(message) {
  status.textContent = '';
  done.textContent = message;
}

// --- Regional keys (ARS), as `content::model::Ars` reads them. ----------------

/** Where the key's groups end: Land, Regierungsbezirk, Kreis, Gemeindeverband, Gemeinde. */
const GROUP_ENDS = [0, 2, 3, 5, 9, 12];

function arsWithin(ars, key) {
  const end = GROUP_ENDS.find((e) => /^0*$/.test(key.slice(e))) ?? 12;
  return ars.startsWith(key.slice(0, end));
}

const districtOf = (ars) => `${ars.slice(0, 5)}0000000`;

function pointInRing(lat, lon, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [yi, xi] = ring[i];
    const [yj, xj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return ring.length >= 3 && inside;
}

function haversineKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(a));
}

function covers(area, loc) {
  return (area.ars || []).some((k) => arsWithin(loc.ars, k))
    || (area.polygons || []).some((ring) => pointInRing(loc.lat, loc.lon, ring))
    || (area.circles || []).some((c) => haversineKm(c.lat, c.lon, loc.lat, loc.lon) <= c.radius_km);
}

// --- The area chosen in the form. ---------------------------------------------

function chosenKeys() {
  return [...districtList.querySelectorAll('input:checked')].map((i) => i.value);
}

function boxRing(b) {
  return [[b.south, b.west], [b.north, b.west], [b.north, b.east], [b.south, b.east]];
}

function chosenArea() {
  return {
    ars: chosenKeys(),
    polygons: [...(box ? [boxRing(box)] : []), ...carried.polygons],
    circles: carried.circles,
  };
}

/** "051620000000" → "Kreis 05162", a key with the names of displays inside it. */
function keyLabel(key, inside) {
  const level = /^0{7}$/.test(key.slice(5)) ? t('alerts_district') : t('alerts_municipality');
  const names = inside.map((d) => d.name).join(', ');
  return `${level} ${key} (${count('alerts_displays_count', inside.length)}${names ? `: ${names}` : ''})`;
}

/** The districts and municipalities the displays stand in, as checkboxes (kept when unchanged). */
function renderDistricts() {
  const keys = new Set(extraKeys);
  for (const d of displays) {
    keys.add(districtOf(d.location.ars));
    keys.add(d.location.ars);
  }
  const sorted = [...keys].sort();
  const current = [...districtList.querySelectorAll('input')].map((i) => i.value);
  if (current.join() === sorted.join()) return;
  const checked = new Set(chosenKeys());
  districtList.replaceChildren(...sorted.map((key, n) => {
    const inside = displays.filter((d) => arsWithin(d.location.ars, key));
    const id = `ars-${n}`;
    const input = el('input', { type: 'checkbox', id, value: key, onchange: areaChanged });
    // The property, not the attribute: a form reset should clear it.
    input.checked = checked.has(key);
    return el('li', {}, input, el('label', { for: id }, keyLabel(key, inside)));
  }));
  noDistricts.hidden = sorted.length > 0;
}

function areaChanged() {
  const area = chosenArea();
  const reached = displays.filter((d) => covers(area, d.location));
  const nothing = !area.ars.length && !area.polygons.length && !area.circles.length;
  const said = nothing
    ? t('alerts_reach_none')
    : count('alerts_reach', displays.length).replace('{reached}', reached.length);
  // Unchanged text is not set again: the region is live and the page polls.
  if (reach.textContent !== said) reach.textContent = said;
  boxClear.disabled = !box;
  for (const [i, k] of ['north', 'south', 'west', 'east'].entries()) {
    const want = box ? box[k].toFixed(4) : '';
    if (document.activeElement !== boxInputs[i] && boxInputs[i].value !== want) boxInputs[i].value = want;
  }
  const extra = carried.polygons.length + carried.circles.length;
  carriedNote.hidden = extra === 0;
  carriedClear.hidden = extra === 0;
  carriedNote.textContent = t('alerts_carried').replace('{n}', extra);
  drawMap(reached);
}

// --- The map: the displays' positions, equirectangular, no tiles. -------------

const W = 400;
const H = 260;
let frame = null;
/** Where a drag on the map began (SVG units), while it lasts. */
let dragging = null;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** Bounds around the displays (and the rectangle), padded, at the map's aspect ratio. */
function computeFrame() {
  const lats = displays.map((d) => d.location.lat);
  const lons = displays.map((d) => d.location.lon);
  if (box) { lats.push(box.north, box.south); lons.push(box.west, box.east); }
  if (!lats.length) return null;
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  // A degree of longitude is shorter than one of latitude away from the equator.
  const kx = Math.cos((midLat * Math.PI) / 180);
  let spanLat = Math.max(Math.max(...lats) - Math.min(...lats), 0.01) * 1.4;
  let spanLon = Math.max(Math.max(...lons) - Math.min(...lons), 0.01) * 1.4;
  if ((spanLon * kx) / spanLat > W / H) spanLat = (spanLon * kx * H) / W;
  else spanLon = (spanLat * W) / (H * kx);
  const midLon = (Math.min(...lons) + Math.max(...lons)) / 2;
  return { north: midLat + spanLat / 2, west: midLon - spanLon / 2, spanLat, spanLon };
}

const toX = (lon) => ((lon - frame.west) / frame.spanLon) * W;
const toY = (lat) => ((frame.north - lat) / frame.spanLat) * H;
const toLon = (x) => frame.west + (x / W) * frame.spanLon;
const toLat = (y) => frame.north - (y / H) * frame.spanLat;

function drawMap(reached) {
  if (!dragging) frame = computeFrame();
  const title = map.querySelector('title');
  const parts = [svg('rect', { class: 'sea', x: 0, y: 0, width: W, height: H })];
  if (frame) {
    if (box) {
      const x = toX(box.west);
      const y = toY(box.north);
      parts.push(svg('rect', {
        class: 'chosen', x, y, width: Math.max(1, toX(box.east) - x), height: Math.max(1, toY(box.south) - y),
      }));
    }
    const hit = new Set(reached.map((d) => d.id));
    for (const d of displays) {
      const x = toX(d.location.lon);
      const y = toY(d.location.lat);
      parts.push(svg('g', { class: hit.has(d.id) ? 'point reached' : 'point' },
        svg('circle', { cx: x, cy: y, r: 6 }),
        svg('text', { x: x + 9, y: y + 4 }, d.name),
        svg('title', {}, d.name)));
    }
  }
  map.replaceChildren(title, ...parts);
}

function svgPoint(event) {
  const m = map.getScreenCTM();
  if (!m) return null;
  const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(m.inverse());
  return { x: Math.min(W, Math.max(0, p.x)), y: Math.min(H, Math.max(0, p.y)) };
}

map.addEventListener('pointerdown', (event) => {
  if (!frame || event.button !== 0) return;
  const p = svgPoint(event);
  if (!p) return;
  dragging = p;
  map.setPointerCapture(event.pointerId);
  event.preventDefault();
});
map.addEventListener('pointermove', (event) => {
  if (!dragging) return;
  const p = svgPoint(event);
  if (!p) return;
  box = {
    north: toLat(Math.min(dragging.y, p.y)), south: toLat(Math.max(dragging.y, p.y)),
    west: toLon(Math.min(dragging.x, p.x)), east: toLon(Math.max(dragging.x, p.x)),
  };
  areaChanged();
});
map.addEventListener('pointerup', () => {
  dragging = null;
  // A click without a drag leaves no rectangle worth sending.
  if (box && (box.north - box.south < 1e-5 || box.east - box.west < 1e-5)) box = null;
  areaChanged();
});

for (const input of boxInputs) {
  input.addEventListener('change', () => {
    const [north, south, west, east] = boxInputs.map((i) => Number.parseFloat(i.value));
    if ([north, south, west, east].every(Number.isFinite) && north > south && east > west) {
      box = { north, south, west, east };
    } else if (boxInputs.every((i) => i.value === '')) {
      box = null;
    }
    areaChanged();
  });
}
boxClear.addEventListener('click', () => { box = null; areaChanged(); });
carriedClear.addEventListener('click', () => {
  carried = { polygons: [], circles: [] };
  areaChanged();
  document.getElementById('area-description').focus();
});

// --- Composing. -----------------------------------------------------------------

bypass.addEventListener('change', () => {
  reasonBox.hidden = !bypass.checked;
  submit.textContent = bypass.checked ? t('alerts_send_now') : t('alerts_submit');
  submit.classList.toggle('danger', bypass.checked);
});

form.addEventListener('reset', () => {
  box = null;
  carried = { polygons: [], circles: [] };
  extraKeys = [];
  takenOver.hidden = true;
  reasonBox.hidden = true;
  submit.textContent = t('alerts_submit');
  submit.classList.remove('danger');
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  // The form's own reset runs after this event; the area is read from it afterwards.
  setTimeout(areaChanged);
});

function invalid(field, message) {
  field.setAttribute('aria-invalid', 'true');
  field.focus();
  showError(message);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  const headline = form.headline.value.trim();
  const area = chosenArea();
  const reason = form.bypass_reason.value.trim();
  if (!headline) return invalid(form.headline, t('alerts_need_headline'));
  if (!area.ars.length && !area.polygons.length && !area.circles.length) {
    const first = districtList.querySelector('input') ?? boxInputs[0];
    return invalid(first, t('alerts_need_area'));
  }
  let expires;
  if (form.expires.value) {
    const at = new Date(form.expires.value);
    if (Number.isNaN(at.getTime()) || at <= new Date()) return invalid(form.expires, t('alerts_need_future'));
    expires = at.toISOString();
  }
  if (bypass.checked && !reason) return invalid(form.bypass_reason, t('alerts_need_reason'));
  const described = form.area_description.value.trim()
    || [...area.ars.map((k) => keyLabel(k, []).replace(/ \(.*$/, '')), ...(box ? [t('alerts_box_on_map')] : [])].join(', ')
    || t('alerts_area_taken_over');
  const alert = {
    status: form.kind.value,
    severity: form.severity.value,
    urgency: 'immediate',
    headline,
    description: form.description.value.trim(),
    instruction: form.instruction.value.trim(),
    area_description: described,
    area,
    ...(expires ? { expires } : {}),
  };
  submit.disabled = true;
  try {
    const record = await send('POST', '/api/alerts', {
      alert, bypass_approval: bypass.checked, ...(bypass.checked ? { bypass_reason: reason } : {}),
    });
    form.reset();
    showDone((record.state === 'active' ? t('alerts_sent') : t('alerts_proposed')).replace('{headline}', record.alert.headline));
    await refreshNow();
  } catch (e) {
    showError(`${t('alerts_create_failed')}: ${e.message}`);
  } finally {
    submit.disabled = !mayPropose;
  }
});

/** Starts a new staff alert from an official one (a new alert, approved as usual). */
function takeOver(record) {
  const a = record.alert;
  form.reset();
  // After the reset's deferred clean-up, which would otherwise undo this.
  setTimeout(() => {
    form.headline.value = a.headline;
    form.instruction.value = a.instruction;
    form.description.value = a.description;
    form.severity.value = ['extreme', 'severe', 'moderate', 'minor'].includes(a.severity) ? a.severity : 'severe';
    form.kind.value = a.status;
    form.area_description.value = a.area_description;
    if (a.expires && new Date(a.expires) > new Date()) {
      const local = new Date(new Date(a.expires).getTime() - new Date(a.expires).getTimezoneOffset() * 60000);
      form.expires.value = local.toISOString().slice(0, 16);
    }
    carried = { polygons: a.area.polygons || [], circles: a.area.circles || [] };
    extraKeys = a.area.ars || [];
    renderDistricts();
    for (const input of districtList.querySelectorAll('input')) input.checked = (a.area.ars || []).includes(input.value);
    takenOver.textContent = t('alerts_taken_over').replace('{source}', sourceLabel(record.source)).replace('{id}', a.id);
    takenOver.hidden = false;
    areaChanged();
    form.headline.focus();
  });
}

// --- The list. ------------------------------------------------------------------

function sourceLabel(source) {
  if (source === 'staff') return t('alerts_source_staff');
  const [kind, rest] = source.split(/:(.*)/s);
  const name = kind === 'cap' ? 'CAP' : kind === 'nina' ? 'NINA' : kind;
  return rest ? `${name} (${rest})` : name;
}

const ORDER = { active: 0, pending: 1, cancelled: 2, expired: 2 };

function areaText(area, description) {
  const parts = [description];
  // A description made of the keys themselves says it already.
  if (area.ars?.length && !area.ars.every((k) => description.includes(k))) parts.push(`${t('alerts_keys')}: ${area.ars.join(', ')}`);
  if (area.polygons?.length) parts.push(t('alerts_polygons').replace('{n}', area.polygons.length));
  if (area.circles?.length) parts.push(t('alerts_circles').replace('{n}', area.circles.length));
  return parts.filter(Boolean).join(' · ');
}

function fact(term, ...value) {
  return [el('dt', {}, term), el('dd', {}, ...value)];
}

function receiptsPart(record, detail) {
  if (record.alert.status === 'test') return el('p', { class: 'note' }, t('alerts_test_not_sent'));
  if (!detail) return el('p', { class: 'note' }, t('alerts_loading'));
  const r = detail.receipts;
  if (!r.length) return el('p', { class: 'note' }, t('alerts_no_targets'));
  const received = r.filter((x) => x.received_at).length;
  const shown = r.filter((x) => x.shown_at).length;
  const summary = record.state === 'pending'
    ? count('alerts_will_reach', r.length)
    : count('alerts_receipt_summary', r.length).replace('{received}', received).replace('{shown}', shown);
  const cell = (at) => (at ? receiptFormat.format(new Date(at)) : '–');
  return el('div', { class: 'receipts' },
    el('p', { class: 'receipt-summary' }, summary),
    el('table', {},
      el('caption', { class: 'visually-hidden' }, `${t('alerts_receipts_of')} ${record.alert.headline}`),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, t('alerts_col_display')),
        el('th', { scope: 'col' }, t('alerts_col_state')),
        el('th', { scope: 'col' }, t('alerts_col_received')),
        el('th', { scope: 'col' }, t('alerts_col_shown')))),
      el('tbody', {}, r.map((x) => {
        const state = x.shown_at ? 'shown' : x.received_at ? 'received' : 'open';
        return el('tr', { 'data-receipt': x.display_id, 'data-state': state, class: `receipt ${state}` },
          el('th', { scope: 'row' }, displayName(x)),
          el('td', {}, el('span', { class: `rstate ${state}` }, t(`alerts_receipt_${state}`))),
          el('td', {}, cell(x.received_at)),
          el('td', {}, cell(x.shown_at)));
      }))));
}

function displayName(receipt) {
  return displays.find((d) => d.id === receipt.display_id)?.name ?? receipt.display_name;
}

async function act(record, verb, button) {
  const id = record.alert.id;
  if (busy.has(id)) return;
  busy.add(id);
  button.disabled = true;
  try {
    await send('POST', `/api/alerts/${encodeURIComponent(id)}/${verb}`);
    showDone(t(`alerts_${verb}_done`).replace('{headline}', record.alert.headline));
  } catch (e) {
    showError(`${t(`alerts_${verb}_failed`)}: ${e.message}`);
  } finally {
    busy.delete(id);
    drawn.delete(id);
    await refreshNow();
  }
}

function actions(record) {
  const a = record.alert;
  const open = record.state === 'pending' || record.state === 'active';
  const out = [];
  if (record.state === 'pending') {
    if (record.created_by === me) {
      out.push(el('p', { class: 'note own' }, t('alerts_own')));
    } else if (mayPublish) {
      const b = el('button', { type: 'button', 'data-action': 'approve', 'aria-label': `${t('alerts_approve')}: ${a.headline}` }, t('alerts_approve'));
      b.addEventListener('click', () => act(record, 'approve', b));
      out.push(b);
    }
  }
  if (open && mayPublish) {
    const b = el('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', 'aria-label': `${t('alerts_cancel')}: ${a.headline}` }, t('alerts_cancel'));
    b.addEventListener('click', () => act(record, 'cancel', b));
    out.push(b);
  }
  if (record.source !== 'staff' && mayPublish) {
    const b = el('button', { type: 'button', class: 'secondary', 'data-action': 'take-over', 'aria-label': `${t('alerts_take_over')}: ${a.headline}` }, t('alerts_take_over'));
    b.addEventListener('click', () => takeOver(record));
    out.push(b);
  }
  return out.length ? el('div', { class: 'buttons' }, out) : null;
}

function item(record, detail) {
  const a = record.alert;
  const approval = record.bypass
    ? t('alerts_bypassed')
    : record.approved_by ?? (record.source === 'staff' ? '–' : t('alerts_official'));
  return el('li', { class: `alert ${record.state} sev-${a.severity}`, 'data-alert': a.id, 'data-state': record.state },
    el('h3', {},
      el('span', { class: `badge-state ${record.state}` }, t(`alerts_state_${record.state}`)),
      ' ',
      el('span', { class: `badge-sev ${a.severity}` }, t(`alerts_sev_${a.severity}`)),
      a.status === 'actual' ? null : [' ', el('span', { class: 'badge-kind' }, t(`alerts_kind_${a.status}`))],
      ' ',
      el('span', { class: 'headline' }, a.headline)),
    a.instruction ? el('p', { class: 'instruction' }, a.instruction) : null,
    el('dl', { class: 'facts' },
      fact(t('alerts_source'), sourceLabel(record.source)),
      fact(t('alerts_author'), record.created_by),
      fact(t('alerts_approver'), approval),
      fact(t('alerts_sent_at'), formatDate(record.activated_at ?? a.sent)),
      a.expires ? fact(t('alerts_expires_at'), formatDate(a.expires)) : null,
      record.cancelled_at ? fact(t('alerts_cancelled_at'), formatDate(record.cancelled_at)) : null,
      fact(t('alerts_area'), areaText(a.area, a.area_description))),
    receiptsPart(record, detail),
    actions(record));
}

/** Replaces only the items whose content changed, keeping focus where it was. */
function renderList(records) {
  const active = document.activeElement;
  const focusAlert = active?.closest?.('li.alert')?.dataset.alert;
  const focusAction = active?.dataset?.action;
  const old = new Map([...list.children].map((li) => [li.dataset.alert, li]));
  const items = records.map((r) => {
    const detail = details.get(r.alert.id);
    const key = JSON.stringify([r, detail?.receipts, me, displays.map((d) => [d.id, d.name])]);
    const li = old.get(r.alert.id);
    if (li && drawn.get(r.alert.id) === key) return li;
    drawn.set(r.alert.id, key);
    return item(r, detail);
  });
  const same = items.length === list.children.length && items.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...items);
  empty.hidden = records.length > 0;
  if (focusAlert && !list.contains(active)) {
    const li = list.querySelector(`li[data-alert="${CSS.escape(focusAlert)}"]`);
    const target = (focusAction && li?.querySelector(`[data-action="${focusAction}"]`)) || li?.querySelector('button');
    target?.focus();
  }
}

let refreshing = null;

async function load() {
  const [records, shownDisplays] = await Promise.all([getJson('/api/alerts'), getJson('/api/displays')]);
  displays = shownDisplays;
  renderDistricts();
  areaChanged();
  records.sort((x, y) => (ORDER[x.state] ?? 3) - (ORDER[y.state] ?? 3) || y.created_at.localeCompare(x.created_at));
  const recent = records.slice(0, SHOWN_ALERTS);
  // Receipts change only while an alert is open; ended ones are read once.
  const stale = recent.filter((r) => r.state === 'pending' || r.state === 'active' || !details.has(r.alert.id)
    || details.get(r.alert.id).state !== r.state);
  const fresh = await Promise.all(stale.map((r) => getJson(`/api/alerts/${encodeURIComponent(r.alert.id)}`)));
  for (const d of fresh) details.set(d.alert.id, d);
  renderList(recent);
  if (status.dataset.from === 'load') { status.textContent = ''; delete status.dataset.from; }
}

/** The poll: skipped while a load is under way. */
function refresh() {
  refreshing ??= load()
    .catch((e) => {
      status.textContent = `${t('alerts_load_failed')} (${e.message})`;
      status.dataset.from = 'load';
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

/** After a change: a load that starts after it, not one already under way. */
async function refreshNow() {
  while (refreshing) await refreshing;
  return refresh();
}

if (!mayPublish) {
  document.getElementById('compose-readonly').hidden = false;
  for (const f of form.elements) f.disabled = !mayPropose;
  for (const id of ['bypass', 'bypass-reason']) document.getElementById(id).disabled = true;
}
submit.disabled = !mayPropose;
refresh();
setInterval(refresh, POLL_MS);
