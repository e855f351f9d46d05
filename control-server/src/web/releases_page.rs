//! The console's page of player releases (`/konsole/versionen`): the signed
//! player binaries uploaded, which displays are told to run which and which
//! run it, an upload form that takes the line `player-release sign` printed,
//! and the assignment to all displays or chosen ones. Everything goes through
//! `/api/releases`, so the page authorizes as the API does: every staff member
//! sees the releases, only admins upload and assign (the forms are hidden for
//! others rather than failing on submit).

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/versionen", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/releases.html"),
    title: "{{t:releases.title}} – {{t:console.name}}",
    scripts: &["releases.js"],
    // The form pieces (checkbox lists, button rows, "saved") are the display
    // page's; this page adds only its own layout.
    styles: &["display.css", "releases.css"],
    section: "releases",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("releases.title", "Player-Versionen", "Player versions"),
    (
        "releases.intro",
        "Signierte Versionen der Bildschirm-Software. Der Server prüft Form, Prüfsumme und Größe; ob die Signatur echt ist, prüft jeder Bildschirm mit dem Schlüssel in seinem Abbild und behält sonst seine Version.",
        "Signed versions of the display software. The server checks form, checksum and size; whether the signature is genuine each display checks against the key in its image, and otherwise keeps its version.",
    ),
    (
        "releases.readonly",
        "Versionen hochladen und zuweisen darf nur die Verwaltung (Rolle „admin“).",
        "Only admins may upload and assign versions.",
    ),
    (
        "releases.list",
        "Hochgeladene Versionen",
        "Uploaded versions",
    ),
    ("releases.col_version", "Version", "Version"),
    ("releases.col_size", "Größe", "Size"),
    ("releases.col_uploaded", "Hochgeladen", "Uploaded"),
    ("releases.col_sha", "SHA-256", "SHA-256"),
    ("releases.col_assigned", "Zugewiesen", "Assigned"),
    ("releases.col_running", "Läuft auf", "Running on"),
    ("releases.upload", "Version hochladen", "Upload a version"),
    ("releases.file", "Player-Datei", "Player binary"),
    (
        "releases.line",
        "Ausgabe von „player-release sign“ (eine JSON-Zeile)",
        "Output of “player-release sign” (one JSON line)",
    ),
    (
        "releases.line_help",
        "Einfügen füllt die Felder darunter; sie lassen sich auch einzeln eintragen.",
        "Pasting fills the fields below; they can also be entered one by one.",
    ),
    ("releases.version", "Version", "Version"),
    (
        "releases.sha256",
        "SHA-256 (64 Hex-Ziffern)",
        "SHA-256 (64 hex digits)",
    ),
    (
        "releases.signature",
        "Signatur (128 Hex-Ziffern)",
        "Signature (128 hex digits)",
    ),
    ("releases.send", "Hochladen", "Upload"),
    ("releases.assign", "Zuweisen", "Assign"),
    ("releases.release", "Version", "Version"),
    (
        "releases.none",
        "Keine (Zuweisung aufheben)",
        "None (clear the assignment)",
    ),
    ("releases.target", "Für", "For"),
    ("releases.all", "Alle Bildschirme", "All displays"),
    (
        "releases.all_help",
        "außer denen mit eigener Zuweisung",
        "except those with an assignment of their own",
    ),
    (
        "releases.chosen",
        "Ausgewählte Bildschirme",
        "Chosen displays",
    ),
    ("releases.displays", "Bildschirme", "Displays"),
    ("releases.col_display", "Bildschirm", "Display"),
    ("releases.col_runs", "Läuft", "Runs"),
    ("releases.col_told", "Soll laufen", "Should run"),
    ("releases.col_problems", "Probleme", "Problems"),
    ("releases.save", "Zuweisung speichern", "Save assignment"),
    (
        "js.releases_empty",
        "Noch keine Version hochgeladen.",
        "No version uploaded yet.",
    ),
    ("js.releases_global", "alle", "all"),
    (
        "js.releases_current_global",
        "Für alle Bildschirme: {version}",
        "For all displays: {version}",
    ),
    (
        "js.releases_current_none",
        "Keine Version für alle Bildschirme zugewiesen: sie behalten, was sie haben.",
        "No version assigned to all displays: they keep what they have.",
    ),
    ("js.releases_displays", "{n} Bildschirme", "{n} displays"),
    ("js.releases_by", "von", "by"),
    (
        "js.releases_sha_full",
        "SHA-256 vollständig",
        "Full SHA-256",
    ),
    ("js.releases_own", "{version} (eigene)", "{version} (own)"),
    (
        "js.releases_via_all",
        "{version} (über „alle“)",
        "{version} (through “all”)",
    ),
    (
        "js.releases_bad_line",
        "Die Zeile ist kein JSON von „player-release sign“:",
        "The line is not JSON from “player-release sign”:",
    ),
    (
        "js.releases_need_file",
        "Bitte die Player-Datei wählen.",
        "Please choose the player binary.",
    ),
    (
        "js.releases_need_fields",
        "Bitte Version, SHA-256 und Signatur angeben.",
        "Please give the version, SHA-256 and signature.",
    ),
    ("js.releases_uploading", "Wird hochgeladen …", "Uploading …"),
    ("js.releases_progress", "Fortschritt", "Progress"),
    ("js.releases_refused", "Nicht hochgeladen:", "Not uploaded:"),
    (
        "js.releases_uploaded",
        "Version {version} hochgeladen.",
        "Version {version} uploaded.",
    ),
    (
        "js.releases_need_display",
        "Bitte mindestens einen Bildschirm auswählen.",
        "Please choose at least one display.",
    ),
    (
        "js.releases_assigned",
        "Zuweisung gespeichert.",
        "Assignment saved.",
    ),
    (
        "js.releases_not_assigned",
        "Nicht gespeichert:",
        "Not saved:",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::i18n::assert_scripts_texts;

    /// The page's scripts ask only for texts that exist.
    #[test]
    fn every_text_the_scripts_ask_for_is_there() {
        assert_scripts_texts(
            &[
                ("releases.js", include_str!("../../web/static/releases.js")),
                (
                    "release-upload.js",
                    include_str!("../../web/static/release-upload.js"),
                ),
            ],
            &["t", "filled"],
        );
    }
}
