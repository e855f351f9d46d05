// Night mode in words: a display's `screen_off` windows as one line
// ("Nachtruhe 22:00–06:00, Mo–So"), for the dashboard and the display page.
import { t } from './common.js';

/** chrono's weekday names, Monday first (as `num_days_from_monday`). */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** '22:00:00' → '22:00'. */
export const hhmm = (time) => String(time ?? '').slice(0, 5);

/** The days a window starts on; the model's empty list means every day. */
export const daysOf = (w) => (w.days?.length ? w.days : WEEKDAYS);

/** ['Mon', 'Tue', 'Wed', 'Fri'] → "Mo–Mi, Fr": three days or more in a row as a range. */
export function dayList(days) {
  const on = WEEKDAYS.map((d) => days.includes(d));
  const name = (i) => t(`day_${WEEKDAYS[i]}`);
  const parts = [];
  for (let i = 0; i < WEEKDAYS.length; i += 1) {
    if (!on[i]) continue;
    let last = i;
    while (last + 1 < WEEKDAYS.length && on[last + 1]) last += 1;
    if (last - i >= 2) parts.push(`${name(i)}–${name(last)}`);
    else for (let k = i; k <= last; k += 1) parts.push(name(k));
    i = last;
  }
  return parts.join(', ');
}

/** "Nachtruhe 22:00–06:00, Mo–So; 13:00–14:00, Sa", or '' without windows. */
export function nightSummary(windows) {
  if (!windows?.length) return '';
  const each = windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}, ${dayList(daysOf(w))}`);
  return t('night_summary').replace('{windows}', each.join('; '));
}
