//! The console's content library (`/konsole/inhalte`): uploads by drag and
//! drop or file picker with progress, the assets with thumbnails, the items
//! with tags and validity, and announcements written in a form beside a live
//! preview of the card.

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/inhalte", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/library.html"),
    title: "{{t:library.title}} – {{t:console.name}}",
    scripts: &["library.js"],
    styles: &["library.css"],
    section: "library",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("library.title", "Inhalte", "Content"),
    ("library.upload", "Dateien hochladen", "Upload files"),
    (
        "library.drop",
        "Bilder oder Videos hierher ziehen oder auswählen",
        "Drag images or videos here, or choose them",
    ),
    ("library.choose", "Dateien auswählen", "Choose files"),
    ("library.assets", "Dateien", "Files"),
    ("library.items", "Beiträge", "Items"),
    ("library.tag_filter", "Schlagwort", "Tag"),
    ("library.all_tags", "Alle Schlagwörter", "All tags"),
    ("library.new", "Neue Ankündigung", "New announcement"),
    ("library.name", "Name (intern)", "Name (internal)"),
    ("library.heading", "Überschrift", "Headline"),
    ("library.body", "Text", "Text"),
    ("library.image", "Bild (optional)", "Image (optional)"),
    ("library.no_image", "Kein Bild", "No image"),
    (
        "library.tags",
        "Schlagwörter (durch Komma getrennt)",
        "Tags (comma separated)",
    ),
    ("library.valid_from", "Gültig ab", "Valid from"),
    ("library.expires", "Gültig bis", "Valid until"),
    (
        "library.duration",
        "Anzeigedauer in Sekunden",
        "Showing time in seconds",
    ),
    ("library.save", "Ankündigung speichern", "Save announcement"),
    (
        "library.preview",
        "Vorschau (ungefähr; die genaue zeigt die Seite Vorschau)",
        "Preview (approximate; the exact one is on the Preview page)",
    ),
    ("library.col_name", "Name", "Name"),
    ("library.col_kind", "Art", "Kind"),
    ("library.col_tags", "Schlagwörter", "Tags"),
    ("library.col_valid", "Gültigkeit", "Validity"),
    ("library.col_approval", "Freigabe", "Approval"),
    (
        "library.approval_switch",
        "Inhalte brauchen die Freigabe einer Person mit Freigaberecht, bevor sie auf die Bildschirme kommen",
        "Content needs a publisher's approval before it reaches the displays",
    ),
    ("js.library_approved", "freigegeben von", "approved by"),
    (
        "js.library_waiting",
        "wartet auf Freigabe",
        "awaiting approval",
    ),
    ("js.library_not_needed", "nicht nötig", "not needed"),
    ("js.library_approve", "Freigeben", "Approve"),
    (
        "js.library_approval_on",
        "Freigabe ist eingeschaltet.",
        "Approval is on.",
    ),
    (
        "js.library_approval_off",
        "Freigabe ist ausgeschaltet.",
        "Approval is off.",
    ),
    ("js.library_uploading", "wird hochgeladen", "uploading"),
    ("js.library_uploaded", "hochgeladen", "uploaded"),
    ("js.library_failed", "abgelehnt", "refused"),
    ("js.library_progress", "Fortschritt", "Progress"),
    ("js.library_saved", "Gespeichert.", "Saved."),
    ("js.library_always", "immer", "always"),
    ("js.library_from", "ab", "from"),
    ("js.library_until", "bis", "until"),
    ("js.library_thumb_of", "Vorschaubild von", "Thumbnail of"),
    (
        "js.library_no_items",
        "Noch keine Beiträge.",
        "No items yet.",
    ),
];
