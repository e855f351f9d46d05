//! The console's page of one display (`/konsole/bildschirme/{id}`): its state
//! and place, links to what else the console knows about it, and its night
//! mode ("Nachtruhe": the windows of [`content::screen`]), edited in a form
//! that saves through `PUT /api/displays/{id}`, whose 422 it shows beside the
//! form.

use super::console::{StaffPage, display_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    display_route("/konsole/bildschirme/{id}", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/display.html"),
    title: "{{v:display_name}} – {{t:display.title}} – {{t:console.name}}",
    scripts: &["display.js"],
    styles: &["display.css"],
    section: "dashboard",
};

/// (key, German, English), see [`super::i18n`]. The dashboard uses the
/// `js.night_…` texts too, for its one-line summary.
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("display.title", "Bildschirm", "Display"),
    ("display.back", "Zur Übersicht", "Back to the dashboard"),
    ("display.facts", "Angaben", "Details"),
    (
        "display.more",
        "Mehr zu diesem Bildschirm",
        "More on this display",
    ),
    (
        "display.logs",
        "Meldungen des Bildschirms",
        "The display's messages",
    ),
    ("display.schedule", "Programm", "Schedule"),
    ("display.preview", "Vorschau", "Preview"),
    ("night.title", "Nachtruhe", "Night mode"),
    (
        "night.intro",
        "In diesen Zeiträumen ist der Bildschirm aus. Liegt das Ende vor dem Beginn, läuft der Zeitraum über Mitternacht und gehört zu dem Tag, an dem er beginnt.",
        "During these periods the screen is off. An end before the start runs past midnight and belongs to the day it starts on.",
    ),
    (
        "display.local_time",
        "Zeiten in der Ortszeit des Bildschirms:",
        "Times in the display's local time:",
    ),
    (
        "night.readonly",
        "Die Nachtruhe ändern darf nur die Verwaltung (Rolle „admin“).",
        "Only admins may change the night mode.",
    ),
    ("night.add", "Zeitraum hinzufügen", "Add a period"),
    ("night.save", "Nachtruhe speichern", "Save night mode"),
    (
        "js.night_summary",
        "Nachtruhe {windows}",
        "Night mode {windows}",
    ),
    (
        "js.night_none",
        "Keine Nachtruhe: der Bildschirm ist immer an.",
        "No night mode: the screen is always on.",
    ),
    ("js.night_window", "Zeitraum {n}", "Period {n}"),
    ("js.night_days", "Wochentage", "Weekdays"),
    ("js.night_start", "Aus ab", "Off from"),
    ("js.night_end", "Wieder an um", "On again at"),
    ("js.night_remove", "Entfernen", "Remove"),
    (
        "js.night_remove_label",
        "Zeitraum {n} entfernen",
        "Remove period {n}",
    ),
    (
        "js.night_empty",
        "Kein Zeitraum: der Bildschirm bleibt immer an.",
        "No period: the screen stays on.",
    ),
    (
        "js.night_need_day",
        "Zeitraum {n}: mindestens einen Wochentag wählen.",
        "Period {n}: choose at least one weekday.",
    ),
    (
        "js.night_need_time",
        "Zeitraum {n}: Beginn und Ende angeben.",
        "Period {n}: give a start and an end.",
    ),
    (
        "js.night_saved",
        "Nachtruhe gespeichert.",
        "Night mode saved.",
    ),
    ("js.night_refused", "Nicht gespeichert:", "Not saved:"),
    ("js.day_Mon", "Mo", "Mon"),
    ("js.day_Tue", "Di", "Tue"),
    ("js.day_Wed", "Mi", "Wed"),
    ("js.day_Thu", "Do", "Thu"),
    ("js.day_Fri", "Fr", "Fri"),
    ("js.day_Sat", "Sa", "Sat"),
    ("js.day_Sun", "So", "Sun"),
    ("js.display_state", "Zustand", "State"),
    ("js.display_place", "Standort", "Location"),
    ("js.display_groups", "Gruppen", "Groups"),
    ("js.display_tz", "Zeitzone", "Time zone"),
    ("js.display_resolution", "Auflösung", "Resolution"),
    ("js.display_version", "Player-Version", "Player version"),
];

#[cfg(test)]
mod tests {
    use super::super::i18n::{Lang, assert_scripts_texts, text};

    /// The page's scripts (and the dashboard, which shows the summary) ask
    /// only for texts that exist, the weekday names they build included.
    #[test]
    fn every_text_the_scripts_ask_for_is_there() {
        assert_scripts_texts(
            &[
                ("display.js", include_str!("../../web/static/display.js")),
                (
                    "night-editor.js",
                    include_str!("../../web/static/night-editor.js"),
                ),
                (
                    "night-mode.js",
                    include_str!("../../web/static/night-mode.js"),
                ),
                (
                    "dashboard.js",
                    include_str!("../../web/static/dashboard.js"),
                ),
            ],
            &["t", "numbered"],
        );
        for day in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
            assert!(text(Lang::En, &format!("js.day_{day}")).is_some(), "{day}");
        }
    }
}
