//! The admin's console pages: user management (`/konsole/benutzer`: accounts,
//! roles, language, disabling, new passwords) and the audit log
//! (`/konsole/protokoll`). Other roles see the API's refusal in words.

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/benutzer", &USERS).merge(staff_route("/konsole/protokoll", &AUDIT))
}

static USERS: StaffPage = StaffPage {
    body: include_str!("../../web/pages/users.html"),
    title: "{{t:users.title}} – {{t:console.name}}",
    scripts: &["users.js"],
    styles: &[],
    section: "users",
};

static AUDIT: StaffPage = StaffPage {
    body: include_str!("../../web/pages/audit.html"),
    title: "{{t:audit.title}} – {{t:console.name}}",
    scripts: &["audit.js"],
    styles: &[],
    section: "audit",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("users.title", "Benutzer", "Users"),
    ("users.new", "Neues Konto", "New account"),
    ("users.username", "Benutzername", "Username"),
    (
        "users.password",
        "Passwort (mindestens 12 Zeichen)",
        "Password (at least 12 characters)",
    ),
    ("users.role", "Rolle", "Role"),
    ("users.language", "Sprache", "Language"),
    ("users.create", "Konto anlegen", "Create account"),
    ("users.accounts", "Konten", "Accounts"),
    (
        "users.roles_help",
        "Betrachter sehen alles; Redaktion plant Inhalte und führt Sitzungen; Freigabe startet Übertragungen und gibt Warnungen frei; Verwaltung pflegt Konten.",
        "Viewers see everything; editors schedule content and run sessions; publishers start broadcasts and approve alerts; admins manage accounts.",
    ),
    ("role.viewer", "Betrachter", "Viewer"),
    ("role.editor", "Redaktion", "Editor"),
    ("role.publisher", "Freigabe", "Publisher"),
    ("role.admin", "Verwaltung", "Admin"),
    ("lang.de", "Deutsch", "German"),
    ("lang.en", "Englisch", "English"),
    ("js.users_disabled", "gesperrt", "disabled"),
    ("js.users_active", "aktiv", "active"),
    ("js.users_disable", "Sperren", "Disable"),
    ("js.users_enable", "Entsperren", "Enable"),
    ("js.users_save", "Speichern", "Save"),
    ("js.users_created", "Konto angelegt.", "Account created."),
    ("js.users_saved", "Gespeichert.", "Saved."),
    ("js.users_role_of", "Rolle von", "Role of"),
    ("js.users_state", "Zustand", "State"),
    ("audit.title", "Protokoll", "Audit log"),
    (
        "audit.intro",
        "Jede Änderung mit Zeit, Person und Inhalt, neueste zuerst.",
        "Every change with time, person and content, newest first.",
    ),
    ("audit.col_at", "Zeit", "Time"),
    ("audit.col_actor", "Person", "Person"),
    ("audit.col_action", "Aktion", "Action"),
    ("audit.col_target", "Ziel", "Target"),
    ("audit.col_detail", "Einzelheiten", "Details"),
    ("audit.more", "Ältere Einträge", "Older entries"),
];
