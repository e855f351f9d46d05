//! The console's view of one display's forwarded system log
//! (`/konsole/bildschirme/{id}/meldungen`, from `GET /api/displays/{id}/logs`):
//! newest first, filtered by severity on the server, times in the display's
//! own time zone. The lines come from the board and are shown as text only.

use super::console::{StaffPage, display_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    display_route("/konsole/bildschirme/{id}/meldungen", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/display-logs.html"),
    title: "{{t:logs.title}}: {{v:display_name}} – {{t:console.name}}",
    scripts: &["display-logs.js"],
    styles: &["display.css"],
    section: "dashboard",
};

/// (key, German, English), see [`super::i18n`]. Severities are syslog's
/// priorities (0 emergency … 7 debug).
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("logs.title", "Meldungen", "Messages"),
    (
        "logs.intro",
        "Warnungen und Fehler aus dem Systemprotokoll des Bildschirms, neueste zuerst.",
        "Warnings and errors from the display's system log, newest first.",
    ),
    ("logs.back", "Zurück zum Bildschirm", "Back to the display"),
    ("logs.filter", "Schwere mindestens", "Severity at least"),
    ("logs.any", "Alle Meldungen", "All messages"),
    ("logs.refresh", "Aktualisieren", "Refresh"),
    ("logs.col_at", "Zeit", "Time"),
    ("logs.col_severity", "Schwere", "Severity"),
    ("logs.col_source", "Quelle", "Source"),
    ("logs.col_message", "Meldung", "Message"),
    ("logs.older", "Ältere Meldungen", "Older messages"),
    ("js.logs_empty", "Keine Meldungen.", "No messages."),
    (
        "js.logs_empty_filtered",
        "Keine Meldungen dieser Schwere.",
        "No messages of this severity.",
    ),
    ("js.logs_count", "{n} Meldungen", "{n} messages"),
    ("logs.sev_0", "Notfall", "Emergency"),
    ("logs.sev_1", "Alarm", "Alert"),
    ("logs.sev_2", "Kritisch", "Critical"),
    ("logs.sev_3", "Fehler", "Error"),
    ("logs.sev_4", "Warnung", "Warning"),
    ("js.logs_sev_0", "Notfall", "Emergency"),
    ("js.logs_sev_1", "Alarm", "Alert"),
    ("js.logs_sev_2", "Kritisch", "Critical"),
    ("js.logs_sev_3", "Fehler", "Error"),
    ("js.logs_sev_4", "Warnung", "Warning"),
    ("js.logs_sev_5", "Hinweis", "Notice"),
    ("js.logs_sev_6", "Info", "Info"),
    ("js.logs_sev_7", "Debug", "Debug"),
];

#[cfg(test)]
mod tests {
    use super::super::i18n::{Lang, assert_scripts_texts, script_keys, text};

    /// The script asks only for texts that exist, a name for every syslog
    /// priority included (it builds those keys from the number).
    #[test]
    fn every_text_the_script_asks_for_is_there() {
        let script = include_str!("../../web/static/display-logs.js");
        let keys = script_keys(script, "t");
        assert!(keys.len() >= 4, "{keys:?}");
        assert_scripts_texts(&[("display-logs.js", script)], &["t"]);
        for priority in 0..=7 {
            assert!(
                text(Lang::En, &format!("js.logs_sev_{priority}")).is_some(),
                "{priority}"
            );
        }
    }
}
