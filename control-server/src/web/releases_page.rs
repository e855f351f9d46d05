//! The console's page of player releases (`/konsole/versionen`): the signed
//! player binaries uploaded, which displays are told to run which and which
//! run it, an upload form that takes the line `player-release sign` printed,
//! and the assignment to all displays or chosen ones. Everything goes through
//! `/api/releases`, so the page authorizes as the API does: every staff member
//! sees the releases, only admins upload and assign (the forms are hidden for
//! others rather than failing on submit). The intro says what the server
//! checks, which depends on whether it was given the release key
//! (`--release-key`): a page that claimed a check the server does not make,
//! or left out one it makes, would mislead the admin deciding what to assign.

use super::console::{StaffPage, staff_route_with};
use super::i18n::{Lang, text};
use crate::state::AppState;
use axum::Router;
use content::release::ReleaseKey;

pub fn routes() -> Router<AppState> {
    staff_route_with("/konsole/versionen", &PAGE, |s, lang| {
        vec![("intro", intro(s.release_key.as_ref(), lang))]
    })
}

/// The page's intro: with a key, naming its fingerprint.
fn intro(key: Option<&ReleaseKey>, lang: Lang) -> String {
    match key {
        Some(key) => text(lang, "releases.intro_key")
            .unwrap_or_default()
            .replace("{fingerprint}", &key.fingerprint()),
        None => text(lang, "releases.intro").unwrap_or_default().to_owned(),
    }
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
        "releases.intro_key",
        "Signierte Versionen der Bildschirm-Software. Der Server prüft Form, Prüfsumme und Größe und die Signatur mit dem Freigabe-Schlüssel {fingerprint}…: Was nicht dazu passt, nimmt er nicht an und weist er nicht zu. Jeder Bildschirm prüft die Signatur noch einmal mit dem Schlüssel in seinem Abbild und behält sonst seine Version.",
        "Signed versions of the display software. The server checks form, checksum and size, and the signature against the release key {fingerprint}…: it neither takes nor assigns a version that does not match it. Each display checks the signature again against the key in its image, and otherwise keeps its version.",
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
    ("releases.col_signature", "Signatur", "Signature"),
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
    // `signature_check` of `GET /api/releases`.
    ("js.releases_check_verified", "geprüft", "checked"),
    (
        "js.releases_check_mismatch",
        "passt nicht zum Schlüssel",
        "does not match the key",
    ),
    (
        "js.releases_check_no_key",
        "nicht geprüft: kein Schlüssel konfiguriert",
        "not checked: no key configured",
    ),
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
    use super::super::i18n::{Lang, assert_scripts_texts};
    use super::*;

    /// Without a key the intro is today's; with one it names the key in
    /// both languages and says uploads and assignments are checked.
    #[test]
    fn the_intro_says_what_the_server_checks() {
        assert!(intro(None, Lang::En).contains("each display checks"));
        assert!(intro(None, Lang::De).contains("prüft jeder Bildschirm"));
        let key = ReleaseKey::parse(&format!(
            "# key\n{}\n",
            "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
        ))
        .unwrap();
        for (lang, says) in [
            (Lang::De, "mit dem Freigabe-Schlüssel 3b6a27bcceb6a42d…"),
            (Lang::En, "against the release key 3b6a27bcceb6a42d…"),
        ] {
            let text = intro(Some(&key), lang);
            assert!(text.contains(says), "{text}");
            assert!(!text.contains('{'), "{text}");
        }
    }

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
