//! The console's council-room page (`/konsole/rat`).

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/rat", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/council-room.html"),
    title: "{{t:room.title}} – {{t:console.name}}",
    scripts: &["council-room.js"],
    styles: &["council-room.css"],
    section: "council-room",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("room.title", "Ratssitzung steuern", "Council control room"),
    ("room.meeting", "Sitzung", "Meeting"),
    ("room.broadcast", "Übertragung", "Broadcast"),
    ("room.start", "Übertragung starten", "Start broadcast"),
    ("room.stop", "Übertragung beenden", "Stop broadcast"),
    (
        "room.next",
        "Nächster Tagesordnungspunkt",
        "Next agenda item",
    ),
    ("room.closed", "Nichtöffentlicher Teil", "Closed part"),
    ("room.agenda", "Tagesordnung", "Agenda"),
    ("room.speaker", "Redner/in", "Speaker"),
    ("js.room_speaker_none", "Keine Bauchbinde", "No lower third"),
    ("room.speaker_show", "Bauchbinde zeigen", "Show lower third"),
    ("room.camera", "Kamera", "Camera"),
    ("room.picture", "Sendebild", "Programme picture"),
    ("room.status", "Zustand des Encoders", "Encoder status"),
    ("js.room_go", "Aufrufen", "Go to"),
    ("js.room_current", "läuft", "on air"),
    ("js.room_closed_item", "nichtöffentlich", "closed"),
    (
        "js.room_no_meetings",
        "Keine Sitzung angelegt.",
        "No meeting yet.",
    ),
    (
        "js.room_no_broadcaster",
        "Kein Encoder verbunden.",
        "No encoder connected.",
    ),
    ("js.room_connected", "verbunden", "connected"),
    ("js.room_disconnected", "nicht verbunden", "not connected"),
    ("js.room_state", "Zustand", "State"),
    ("js.room_bitrate", "Datenrate", "Bitrate"),
    ("js.room_dropped", "verworfene Bilder", "dropped frames"),
    ("js.room_audio", "Tonpegel", "Audio level"),
    ("js.room_disk", "Speicher frei", "Disk free"),
    (
        "js.room_delivered",
        "Befehl an {n} Encoder übermittelt.",
        "Command delivered to {n} encoder(s).",
    ),
    ("js.room_planned", "geplant", "planned"),
    ("js.room_live", "live", "live"),
    ("js.room_ended", "beendet", "ended"),
    ("js.room_on", "an", "on"),
    ("js.room_off", "aus", "off"),
];
