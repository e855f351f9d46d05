// The night-mode form's list: each `screen_off` window as a fieldset of
// weekday boxes and two times, added and removed in place. It edits a list;
// loading and saving are the page's (display.js).
import { el, lang, t } from './common.js';
import { WEEKDAYS, daysOf, hhmm } from './night-mode.js';

const numbered = (key, n) => t(key).replaceAll('{n}', n);
const longDays = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'de-DE', { weekday: 'long', timeZone: 'UTC' });
/** 0 → "Montag" (1 January 2024 was a Monday). */
const longDay = (i) => longDays.format(new Date(Date.UTC(2024, 0, 1 + i)));

/** What "add" starts from: the usual night, every day. */
const NEW_ROW = { days: WEEKDAYS, start: '22:00', end: '06:00' };

/**
 * The editor on `list` (an `<ol>`), with `empty` shown while it has no
 * window. `readonly` renders the windows without the means to change them;
 * `removed` is called after a window was removed (its button, which had the
 * focus, is gone: the page decides where the focus goes).
 */
export function nightEditor(list, empty, { readonly, removed }) {
  /** One row: a window with its days listed (none checked is a row, not "every day"). */
  function item(row, i) {
    const n = i + 1;
    const id = (part) => `night-${n}-${part}`;
    const boxes = WEEKDAYS.map((d, k) => {
      const input = el('input', { type: 'checkbox', id: id(d), name: id('days'), value: d, disabled: readonly });
      input.checked = row.days.includes(d);
      return el('li', {}, input, el('label', { for: id(d), title: longDay(k) }, t(`day_${d}`)));
    });
    const time = (part, key, value) => el('div', { class: 'field' },
      el('label', { for: id(part) }, t(key)),
      el('input', { type: 'time', id: id(part), name: part, step: 60, value: hhmm(value), required: true, disabled: readonly, 'data-part': part }));
    return el('li', { class: 'night-window', 'data-window': i },
      el('fieldset', {},
        el('legend', {}, numbered('night_window', n)),
        el('fieldset', { class: 'days' }, el('legend', {}, t('night_days')), el('ul', { class: 'plain checks inline' }, boxes)),
        el('div', { class: 'pair' }, time('start', 'night_start', row.start), time('end', 'night_end', row.end)),
        readonly ? null : el('button', {
          type: 'button', class: 'secondary danger-outline', 'data-remove': i,
          'aria-label': numbered('night_remove_label', n),
        }, t('night_remove'))));
  }

  function draw(rows) {
    list.replaceChildren(...rows.map(item));
    empty.textContent = t('night_empty');
    empty.hidden = rows.length > 0;
  }

  /** The rows as the form has them, unchecked (to redraw after add or remove). */
  function draft() {
    return [...list.children].map((li) => ({
      days: [...li.querySelectorAll('input[type=checkbox]:checked')].map((i) => i.value),
      start: li.querySelector('[data-part=start]').value,
      end: li.querySelector('[data-part=end]').value,
    }));
  }

  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-remove]');
    if (!button) return;
    const rows = draft();
    rows.splice(Number(button.dataset.remove), 1);
    draw(rows);
    removed();
  });

  return {
    /** Shows a display's `screen_off` windows. */
    show(windows) {
      draw(windows.map((w) => ({ days: daysOf(w), start: w.start, end: w.end })));
    },
    /** Adds the usual night and focuses its first weekday. */
    add() {
      draw([...draft(), NEW_ROW]);
      list.lastElementChild.querySelector('input').focus();
    },
    /**
     * The windows as `screen_off` wants them, or `{ error, field }` for what
     * the form itself can tell (no weekday, no time). Everything else, a
     * window without length above all, is the server's to judge.
     */
    read() {
      const windows = [];
      for (const [i, w] of draft().entries()) {
        const li = list.children[i];
        if (!w.days.length) return { error: numbered('night_need_day', i + 1), field: li.querySelector('input[type=checkbox]') };
        for (const part of ['start', 'end']) {
          if (!w[part]) return { error: numbered('night_need_time', i + 1), field: li.querySelector(`[data-part=${part}]`) };
        }
        windows.push({
          // All seven days is the model's "every day": stored as such.
          days: w.days.length === WEEKDAYS.length ? [] : w.days,
          start: `${hhmm(w.start)}:00`,
          end: `${hhmm(w.end)}:00`,
        });
      }
      return { windows };
    },
    /** Marks window `i` (as the server numbers it) and focuses its start. */
    markInvalid(i) {
      const li = list.children[i];
      if (!li) return;
      for (const input of li.querySelectorAll('[data-part]')) input.setAttribute('aria-invalid', 'true');
      li.querySelector('[data-part=start]').focus();
    },
    clearInvalid() {
      for (const f of list.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
    },
  };
}
