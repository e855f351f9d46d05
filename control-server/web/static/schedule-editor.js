// The schedule editor: a week (or day) timeline of the schedules that apply to
// one display or group, drawn from each schedule's rule exactly as the server's
// engine reads it (`content::schedule::Rule`: dates, recurrence, exceptions,
// dayparts in the display's wall-clock time). Blocks move and resize with the
// mouse and with the keyboard; a change is a PUT of the whole schedule. Where
// schedules overlap in one zone and layer the page names the winner, and for a
// display it asks the server's resolver (`/api/displays/{id}/playlist?at=`)
// which one really plays, so what the page says is what the screen does.
import { el, lang, t } from './common.js';
import { getJson, role, send } from './staff.js';

const STEP = 15;
const DAY_MIN = 24 * 60;
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const mayEdit = ['editor', 'publisher', 'admin'].includes(role);
const locale = lang === 'en' ? 'en-GB' : 'de-DE';

const status = document.getElementById('status');
const done = document.getElementById('done');
const live = document.getElementById('live');
const subject = document.getElementById('subject');
const dayInput = document.getElementById('day');
const timeline = document.getElementById('timeline');
const caption = document.getElementById('timeline-caption');
const conflictList = document.getElementById('conflicts');
const noConflicts = document.getElementById('no-conflicts');
const form = document.getElementById('schedule-form');
const formHeading = document.getElementById('form-heading');
const nameInput = document.getElementById('name');
const itemList = document.getElementById('items');
const targetSelect = document.getElementById('target');
const deleteButton = document.getElementById('delete');
const confirmDialog = document.getElementById('confirm-delete');
const previewFigure = document.getElementById('preview-figure');
const previewImg = document.getElementById('preview');
const previewCaption = document.getElementById('preview-caption');

let displays = [];
let groups = [];
let layouts = [];
let items = [];
let schedules = [];
/** Schedule id → the schedule with its moved or resized rule, until saved. */
const drafts = new Map();
/** The schedule in the form; null for a new one. */
let editing = null;
/** Bumped on every redraw, so an older playlist check does not overwrite a newer one. */
let generation = 0;
let previewUrl = null;

function showError(message) {
  done.textContent = '';
  status.textContent = message;
}

function showDone(message) {
  status.textContent = '';
  done.textContent = message;
}

const fill = (text, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), text);

// --- Dates as 'YYYY-MM-DD' strings, times as minutes since midnight. ------------
// Calendar arithmetic runs in UTC so the browser's own zone never shifts a day.

const dayNumber = (day) => Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)) / 86400000;
const fromDayNumber = (n) => new Date(n * 86400000).toISOString().slice(0, 10);
const addDays = (day, n) => fromDayNumber(dayNumber(day) + n);
/** 0 = Monday, as chrono's `num_days_from_monday`. */
const weekdayIndex = (day) => (new Date(dayNumber(day) * 86400000).getUTCDay() + 6) % 7;
const mondayOf = (day) => addDays(day, -weekdayIndex(day));
const mod = (a, n) => ((a % n) + n) % n;

function minutesOf(time) {
  const [h, m] = time.split(':').map(Number);
  return h * 60 + m;
}

function clock(minutes) {
  const m = mod(minutes, DAY_MIN);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** An end of 24:00 reads better than 00:00 for a window that ends at midnight. */
const endClock = (minutes) => (minutes === DAY_MIN ? '24:00' : clock(minutes));

const dayFormat = new Intl.DateTimeFormat(locale, { weekday: 'short', day: '2-digit', month: '2-digit', timeZone: 'UTC' });
const longDayFormat = new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const weekdayFormat = new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' });
const dayLabel = (day) => dayFormat.format(new Date(dayNumber(day) * 86400000));
const longDayLabel = (day) => longDayFormat.format(new Date(dayNumber(day) * 86400000));
/** 'Mon' → "Mo" in the page's language (2024-01-01 was a Monday). */
const weekdayName = (wd) => weekdayFormat.format(new Date(dayNumber(addDays('2024-01-01', WEEKDAYS.indexOf(wd))) * 86400000));

/** The date in a time zone today. */
function todayIn(tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** Minutes the zone is ahead of UTC at an instant. */
function zoneOffset(utcMs, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return (asUtc - utcMs) / 60000;
}

/** A wall-clock moment in `tz` as an instant (the later reading across a clock change). */
function instantOf(day, minutes, tz) {
  const guess = dayNumber(day) * 86400000 + minutes * 60000;
  const first = guess - zoneOffset(guess, tz) * 60000;
  return new Date(guess - zoneOffset(first, tz) * 60000);
}

// --- The rule, read as `content::schedule::Rule` reads it. ----------------------

function lastDayOfMonth(day) {
  const d = new Date(dayNumber(day) * 86400000);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

function selectsDay(rule, day) {
  if ((rule.from && day < rule.from) || (rule.until && day > rule.until)) return false;
  if ((rule.except ?? []).includes(day)) return false;
  const r = rule.recurrence ?? { every: 'day' };
  const n = dayNumber(day);
  const dom = +day.slice(8, 10);
  switch (r.every) {
    case 'day': return true;
    case 'days': {
      const anchor = rule.from ? dayNumber(rule.from) : n;
      return mod(n - anchor, Math.max(1, r.interval)) === 0;
    }
    case 'week': {
      if (!r.days.includes(WEEKDAYS[weekdayIndex(day)])) return false;
      const anchor = rule.from ?? day;
      const weeks = (dayNumber(mondayOf(day)) - dayNumber(mondayOf(anchor))) / 7;
      return mod(weeks, Math.max(1, r.interval ?? 1)) === 0;
    }
    case 'month_days':
      return r.days.some((d) => (d === -1 ? dom === lastDayOfMonth(day) : d === dom));
    case 'month_weekday':
      if (WEEKDAYS[weekdayIndex(day)] !== r.weekday) return false;
      return r.nth === -1 ? dom + 7 > lastDayOfMonth(day) : Math.floor((dom - 1) / 7) + 1 === r.nth;
    default: return false;
  }
}

/** The rule's windows as minutes; no windows is the whole day. */
function windowsOf(rule) {
  if (!rule.windows?.length) return [{ index: -1, start: 0, end: DAY_MIN }];
  return rule.windows.map((w, index) => ({ index, start: minutesOf(w.start), end: minutesOf(w.end) }));
}

/**
 * The pieces of each window on `day`: a window runs on the days the rule
 * selects, and one that wraps past midnight spills into the next day.
 */
function segmentsOn(rule, day) {
  const out = [];
  const today = selectsDay(rule, day);
  const yesterday = selectsDay(rule, addDays(day, -1));
  for (const w of windowsOf(rule)) {
    const wraps = w.index >= 0 && w.end <= w.start;
    if (today) out.push({ window: w, start: w.start, end: wraps ? DAY_MIN : w.end, from: day });
    if (wraps && yesterday && w.end > 0) out.push({ window: w, start: 0, end: w.end, from: addDays(day, -1) });
  }
  return out;
}

// --- What the page shows: which schedules, in which zone. -----------------------

function chosen() {
  const [kind, ...rest] = subject.value.split(':');
  const value = rest.join(':');
  if (kind === 'd') {
    const display = displays.find((d) => String(d.id) === value);
    return display ? { kind, display, members: [display], tz: display.timezone } : null;
  }
  if (kind === 'g') {
    const members = displays.filter((d) => d.groups.includes(value));
    return { kind, group: value, members, tz: members[0]?.timezone ?? 'Europe/Berlin' };
  }
  return null;
}

function targetMatches(target, view) {
  switch (target.kind) {
    case 'all': return true;
    case 'display': return view.kind === 'd' && target.value === view.display.id;
    case 'group': return view.kind === 'g' ? target.value === view.group : view.display.groups.includes(target.value);
    case 'tag': return view.kind === 'd' && view.display.tags.includes(target.value);
    default: return false;
  }
}

/** The zone a schedule lands in on the display's layout: its own, or main where the layout lacks it. */
function zoneOf(schedule, view) {
  if (view.kind !== 'd') return schedule.zone;
  const layout = layouts.find((l) => l.id === view.display.layout_id);
  const zones = layout ? layout.zones.map((z) => z.name) : ['main'];
  return zones.includes(schedule.zone) ? schedule.zone : 'main';
}

const current = (s) => drafts.get(s.id) ?? s;
const itemName = (id) => items.find((i) => i.id === id)?.name ?? `#${id}`;
const layerRank = { default: 0, normal: 1, emergency: 2 };

function visibleDays() {
  const day = dayInput.value || todayIn(chosen()?.tz ?? 'Europe/Berlin');
  if (document.getElementById('mode-day').checked) return [day];
  const monday = mondayOf(day);
  return [0, 1, 2, 3, 4, 5, 6].map((n) => addDays(monday, n));
}

/** Every block of every applying schedule on each visible day. */
function blocksFor(view, days) {
  const applying = schedules.map(current).filter((s) => s.targets.some((target) => targetMatches(target, view)));
  return days.flatMap((day) => applying.flatMap((s) => segmentsOn(s.rule, day).map((seg) => ({
    schedule: s,
    day,
    zone: zoneOf(s, view),
    key: `${s.id}:${seg.window.index}:${seg.from}:${day}`,
    ...seg,
  }))));
}

/**
 * Overlaps between schedules that compete: the same zone (every zone for
 * emergencies) and the same layer; shares of voice mix in and compete with nobody.
 */
function conflictsOf(blocks) {
  const pairs = new Map();
  const competing = blocks.filter((b) => b.schedule.share_of_voice == null);
  for (const [i, a] of competing.entries()) {
    for (const b of competing.slice(i + 1)) {
      if (a.day !== b.day || a.schedule.id === b.schedule.id) continue;
      if (a.schedule.layer !== b.schedule.layer) continue;
      if (a.schedule.layer !== 'emergency' && a.zone !== b.zone) continue;
      const start = Math.max(a.start, b.start);
      const end = Math.min(a.end, b.end);
      if (end <= start) continue;
      const [x, y] = a.schedule.id < b.schedule.id ? [a, b] : [b, a];
      const id = `${x.schedule.id}-${y.schedule.id}`;
      const c = pairs.get(id) ?? { id, a: x.schedule, b: y.schedule, zone: a.zone, overlaps: [] };
      c.overlaps.push({ day: a.day, start, end });
      c.blocks = [...(c.blocks ?? []), a.key, b.key];
      pairs.set(id, c);
    }
  }
  for (const c of pairs.values()) {
    c.overlaps.sort((p, q) => p.day.localeCompare(q.day) || p.start - q.start);
    if (c.a.priority === c.b.priority) c.winners = [c.a.id, c.b.id];
    else c.winners = [(c.a.priority > c.b.priority ? c.a : c.b).id];
  }
  return [...pairs.values()];
}

// --- Drawing. ---------------------------------------------------------------------

function describeRule(rule) {
  const r = rule.recurrence ?? { every: 'day' };
  let days;
  switch (r.every) {
    case 'week':
      days = fill(t((r.interval ?? 1) > 1 ? 'schedule_every_weeks' : 'schedule_weekly'), {
        days: WEEKDAYS.filter((d) => r.days.includes(d)).map(weekdayName).join(', '), n: r.interval ?? 1,
      });
      break;
    case 'days': days = fill(t('schedule_every_days'), { n: r.interval }); break;
    case 'month_days': days = fill(t('schedule_monthly_days'), { days: r.days.map((d) => (d === -1 ? t('schedule_last_day') : d)).join(', ') }); break;
    case 'month_weekday': days = fill(t('schedule_monthly_weekday'), { nth: t(`schedule_nth_${r.nth === -1 ? 'last' : r.nth}`), day: weekdayName(r.weekday) }); break;
    default: days = t('schedule_daily');
  }
  const times = rule.windows?.length
    ? rule.windows.map((w) => `${clock(minutesOf(w.start))}–${clock(minutesOf(w.end))}`).join(', ')
    : t('schedule_all_day');
  return `${days}, ${times}`;
}

function blockButton(b, conflicts) {
  const s = b.schedule;
  const mine = conflicts.filter((c) => c.blocks.includes(b.key));
  const loses = mine.some((c) => !c.winners.includes(s.id));
  const wins = mine.length > 0 && !loses;
  const dirty = drafts.has(s.id);
  const entries = s.entries.map((e) => itemName(e.item)).join(', ');
  const mark = loses ? t('schedule_block_loses') : wins ? t('schedule_block_wins') : null;
  const button = el('button', {
    type: 'button',
    class: `block layer-${s.layer}${mine.length ? ' conflict' : ''}${loses ? ' loses' : ''}${dirty ? ' dirty' : ''}`,
    'data-key': b.key,
    'data-schedule': s.id,
    'data-window': b.window.index,
    'data-day': b.day,
    'aria-describedby': 'keys-help',
  },
  el('span', { class: 'b-name' }, s.name),
  el('span', { class: 'b-time' }, `${clock(b.start)}–${endClock(b.end)}`),
  el('span', { class: 'b-items' }, entries),
  el('span', { class: 'b-prio' }, `${t('schedule_priority_short')} ${s.priority}${s.layer === 'normal' ? '' : ` · ${t(`schedule_layer_${s.layer}`)}`}`),
  mark ? el('span', { class: 'b-mark' }, mark) : null,
  dirty ? el('span', { class: 'b-mark' }, t('schedule_unsaved')) : null,
  mayEdit && b.window.index >= 0 ? el('span', { class: 'handle', 'aria-hidden': 'true' }) : null);
  button.style.top = `${(b.start / DAY_MIN) * 100}%`;
  button.style.height = `${((b.end - b.start) / DAY_MIN) * 100}%`;
  return button;
}

/** Side-by-side lanes for blocks that overlap within a day. */
function placeLanes(blocks) {
  const sorted = [...blocks].sort((a, b) => a.start - b.start || b.end - a.end);
  const laneEnds = [];
  for (const b of sorted) {
    let lane = laneEnds.findIndex((end) => end <= b.start);
    if (lane < 0) { lane = laneEnds.length; laneEnds.push(0); }
    laneEnds[lane] = b.end;
    b.lane = lane;
  }
  for (const b of sorted) b.lanes = laneEnds.length;
  return sorted;
}

function render() {
  generation += 1;
  const view = chosen();
  const focusKey = document.activeElement?.dataset?.key;
  if (!view) {
    timeline.replaceChildren();
    caption.textContent = t('schedule_no_subject');
    renderConflicts([], null);
    return;
  }
  const days = visibleDays();
  const blocks = blocksFor(view, days);
  const conflicts = conflictsOf(blocks);
  const label = view.kind === 'd' ? view.display.name : view.group;
  caption.textContent = fill(t(days.length > 1 ? 'schedule_caption_week' : 'schedule_caption_day'), {
    subject: label, from: longDayLabel(days[0]), until: longDayLabel(days[days.length - 1]), tz: view.tz,
  });
  const hours = el('div', { class: 'hours', 'aria-hidden': 'true' },
    el('div', { class: 'head' }),
    el('div', { class: 'scale' }, [...Array(24).keys()].map((h) => el('span', { class: 'hour' }, clock(h * 60)))));
  const columns = days.map((day) => {
    const placed = placeLanes(blocks.filter((b) => b.day === day));
    const id = `day-${day}`;
    return el('section', { class: 'day', 'aria-labelledby': id, 'data-date': day },
      el('h3', { class: 'head', id }, dayLabel(day)),
      el('ul', { class: 'slots' }, placed.map((b) => {
        const button = blockButton(b, conflicts);
        const li = el('li', {}, button);
        button.style.left = `${(b.lane / b.lanes) * 100}%`;
        button.style.width = `${100 / b.lanes}%`;
        return li;
      })));
  });
  timeline.classList.toggle('single', days.length === 1);
  timeline.replaceChildren(hours, ...columns);
  if (focusKey) timeline.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  renderConflicts(conflicts, view);
}

function conflictText(c, truth) {
  const o = c.overlaps[0];
  const when = `${dayLabel(o.day)} ${clock(o.start)}–${endClock(o.end)}`;
  const names = { a: `„${c.a.name}“`, b: `„${c.b.name}“` };
  if (lang === 'en') { names.a = `“${c.a.name}”`; names.b = `“${c.b.name}”`; }
  const head = fill(t(c.overlaps.length > 1 ? 'schedule_conflict' : 'schedule_conflict_once'), {
    a: names.a, b: names.b, zone: c.zone, n: c.overlaps.length, when,
  });
  let verdict;
  if (truth?.winners) {
    const w = truth.winners;
    if (w.includes(c.a.id) && w.includes(c.b.id)) verdict = t('schedule_both_play');
    else if (w.includes(c.a.id) || w.includes(c.b.id)) {
      const [win, lose] = w.includes(c.a.id) ? [c.a, c.b] : [c.b, c.a];
      verdict = fill(t('schedule_winner'), { winner: win.id === c.a.id ? names.a : names.b, p: win.priority, q: lose.priority });
    } else {
      verdict = fill(t('schedule_neither'), { names: w.map((id) => `„${schedules.find((s) => s.id === id)?.name ?? id}“`).join(', ') || '–' });
    }
    verdict += ` ${t('schedule_confirmed')}`;
  } else if (c.winners.length === 2) {
    verdict = t('schedule_both_play');
  } else {
    const [win, lose] = c.winners[0] === c.a.id ? [c.a, c.b] : [c.b, c.a];
    verdict = fill(t('schedule_winner'), { winner: win.id === c.a.id ? names.a : names.b, p: win.priority, q: lose.priority });
  }
  return [head, verdict];
}

function renderConflicts(conflicts, view) {
  const mine = generation;
  noConflicts.hidden = conflicts.length > 0 || !view;
  conflictList.replaceChildren(...conflicts.map((c) => {
    const [head, verdict] = conflictText(c, null);
    const verdictNode = el('span', { class: 'verdict' }, verdict);
    const li = el('li', { class: 'conflict', 'data-conflict': c.id, 'data-winners': c.winners.join(' ') },
      el('span', { class: 'c-head' }, head), ' ', verdictNode);
    if (view?.kind === 'd') {
      const o = c.overlaps[0];
      const at = instantOf(o.day, o.start, view.tz);
      li.append(' ', el('button', {
        type: 'button', class: 'secondary small', onclick: () => preview(view.display, at),
      }, fill(t('schedule_preview_at'), { when: `${dayLabel(o.day)} ${clock(o.start)}` })));
      // The resolver is the truth; a changed rule that is not saved yet is not in it.
      if (!drafts.has(c.a.id) && !drafts.has(c.b.id)) {
        getJson(`/api/displays/${view.display.id}/playlist?at=${encodeURIComponent(at.toISOString())}`)
          .then((resolution) => {
            if (mine !== generation) return;
            const playlist = c.a.layer === 'emergency' ? resolution.takeover : resolution.zones?.[c.zone];
            const winners = [...new Set((playlist?.entries ?? []).map((e) => e.schedule))];
            li.dataset.winners = winners.join(' ');
            li.dataset.checked = 'true';
            verdictNode.textContent = conflictText(c, { winners })[1];
          })
          .catch((e) => { if (mine === generation) showError(`${t('schedule_check_failed')}: ${e.message}`); });
      }
    }
    return li;
  }));
}

async function preview(display, at) {
  status.textContent = '';
  previewCaption.textContent = t('schedule_rendering');
  previewFigure.hidden = false;
  try {
    const response = await fetch(`/api/displays/${display.id}/preview.png?at=${encodeURIComponent(at.toISOString())}`);
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).message ?? message; } catch { /* not JSON */ }
      throw new Error(message);
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(await response.blob());
    previewImg.src = previewUrl;
    previewImg.alt = fill(t('schedule_preview_alt'), { display: display.name, when: at.toLocaleString(locale, { timeZone: display.timezone }) });
    previewCaption.textContent = previewImg.alt;
  } catch (e) {
    previewFigure.hidden = true;
    showError(`${t('schedule_preview_failed')}: ${e.message}`);
  }
}

// --- Moving and resizing: the rule changes, every day it selects moves along. ---

function withWindow(schedule, index, start, end) {
  const copy = structuredClone(schedule);
  const w = { start: `${clock(start)}:00`, end: `${clock(end)}:00` };
  if (index < 0) copy.rule.windows = [w];
  else copy.rule.windows[index] = w;
  return copy;
}

/** Shifts a weekly schedule's days; other recurrences are tied to dates, not weekdays. */
function shiftDays(schedule, by) {
  const r = schedule.rule.recurrence;
  if (r?.every !== 'week') return null;
  const copy = structuredClone(schedule);
  copy.rule.recurrence.days = r.days.map((d) => WEEKDAYS[mod(WEEKDAYS.indexOf(d) + by, 7)]);
  return copy;
}

/** A moved or resized window, or a message why not. */
function changed(schedule, index, move, grow) {
  const w = windowsOf(schedule.rule).find((x) => x.index === index);
  if (!w) return { error: t('schedule_cannot_move') };
  const length = mod(w.end - w.start - 1, DAY_MIN) + 1;
  const newLength = length + grow;
  if (index < 0 && move !== 0) return { error: t('schedule_whole_day_move') };
  if (newLength < STEP) return { error: t('schedule_too_short') };
  if (newLength >= DAY_MIN) return { error: t('schedule_too_long') };
  const start = mod(w.start + move, DAY_MIN);
  return { schedule: withWindow(schedule, index, start, start + newLength) };
}

function announce(schedule) {
  live.textContent = fill(t('schedule_moved'), { name: schedule.name, rule: describeRule(schedule.rule) });
}

function setDraft(original, next, focusKey) {
  if (JSON.stringify(next) === JSON.stringify(original)) drafts.delete(original.id);
  else drafts.set(original.id, next);
  render();
  const target = timeline.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)
    ?? timeline.querySelector(`[data-schedule="${original.id}"]`);
  target?.focus();
}

async function saveDraft(id) {
  const draft = drafts.get(id);
  if (!draft) return;
  try {
    const { id: _, ...body } = draft;
    const saved = await send('PUT', `/api/schedules/${id}`, body);
    drafts.delete(id);
    schedules = schedules.map((s) => (s.id === id ? saved : s));
    showDone(fill(t('schedule_saved'), { name: saved.name, rule: describeRule(saved.rule) }));
    if (editing?.id === id) fillForm(saved);
  } catch (e) {
    showError(`${t('schedule_save_failed')}: ${e.message}`);
  }
  render();
  timeline.querySelector(`[data-schedule="${id}"]`)?.focus();
}

/** Where the focused block is after its days moved by `dayShift`. */
function blockKeyAfter(key, dayShift) {
  const [id, index, from, day] = key.split(':');
  return `${id}:${index}:${addDays(from, dayShift)}:${addDays(day, dayShift)}`;
}

timeline.addEventListener('keydown', (event) => {
  const button = event.target.closest?.('button.block');
  if (!button || event.altKey || event.ctrlKey || event.metaKey) return;
  const id = Number(button.dataset.schedule);
  const index = Number(button.dataset.window);
  const original = schedules.find((s) => s.id === id);
  if (!original) return;
  const now = current(original);
  const key = button.dataset.key;
  let result = null;
  let dayShift = 0;
  switch (event.key) {
    case 'ArrowUp': case 'ArrowDown': {
      const sign = event.key === 'ArrowUp' ? -1 : 1;
      result = event.shiftKey ? changed(now, index, 0, sign * STEP) : changed(now, index, sign * STEP, 0);
      break;
    }
    case 'PageUp': case 'PageDown':
      result = changed(now, index, (event.key === 'PageUp' ? -4 : 4) * STEP, 0);
      break;
    case 'ArrowLeft': case 'ArrowRight': {
      dayShift = event.key === 'ArrowLeft' ? -1 : 1;
      const moved = shiftDays(now, dayShift);
      result = moved ? { schedule: moved } : { error: t('schedule_days_not_weekly') };
      break;
    }
    case 'Enter':
      if (!drafts.has(id)) return;
      event.preventDefault();
      saveDraft(id);
      return;
    case 'Escape':
      if (!drafts.has(id)) return;
      event.preventDefault();
      drafts.delete(id);
      render();
      timeline.querySelector(`[data-schedule="${id}"]`)?.focus();
      live.textContent = fill(t('schedule_reverted'), { name: original.name });
      return;
    default:
      return;
  }
  event.preventDefault();
  if (!mayEdit) { showError(t('schedule_readonly_short')); return; }
  if (result.error) { showError(result.error); return; }
  status.textContent = '';
  setDraft(original, result.schedule, blockKeyAfter(key, dayShift));
  announce(result.schedule);
});

// Pointer drags: up and down moves (or, on the lower edge, resizes) in quarter
// hours, sideways moves a weekly schedule's days; dropping saves.
let drag = null;

timeline.addEventListener('pointerdown', (event) => {
  const button = event.target.closest?.('button.block');
  if (!button || !mayEdit || event.button !== 0) return;
  const column = button.closest('.slots');
  const rect = button.getBoundingClientRect();
  drag = {
    button,
    id: Number(button.dataset.schedule),
    index: Number(button.dataset.window),
    x: event.clientX,
    y: event.clientY,
    top: button.offsetTop,
    height: button.offsetHeight,
    perMinute: column.clientHeight / DAY_MIN,
    columnWidth: column.getBoundingClientRect().width,
    resize: event.target.classList.contains('handle') || event.clientY > rect.bottom - 8,
    moved: false,
  };
  try {
    button.setPointerCapture(event.pointerId);
  } catch {
    // A pointer the browser no longer tracks: the drag still follows the timeline's events.
  }
});

function dragSteps(d, event) {
  const minutes = Math.round((event.clientY - d.y) / d.perMinute / STEP) * STEP;
  const days = timeline.classList.contains('single') ? 0 : Math.round((event.clientX - d.x) / d.columnWidth);
  return { minutes, days };
}

timeline.addEventListener('pointermove', (event) => {
  if (!drag) return;
  const { minutes, days } = dragSteps(drag, event);
  if (minutes === 0 && days === 0 && !drag.moved) return;
  drag.moved = true;
  const px = minutes * drag.perMinute;
  if (drag.resize) {
    drag.button.style.height = `${Math.max(STEP * drag.perMinute, drag.height + px)}px`;
  } else {
    drag.button.style.transform = `translate(${days * drag.columnWidth}px, ${px}px)`;
  }
  drag.button.classList.add('dragging');
});

timeline.addEventListener('pointerup', (event) => {
  if (!drag) return;
  const d = drag;
  drag = null;
  if (!d.moved) return;
  // The click that follows a drag is not a request to edit.
  d.button.dataset.dragged = 'true';
  const { minutes, days } = dragSteps(d, event);
  const original = schedules.find((s) => s.id === d.id);
  let next = current(original);
  let result = d.resize ? changed(next, d.index, 0, minutes) : changed(next, d.index, minutes, 0);
  if (!d.resize && minutes === 0) result = { schedule: next };
  if (result.error) { showError(result.error); render(); return; }
  next = result.schedule;
  if (days) {
    next = shiftDays(next, days);
    if (!next) { showError(t('schedule_days_not_weekly')); render(); return; }
  }
  drafts.set(d.id, next);
  announce(next);
  saveDraft(d.id);
});

timeline.addEventListener('pointercancel', () => {
  drag = null;
  render();
});

timeline.addEventListener('click', (event) => {
  const button = event.target.closest?.('button.block');
  if (!button) return;
  if (button.dataset.dragged) { delete button.dataset.dragged; return; }
  const s = schedules.find((x) => x.id === Number(button.dataset.schedule));
  if (s) {
    fillForm(current(s));
    nameInput.focus();
  }
});

// --- The form. ------------------------------------------------------------------------

function targetValue(target) {
  switch (target.kind) {
    case 'all': return 'all';
    case 'display': return `d:${target.value}`;
    case 'group': return `g:${target.value}`;
    default: return null;
  }
}

function targetOptions(schedule) {
  const opts = [
    el('option', { value: 'all' }, t('schedule_target_all')),
    ...displays.map((d) => el('option', { value: `d:${d.id}` }, `${t('schedule_display')}: ${d.name}`)),
    ...groups.map((g) => el('option', { value: `g:${g.name}` }, `${t('schedule_group')}: ${g.name}`)),
  ];
  const single = schedule?.targets.length === 1 ? targetValue(schedule.targets[0]) : null;
  if (schedule && !single) {
    const said = schedule.targets.map((x) => (x.kind === 'all' ? t('schedule_target_all') : `${x.kind} ${x.value}`)).join(', ');
    opts.unshift(el('option', { value: 'keep' }, fill(t('schedule_target_keep'), { targets: said })));
  }
  targetSelect.replaceChildren(...opts);
  targetSelect.value = schedule ? (single ?? 'keep') : (subject.value || 'all');
}

function renderItems(selected) {
  itemList.replaceChildren(...items.map((item) => {
    const id = `item-${item.id}`;
    const input = el('input', { type: 'checkbox', id, value: item.id, name: 'items' });
    input.checked = selected.includes(item.id);
    return el('li', {}, input, el('label', { for: id }, item.name));
  }));
  document.getElementById('no-items').hidden = items.length > 0;
}

function renderDays(selected) {
  document.getElementById('days').replaceChildren(...WEEKDAYS.map((wd) => {
    const id = `wd-${wd}`;
    const input = el('input', { type: 'checkbox', id, value: wd, name: 'weekday' });
    input.checked = selected.includes(wd);
    return el('li', {}, input, el('label', { for: id }, weekdayName(wd)));
  }));
}

function recurrenceChanged() {
  const every = form.recurrence.value;
  document.getElementById('days-box').hidden = every !== 'week' && every !== 'month_weekday';
  document.getElementById('interval-box').hidden = every !== 'week' && every !== 'days';
  document.getElementById('month-days-box').hidden = every !== 'month_days';
  document.getElementById('nth-box').hidden = every !== 'month_weekday';
}

function wholeDayChanged() {
  document.getElementById('daypart').hidden = form.whole_day.checked;
}

function fillForm(schedule) {
  editing = schedule ? schedules.find((s) => s.id === schedule.id) ?? null : null;
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  formHeading.textContent = schedule ? fill(t('schedule_edit'), { name: schedule.name }) : t('schedule_new');
  deleteButton.hidden = !schedule || !mayEdit;
  const s = schedule ?? {
    name: '', targets: [], zone: 'main', entries: [], layer: 'normal', priority: 0,
    rule: { recurrence: { every: 'week', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], interval: 1 }, windows: [{ start: '07:00:00', end: '10:00:00' }] },
  };
  nameInput.value = s.name;
  renderItems(s.entries.map((e) => e.item));
  targetOptions(schedule);
  form.zone.value = s.zone;
  form.layer.value = s.layer;
  form.priority.value = s.priority;
  form.share.value = s.share_of_voice ?? '';
  const r = s.rule.recurrence ?? { every: 'day' };
  form.recurrence.value = r.every;
  form.interval.value = r.interval ?? 1;
  form.month_days.value = r.every === 'month_days' ? r.days.join(', ') : '';
  form.nth.value = String(r.nth ?? 1);
  renderDays(r.every === 'week' ? r.days : r.every === 'month_weekday' ? [r.weekday] : []);
  const windows = s.rule.windows ?? [];
  form.whole_day.checked = windows.length === 0;
  form.start.value = windows[0] ? clock(minutesOf(windows[0].start)) : '07:00';
  form.end.value = windows[0] ? clock(minutesOf(windows[0].end)) : '10:00';
  const more = document.getElementById('more-windows');
  more.hidden = windows.length < 2;
  more.textContent = fill(t('schedule_more_windows'), {
    windows: windows.slice(1).map((w) => `${clock(minutesOf(w.start))}–${clock(minutesOf(w.end))}`).join(', '),
  });
  form.from.value = s.rule.from ?? '';
  form.until.value = s.rule.until ?? '';
  form.except.value = (s.rule.except ?? []).join(', ');
  recurrenceChanged();
  wholeDayChanged();
}

function invalid(field, message) {
  field.setAttribute('aria-invalid', 'true');
  field.focus();
  showError(message);
  return null;
}

/** The schedule the form describes, or null after saying what is missing. */
function fromForm() {
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  const base = editing ? current(editing) : null;
  const name = nameInput.value.trim();
  if (!name) return invalid(nameInput, t('schedule_need_name'));
  const chosenItems = [...itemList.querySelectorAll('input:checked')].map((i) => Number(i.value));
  if (!chosenItems.length) return invalid(itemList.querySelector('input') ?? nameInput, t('schedule_need_items'));
  const entries = chosenItems.map((item) => base?.entries.find((e) => e.item === item) ?? { item });
  const tv = targetSelect.value;
  let targets;
  if (tv === 'keep') targets = base.targets;
  else if (tv === 'all') targets = [{ kind: 'all' }];
  else if (tv.startsWith('d:')) targets = [{ kind: 'display', value: Number(tv.slice(2)) }];
  else targets = [{ kind: 'group', value: tv.slice(2) }];
  const priority = Number(form.priority.value);
  if (form.priority.value === '' || !Number.isInteger(priority)) return invalid(form.priority, t('schedule_need_priority'));
  let share;
  if (form.share.value !== '') {
    share = Number(form.share.value);
    if (!Number.isInteger(share) || share < 1 || share > 100) return invalid(form.share, t('schedule_need_share'));
  }
  const days = [...document.querySelectorAll('#days input:checked')].map((i) => i.value);
  const interval = Number(form.interval.value || 1);
  let recurrence;
  switch (form.recurrence.value) {
    case 'week':
      if (!days.length) return invalid(document.querySelector('#days input'), t('schedule_need_days'));
      recurrence = { every: 'week', days, interval };
      break;
    case 'days': recurrence = { every: 'days', interval }; break;
    case 'month_days': {
      const list = form.month_days.value.split(/[\s,;]+/).filter(Boolean).map(Number);
      if (!list.length || list.some((d) => !Number.isInteger(d))) return invalid(form.month_days, t('schedule_need_month_days'));
      recurrence = { every: 'month_days', days: list };
      break;
    }
    case 'month_weekday':
      if (days.length !== 1) return invalid(document.querySelector('#days input'), t('schedule_need_one_day'));
      recurrence = { every: 'month_weekday', nth: Number(form.nth.value), weekday: days[0] };
      break;
    default: recurrence = { every: 'day' };
  }
  let windows = [];
  if (!form.whole_day.checked) {
    if (!form.start.value) return invalid(form.start, t('schedule_need_time'));
    if (!form.end.value) return invalid(form.end, t('schedule_need_time'));
    const first = { start: `${form.start.value.slice(0, 5)}:00`, end: `${form.end.value.slice(0, 5)}:00` };
    windows = [first, ...(base?.rule.windows ?? []).slice(1)];
  }
  const except = form.except.value.split(/[\s,;]+/).filter(Boolean);
  if (except.some((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d))) return invalid(form.except, t('schedule_need_dates'));
  const rule = { recurrence };
  if (form.from.value) rule.from = form.from.value;
  if (form.until.value) rule.until = form.until.value;
  if (windows.length) rule.windows = windows;
  if (except.length) rule.except = except;
  const schedule = {
    name, targets, zone: form.zone.value.trim() || 'main', entries, rule, layer: form.layer.value, priority,
  };
  if (share !== undefined) schedule.share_of_voice = share;
  return schedule;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!mayEdit) return;
  const schedule = fromForm();
  if (!schedule) return;
  const save = document.getElementById('save');
  save.disabled = true;
  try {
    const saved = editing
      ? await send('PUT', `/api/schedules/${editing.id}`, schedule)
      : await send('POST', '/api/schedules', schedule);
    drafts.delete(saved.id);
    schedules = [...schedules.filter((s) => s.id !== saved.id), saved];
    showDone(fill(t(editing ? 'schedule_saved' : 'schedule_created'), { name: saved.name, rule: describeRule(saved.rule) }));
    fillForm(null);
    render();
  } catch (e) {
    showError(`${t('schedule_save_failed')}: ${e.message}`);
  } finally {
    save.disabled = false;
  }
});

form.recurrence.addEventListener('change', recurrenceChanged);
form.whole_day.addEventListener('change', wholeDayChanged);
document.getElementById('new').addEventListener('click', () => {
  fillForm(null);
  status.textContent = '';
  nameInput.focus();
});

deleteButton.addEventListener('click', () => {
  if (!editing) return;
  document.getElementById('confirm-text').textContent = fill(t('schedule_confirm_delete'), { name: editing.name });
  confirmDialog.showModal();
});

confirmDialog.addEventListener('close', async () => {
  if (confirmDialog.returnValue !== 'delete' || !editing) { deleteButton.focus(); return; }
  const gone = editing;
  try {
    await send('DELETE', `/api/schedules/${gone.id}`);
    schedules = schedules.filter((s) => s.id !== gone.id);
    drafts.delete(gone.id);
    fillForm(null);
    render();
    showDone(fill(t('schedule_deleted'), { name: gone.name }));
    nameInput.focus();
  } catch (e) {
    showError(`${t('schedule_delete_failed')}: ${e.message}`);
  }
});

// --- The view's controls. -------------------------------------------------------

function step(by) {
  const days = document.getElementById('mode-day').checked ? 1 : 7;
  dayInput.value = addDays(dayInput.value || todayIn(chosen()?.tz ?? 'Europe/Berlin'), by * days);
  render();
}

document.getElementById('prev').addEventListener('click', () => step(-1));
document.getElementById('next').addEventListener('click', () => step(1));
document.getElementById('today').addEventListener('click', () => {
  dayInput.value = todayIn(chosen()?.tz ?? 'Europe/Berlin');
  render();
});
dayInput.addEventListener('change', render);
subject.addEventListener('change', () => {
  if (!editing) targetSelect.value = subject.value;
  zoneChoices();
  render();
});
for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', render);
document.getElementById('view').addEventListener('submit', (event) => event.preventDefault());

function zoneChoices() {
  const names = new Set(['main', ...layouts.flatMap((l) => l.zones.map((z) => z.name))]);
  document.getElementById('zones').replaceChildren(...[...names].map((n) => el('option', { value: n })));
}

async function init() {
  try {
    [displays, groups, layouts, items, schedules] = await Promise.all([
      getJson('/api/displays'), getJson('/api/groups'), getJson('/api/layouts'), getJson('/api/items'), getJson('/api/schedules'),
    ]);
  } catch (e) {
    showError(`${t('schedule_load_failed')} (${e.message})`);
    return;
  }
  const options = [
    ...displays.map((d) => el('option', { value: `d:${d.id}` }, `${t('schedule_display')}: ${d.name}`)),
    ...groups.map((g) => el('option', { value: `g:${g.name}` }, `${t('schedule_group')}: ${g.name}`)),
  ];
  subject.replaceChildren(...options);
  const wanted = new URLSearchParams(location.search);
  if (wanted.get('display')) subject.value = `d:${wanted.get('display')}`;
  else if (wanted.get('group')) subject.value = `g:${wanted.get('group')}`;
  if (!subject.value && options.length) subject.value = options[0].value;
  dayInput.value = /^\d{4}-\d{2}-\d{2}$/.test(wanted.get('date') ?? '') ? wanted.get('date') : todayIn(chosen()?.tz ?? 'Europe/Berlin');
  if (wanted.get('view') === 'day') document.getElementById('mode-day').checked = true;
  zoneChoices();
  fillForm(null);
  if (!mayEdit) {
    document.getElementById('form-readonly').hidden = false;
    for (const f of form.elements) f.disabled = true;
  }
  render();
  document.body.dataset.ready = 'true';
}

init();
