//! The console's schedule editor (`/konsole/programm`).

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/programm", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/schedule-editor.html"),
    title: "{{t:schedule.title}} – {{t:console.name}}",
    scripts: &["schedule-editor.js"],
    styles: &["schedule-editor.css"],
    section: "schedule",
};

/// (key, German, English), see [`super::i18n`]. Script texts (`js.schedule_…`)
/// may hold `{name}`-style slots the script fills.
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("schedule.title", "Programm", "Schedule"),
    (
        "schedule.lead",
        "Was wann auf welchem Bildschirm läuft: Einträge anlegen, verschieben, verlängern und Überschneidungen klären.",
        "What plays when on which display: create entries, move and resize them, and settle overlaps.",
    ),
    (
        "schedule.subject",
        "Bildschirm oder Gruppe",
        "Display or group",
    ),
    ("schedule.day", "Datum", "Date"),
    ("schedule.prev", "Zurück", "Previous"),
    ("schedule.today", "Heute", "Today"),
    ("schedule.next", "Weiter", "Next"),
    ("schedule.mode", "Ansicht", "View"),
    ("schedule.mode_week", "Woche", "Week"),
    ("schedule.mode_day", "Tag", "Day"),
    ("schedule.timeline", "Zeitleiste", "Timeline"),
    (
        "schedule.keys_help",
        "Tastatur: Pfeil hoch/runter verschiebt um 15 Minuten (Bild hoch/runter: eine Stunde), Umschalt + Pfeil hoch/runter ändert das Ende, Pfeil links/rechts verschiebt die Wochentage, Eingabetaste speichert, Escape verwirft. Maus: ziehen verschiebt, am unteren Rand ziehen ändert die Länge. Klick öffnet das Formular.",
        "Keyboard: arrow up/down moves by 15 minutes (page up/down: one hour), shift + arrow up/down changes the end, arrow left/right moves the weekdays, Enter saves, Escape discards. Mouse: drag to move, drag the lower edge to resize. Click opens the form.",
    ),
    ("schedule.conflicts", "Überschneidungen", "Conflicts"),
    (
        "schedule.conflicts_hint",
        "Einträge in derselben Zone und Ebene, die sich zeitlich überschneiden. Es läuft der mit der höheren Priorität; bei gleicher Priorität laufen beide abwechselnd. Für einen Bildschirm wird das mit seiner tatsächlichen Wiedergabeliste geprüft.",
        "Entries in the same zone and layer whose times overlap. The one with the higher priority plays; at equal priority both play in turn. For a display this is checked against its actual playlist.",
    ),
    (
        "schedule.no_conflicts",
        "In diesem Zeitraum überschneidet sich nichts.",
        "Nothing overlaps in this period.",
    ),
    (
        "schedule.preview_page",
        "Zur Vorschau-Seite",
        "To the preview page",
    ),
    ("schedule.new", "Neuer Eintrag", "New entry"),
    (
        "schedule.readonly",
        "Einträge anlegen und ändern dürfen nur Personen mit der Rolle „editor“, „publisher“ oder „admin“.",
        "Only staff with the editor, publisher or admin role may create and change entries.",
    ),
    ("schedule.name", "Name", "Name"),
    (
        "schedule.items",
        "Inhalte (in dieser Reihenfolge)",
        "Items (in this order)",
    ),
    (
        "schedule.no_items",
        "Noch keine Inhalte: zuerst in der Inhaltsbibliothek anlegen.",
        "No items yet: create some in the content library first.",
    ),
    ("schedule.target", "Für", "For"),
    ("schedule.zone", "Zone", "Zone"),
    (
        "schedule.zone_hint",
        "Bereich des Layouts; fehlt er im Layout eines Bildschirms, gilt „main“.",
        "Area of the layout; where a display's layout lacks it, “main” is used.",
    ),
    ("schedule.layer", "Ebene", "Layer"),
    ("schedule.layer_normal", "Normal", "Normal"),
    (
        "schedule.layer_default",
        "Lückenfüller (nur wenn sonst nichts läuft)",
        "Fallback (only when nothing else plays)",
    ),
    (
        "schedule.layer_emergency",
        "Notfall (ganzer Bildschirm)",
        "Emergency (full screen)",
    ),
    ("schedule.priority", "Priorität", "Priority"),
    (
        "schedule.priority_hint",
        "Höhere Zahl gewinnt bei Überschneidungen.",
        "The higher number wins where entries overlap.",
    ),
    (
        "schedule.share",
        "Sendeanteil in Prozent (optional)",
        "Share of airtime in percent (optional)",
    ),
    (
        "schedule.share_hint",
        "Leer: ersetzt, was darunter läuft. Mit Wert: wird eingestreut.",
        "Empty: replaces what plays underneath. With a value: mixed in.",
    ),
    ("schedule.when", "Wann", "When"),
    ("schedule.recurrence", "Wiederholung", "Recurrence"),
    (
        "schedule.rec_week",
        "Wöchentlich an Wochentagen",
        "Weekly on weekdays",
    ),
    ("schedule.rec_day", "Täglich", "Daily"),
    ("schedule.rec_days", "Alle N Tage", "Every N days"),
    (
        "schedule.rec_month_days",
        "Monatlich an Tagen",
        "Monthly on days",
    ),
    (
        "schedule.rec_month_weekday",
        "Monatlich am n-ten Wochentag",
        "Monthly on the nth weekday",
    ),
    ("schedule.interval", "Abstand", "Interval"),
    (
        "schedule.interval_hint",
        "Alle N Wochen bzw. Tage; ab 2 wird vom Startdatum an gezählt.",
        "Every N weeks or days; from 2 on, counted from the start date.",
    ),
    (
        "schedule.month_days",
        "Tage des Monats",
        "Days of the month",
    ),
    (
        "schedule.month_days_hint",
        "Durch Komma getrennt, −1 ist der letzte Tag, z. B. „1, 15, -1“.",
        "Separated by commas, -1 is the last day, e.g. “1, 15, -1”.",
    ),
    ("schedule.nth", "Welcher", "Which"),
    ("schedule.nth_1", "Erster", "First"),
    ("schedule.nth_2", "Zweiter", "Second"),
    ("schedule.nth_3", "Dritter", "Third"),
    ("schedule.nth_4", "Vierter", "Fourth"),
    ("schedule.nth_5", "Fünfter", "Fifth"),
    ("schedule.nth_last", "Letzter", "Last"),
    ("schedule.days", "Wochentage", "Weekdays"),
    ("schedule.whole_day", "Ganztägig", "All day"),
    ("schedule.start", "Von", "From"),
    ("schedule.end", "Bis", "Until"),
    (
        "schedule.end_hint",
        "Liegt das Ende vor dem Beginn, läuft der Eintrag über Mitternacht.",
        "An end before the start runs past midnight.",
    ),
    (
        "schedule.from",
        "Erster Tag (optional)",
        "First day (optional)",
    ),
    (
        "schedule.until",
        "Letzter Tag (optional)",
        "Last day (optional)",
    ),
    (
        "schedule.except",
        "Ausnahmen (optional)",
        "Exceptions (optional)",
    ),
    (
        "schedule.except_hint",
        "Tage ohne diesen Eintrag, z. B. Feiertage: „2026-12-25, 2026-12-26“.",
        "Days without this entry, e.g. public holidays: “2026-12-25, 2026-12-26”.",
    ),
    ("schedule.save", "Speichern", "Save"),
    ("schedule.new_button", "Neuer Eintrag", "New entry"),
    ("schedule.delete", "Löschen", "Delete"),
    ("schedule.keep", "Behalten", "Keep"),
    ("js.schedule_display", "Bildschirm", "Display"),
    ("js.schedule_group", "Gruppe", "Group"),
    (
        "js.schedule_no_subject",
        "Noch keine Bildschirme oder Gruppen eingerichtet.",
        "No displays or groups set up yet.",
    ),
    (
        "js.schedule_caption_week",
        "{subject}: Woche vom {from} bis {until}, Ortszeit {tz}.",
        "{subject}: week from {from} to {until}, local time {tz}.",
    ),
    (
        "js.schedule_caption_day",
        "{subject}: {from}, Ortszeit {tz}.",
        "{subject}: {from}, local time {tz}.",
    ),
    (
        "js.schedule_weekly",
        "wöchentlich {days}",
        "weekly on {days}",
    ),
    (
        "js.schedule_every_weeks",
        "alle {n} Wochen {days}",
        "every {n} weeks on {days}",
    ),
    ("js.schedule_every_days", "alle {n} Tage", "every {n} days"),
    ("js.schedule_daily", "täglich", "daily"),
    (
        "js.schedule_monthly_days",
        "monatlich am {days}.",
        "monthly on day {days}",
    ),
    (
        "js.schedule_monthly_weekday",
        "monatlich am {nth} {day}",
        "monthly on the {nth} {day}",
    ),
    ("js.schedule_last_day", "letzten Tag", "last day"),
    ("js.schedule_nth_1", "ersten", "first"),
    ("js.schedule_nth_2", "zweiten", "second"),
    ("js.schedule_nth_3", "dritten", "third"),
    ("js.schedule_nth_4", "vierten", "fourth"),
    ("js.schedule_nth_5", "fünften", "fifth"),
    ("js.schedule_nth_last", "letzten", "last"),
    ("js.schedule_all_day", "ganztägig", "all day"),
    ("js.schedule_priority_short", "Priorität", "Priority"),
    ("js.schedule_layer_default", "Lückenfüller", "Fallback"),
    ("js.schedule_layer_normal", "Normal", "Normal"),
    ("js.schedule_layer_emergency", "Notfall", "Emergency"),
    (
        "js.schedule_block_wins",
        "Überschneidung: läuft",
        "Overlap: plays",
    ),
    (
        "js.schedule_block_loses",
        "Überschneidung: verdrängt",
        "Overlap: overridden",
    ),
    ("js.schedule_unsaved", "nicht gespeichert", "not saved"),
    (
        "js.schedule_conflict",
        "{a} und {b} überschneiden sich an {n} Tagen in Zone {zone}, zuerst {when}.",
        "{a} and {b} overlap on {n} days in zone {zone}, first {when}.",
    ),
    (
        "js.schedule_conflict_once",
        "{a} und {b} überschneiden sich in Zone {zone}: {when}.",
        "{a} and {b} overlap in zone {zone}: {when}.",
    ),
    (
        "js.schedule_winner",
        "Es läuft {winner} (Priorität {p} vor {q}).",
        "{winner} plays (priority {p} over {q}).",
    ),
    (
        "js.schedule_both_play",
        "Gleiche Priorität: beide laufen abwechselnd.",
        "Equal priority: both play in turn.",
    ),
    (
        "js.schedule_neither",
        "Keiner von beiden läuft dann; es läuft: {names}.",
        "Neither plays then; playing: {names}.",
    ),
    (
        "js.schedule_confirmed",
        "(laut Wiedergabeliste des Bildschirms)",
        "(according to the display's playlist)",
    ),
    (
        "js.schedule_check_failed",
        "Die Wiedergabeliste konnte nicht geprüft werden",
        "The playlist could not be checked",
    ),
    (
        "js.schedule_preview_at",
        "Vorschau {when}",
        "Preview {when}",
    ),
    (
        "js.schedule_rendering",
        "Die Vorschau wird vom Player gezeichnet …",
        "The player is drawing the preview …",
    ),
    (
        "js.schedule_preview_alt",
        "Vorschau: {display} am {when}, wie der Player sie zeichnet",
        "Preview: {display} at {when}, as the player draws it",
    ),
    ("js.schedule_preview_failed", "Keine Vorschau", "No preview"),
    (
        "js.schedule_cannot_move",
        "Dieser Block lässt sich nicht verschieben.",
        "This block cannot be moved.",
    ),
    (
        "js.schedule_whole_day_move",
        "Ein ganztägiger Eintrag lässt sich nicht verschieben; zuerst mit Umschalt + Pfeil hoch kürzen.",
        "An all-day entry cannot be moved; shorten it first with shift + arrow up.",
    ),
    (
        "js.schedule_too_short",
        "Kürzer als 15 Minuten geht nicht.",
        "It cannot be shorter than 15 minutes.",
    ),
    (
        "js.schedule_too_long",
        "Länger als ein Tag geht nicht; dafür „Ganztägig“ im Formular wählen.",
        "It cannot be longer than a day; choose “All day” in the form instead.",
    ),
    (
        "js.schedule_days_not_weekly",
        "Nur wöchentliche Einträge lassen sich auf andere Wochentage verschieben.",
        "Only weekly entries can move to other weekdays.",
    ),
    (
        "js.schedule_moved",
        "{name}: jetzt {rule}. Nicht gespeichert: Eingabetaste speichert, Escape verwirft.",
        "{name}: now {rule}. Not saved: Enter saves, Escape discards.",
    ),
    (
        "js.schedule_reverted",
        "{name}: Änderung verworfen.",
        "{name}: change discarded.",
    ),
    (
        "js.schedule_readonly_short",
        "Sie dürfen das Programm nur ansehen.",
        "You may only view the schedule.",
    ),
    (
        "js.schedule_saved",
        "„{name}“ gespeichert: {rule}.",
        "“{name}” saved: {rule}.",
    ),
    (
        "js.schedule_created",
        "„{name}“ angelegt: {rule}.",
        "“{name}” created: {rule}.",
    ),
    ("js.schedule_save_failed", "Nicht gespeichert", "Not saved"),
    (
        "js.schedule_deleted",
        "„{name}“ gelöscht.",
        "“{name}” deleted.",
    ),
    ("js.schedule_delete_failed", "Nicht gelöscht", "Not deleted"),
    (
        "js.schedule_confirm_delete",
        "„{name}“ wirklich löschen?",
        "Really delete “{name}”?",
    ),
    (
        "js.schedule_load_failed",
        "Das Programm konnte nicht geladen werden",
        "The schedule could not be loaded",
    ),
    ("js.schedule_new", "Neuer Eintrag", "New entry"),
    ("js.schedule_edit", "„{name}“ bearbeiten", "Edit “{name}”"),
    ("js.schedule_target_all", "Alle Bildschirme", "All displays"),
    (
        "js.schedule_target_keep",
        "Unverändert: {targets}",
        "Unchanged: {targets}",
    ),
    (
        "js.schedule_more_windows",
        "Weitere Zeitfenster bleiben erhalten: {windows}.",
        "Further time windows are kept: {windows}.",
    ),
    (
        "js.schedule_need_name",
        "Bitte einen Namen eingeben.",
        "Please enter a name.",
    ),
    (
        "js.schedule_need_items",
        "Bitte mindestens einen Inhalt wählen.",
        "Please choose at least one item.",
    ),
    (
        "js.schedule_need_priority",
        "Die Priorität muss eine ganze Zahl sein.",
        "The priority must be a whole number.",
    ),
    (
        "js.schedule_need_share",
        "Der Sendeanteil muss zwischen 1 und 100 Prozent liegen.",
        "The share of airtime must be 1 to 100 percent.",
    ),
    (
        "js.schedule_need_days",
        "Bitte mindestens einen Wochentag wählen.",
        "Please choose at least one weekday.",
    ),
    (
        "js.schedule_need_one_day",
        "Bitte genau einen Wochentag wählen.",
        "Please choose exactly one weekday.",
    ),
    (
        "js.schedule_need_month_days",
        "Bitte Tage des Monats als Zahlen angeben, z. B. „1, 15, -1“.",
        "Please give days of the month as numbers, e.g. “1, 15, -1”.",
    ),
    (
        "js.schedule_need_time",
        "Bitte Beginn und Ende angeben.",
        "Please give a start and an end.",
    ),
    (
        "js.schedule_need_dates",
        "Ausnahmen bitte als Daten wie „2026-12-25“ angeben.",
        "Please give exceptions as dates like “2026-12-25”.",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::{fill, i18n::Lang};
    use super::TEXTS;

    /// The page and its script ask only for texts this table has, in both languages.
    #[test]
    fn every_key_of_the_page_and_its_script_is_translated() {
        let page = include_str!("../../web/pages/schedule-editor.html");
        for lang in [Lang::De, Lang::En] {
            let filled = fill(page, lang, &[]);
            assert!(
                !filled.contains("{{t:"),
                "{lang:?}: untranslated key in the page"
            );
        }
        let script = include_str!("../../web/static/schedule-editor.js");
        let keys: Vec<&str> = TEXTS.iter().map(|t| t.0).collect();
        for (i, _) in script.match_indices("'schedule_") {
            let key = &script[i + 1..];
            let key = &key[..key.find('\'').unwrap_or(key.len())];
            assert!(
                keys.contains(&format!("js.{key}").as_str()),
                "script text {key} missing"
            );
        }
        // Keys the script builds from a value: every value it can take.
        for stem in ["schedule_layer_", "schedule_nth_"] {
            let found = keys
                .iter()
                .filter(|k| k.starts_with(&format!("js.{stem}")))
                .count();
            assert!(found >= 3, "{stem}* texts missing");
        }
    }
}
