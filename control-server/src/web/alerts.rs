//! The console's alerts page (`/konsole/warnungen`).

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/warnungen", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/alerts.html"),
    title: "{{t:alerts.title}} – {{t:console.name}}",
    scripts: &["alerts.js"],
    styles: &["alerts.css"],
    section: "alerts",
};

/// (key, German, English), see [`super::i18n`]. Script texts (`js.alerts_…`)
/// may hold `{n}`-style slots the script fills.
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("alerts.title", "Warnungen", "Alerts"),
    ("alerts.compose", "Neue Warnung", "New alert"),
    (
        "alerts.readonly",
        "Warnungen vorschlagen darf die Redaktion; freigeben, ohne Freigabe senden und aufheben nur Freigabe und Verwaltung.",
        "Editors may propose alerts; only publishers and admins approve, send without approval and cancel them.",
    ),
    ("alerts.headline", "Überschrift", "Headline"),
    (
        "alerts.headline_hint",
        "Kurz und eindeutig, z. B. „Großbrand in Kaarst-Büttgen“.",
        "Short and clear, e.g. “Large fire in Kaarst-Büttgen”.",
    ),
    (
        "alerts.instruction",
        "Handlungsempfehlung",
        "What people should do",
    ),
    (
        "alerts.instruction_hint",
        "Zum Beispiel: „Fenster und Türen schließen.“",
        "For example: “Close windows and doors.”",
    ),
    (
        "alerts.description",
        "Beschreibung (optional)",
        "Description (optional)",
    ),
    ("alerts.severity", "Schwere", "Severity"),
    (
        "alerts.sev_extreme",
        "Extrem (Vollbild)",
        "Extreme (full screen)",
    ),
    (
        "alerts.sev_severe",
        "Schwer (Vollbild)",
        "Severe (full screen)",
    ),
    (
        "alerts.sev_moderate",
        "Mäßig (Laufband)",
        "Moderate (banner)",
    ),
    ("alerts.sev_minor", "Gering (Laufband)", "Minor (banner)"),
    ("alerts.kind", "Art", "Type"),
    ("alerts.kind_actual", "Echte Warnung", "Real alert"),
    ("alerts.kind_exercise", "Übung", "Exercise"),
    ("alerts.kind_test", "Technischer Test", "Technical test"),
    (
        "alerts.kind_hint",
        "Übungen erscheinen als „Übung“ gekennzeichnet; technische Tests werden gespeichert, aber nie auf Bildschirmen gezeigt.",
        "Exercises are shown marked as a drill; technical tests are stored but never shown on screens.",
    ),
    (
        "alerts.expires",
        "Gültig bis (optional)",
        "Valid until (optional)",
    ),
    (
        "alerts.expires_hint",
        "Leer lassen: gilt, bis sie aufgehoben wird.",
        "Leave empty: valid until cancelled.",
    ),
    ("alerts.area", "Gebiet", "Area"),
    (
        "alerts.districts",
        "Kreise und Gemeinden der Bildschirme",
        "Districts and municipalities of the displays",
    ),
    (
        "alerts.no_districts",
        "Noch keine Bildschirme eingerichtet.",
        "No displays set up yet.",
    ),
    (
        "alerts.map_help",
        "Karte der Bildschirme: mit gedrückter Maustaste ein Rechteck ziehen, um ein Gebiet zu wählen. Ohne Maus: Rechteck als Koordinaten eingeben.",
        "Map of the displays: drag a rectangle with the mouse to choose an area. Without a mouse: enter the rectangle as coordinates.",
    ),
    (
        "alerts.map_title",
        "Karte der Bildschirme und des gewählten Rechtecks",
        "Map of the displays and the chosen rectangle",
    ),
    (
        "alerts.box",
        "Rechteck als Koordinaten",
        "Rectangle as coordinates",
    ),
    (
        "alerts.north",
        "Nördliche Breite (Nord)",
        "Latitude (north edge)",
    ),
    (
        "alerts.south",
        "Nördliche Breite (Süd)",
        "Latitude (south edge)",
    ),
    (
        "alerts.west",
        "Östliche Länge (West)",
        "Longitude (west edge)",
    ),
    (
        "alerts.east",
        "Östliche Länge (Ost)",
        "Longitude (east edge)",
    ),
    ("alerts.box_clear", "Rechteck entfernen", "Remove rectangle"),
    (
        "alerts.carried_clear",
        "Übernommene Flächen entfernen",
        "Remove taken-over shapes",
    ),
    (
        "alerts.area_description",
        "Gebietsbeschreibung (optional)",
        "Area description (optional)",
    ),
    (
        "alerts.area_description_hint",
        "Wie das Gebiet auf den Bildschirmen heißt, z. B. „Kaarst“. Leer: die gewählten Schlüssel.",
        "What the screens call the area, e.g. “Kaarst”. Empty: the chosen keys.",
    ),
    (
        "alerts.bypass",
        "Notfall: sofort senden, ohne Freigabe durch eine zweite Person",
        "Emergency: send at once, without a second person's approval",
    ),
    (
        "alerts.bypass_hint",
        "Nur wenn keine zweite Person rechtzeitig freigeben kann. Der Grund wird protokolliert.",
        "Only when no second person can approve in time. The reason is logged.",
    ),
    (
        "alerts.bypass_reason",
        "Grund für das Senden ohne Freigabe",
        "Reason for sending without approval",
    ),
    (
        "alerts.submit",
        "Zur Freigabe einreichen",
        "Submit for approval",
    ),
    ("alerts.reset", "Formular leeren", "Clear form"),
    ("alerts.list", "Alle Warnungen", "All alerts"),
    (
        "alerts.list_hint",
        "Aktive zuerst. Empfangsbestätigungen der Bildschirme erscheinen laufend.",
        "Active ones first. The displays' receipts appear as they come in.",
    ),
    ("alerts.none", "Noch keine Warnungen.", "No alerts yet."),
    (
        "js.alerts_submit",
        "Zur Freigabe einreichen",
        "Submit for approval",
    ),
    ("js.alerts_send_now", "Sofort senden", "Send now"),
    ("js.alerts_district", "Kreis", "District"),
    ("js.alerts_municipality", "Gemeinde", "Municipality"),
    (
        "js.alerts_displays_count",
        "{n} Bildschirme",
        "{n} displays",
    ),
    ("js.alerts_displays_count_one", "1 Bildschirm", "1 display"),
    (
        "js.alerts_reach",
        "Erreicht {reached} von {n} Bildschirmen.",
        "Reaches {reached} of {n} displays.",
    ),
    (
        "js.alerts_reach_one",
        "Erreicht {reached} von 1 Bildschirm.",
        "Reaches {reached} of 1 display.",
    ),
    (
        "js.alerts_reach_none",
        "Noch kein Gebiet gewählt.",
        "No area chosen yet.",
    ),
    (
        "js.alerts_carried",
        "Aus der übernommenen Warnung: {n} weitere Flächen (Polygone oder Kreise).",
        "From the taken-over alert: {n} more shapes (polygons or circles).",
    ),
    (
        "js.alerts_box_on_map",
        "Rechteck auf der Karte",
        "Rectangle on the map",
    ),
    (
        "js.alerts_area_taken_over",
        "Übernommenes Gebiet",
        "Taken-over area",
    ),
    (
        "js.alerts_need_headline",
        "Bitte eine Überschrift eingeben.",
        "Please enter a headline.",
    ),
    (
        "js.alerts_need_area",
        "Bitte ein Gebiet wählen: einen Kreis, eine Gemeinde oder ein Rechteck.",
        "Please choose an area: a district, a municipality or a rectangle.",
    ),
    (
        "js.alerts_need_future",
        "„Gültig bis“ muss in der Zukunft liegen.",
        "“Valid until” must be in the future.",
    ),
    (
        "js.alerts_need_reason",
        "Bitte den Grund für das Senden ohne Freigabe angeben.",
        "Please give the reason for sending without approval.",
    ),
    (
        "js.alerts_create_failed",
        "Die Warnung wurde nicht angelegt",
        "The alert was not created",
    ),
    (
        "js.alerts_proposed",
        "„{headline}“ wartet auf Freigabe durch eine zweite Person.",
        "“{headline}” awaits approval by a second person.",
    ),
    (
        "js.alerts_sent",
        "„{headline}“ wurde ohne Freigabe gesendet.",
        "“{headline}” was sent without approval.",
    ),
    (
        "js.alerts_approve_done",
        "„{headline}“ ist freigegeben und gesendet.",
        "“{headline}” is approved and sent.",
    ),
    (
        "js.alerts_cancel_done",
        "„{headline}“ ist aufgehoben.",
        "“{headline}” is cancelled.",
    ),
    (
        "js.alerts_approve_failed",
        "Freigabe nicht möglich",
        "Approval failed",
    ),
    (
        "js.alerts_cancel_failed",
        "Aufheben nicht möglich",
        "Cancelling failed",
    ),
    (
        "js.alerts_load_failed",
        "Die Warnungen konnten nicht geladen werden",
        "The alerts could not be loaded",
    ),
    (
        "js.alerts_taken_over",
        "Übernommen aus {source}, Warnung {id}. Dies wird eine neue Warnung, die freigegeben werden muss; die ursprüngliche bleibt bestehen.",
        "Taken over from {source}, alert {id}. This becomes a new alert that needs approval; the original stays as it is.",
    ),
    ("js.alerts_source_staff", "Manuell", "Manual"),
    (
        "js.alerts_official",
        "Amtlich, ohne Freigabe",
        "Official, no approval",
    ),
    (
        "js.alerts_bypassed",
        "Ohne Freigabe (Notfall)",
        "Without approval (emergency)",
    ),
    ("js.alerts_keys", "Schlüssel", "Keys"),
    ("js.alerts_polygons", "{n} Polygone", "{n} polygons"),
    ("js.alerts_circles", "{n} Kreisflächen", "{n} circles"),
    ("js.alerts_source", "Quelle", "Source"),
    ("js.alerts_author", "Verfasst von", "Author"),
    ("js.alerts_approver", "Freigegeben von", "Approved by"),
    ("js.alerts_sent_at", "Gesendet", "Sent"),
    ("js.alerts_expires_at", "Gültig bis", "Valid until"),
    ("js.alerts_cancelled_at", "Aufgehoben", "Cancelled"),
    ("js.alerts_area", "Gebiet", "Area"),
    (
        "js.alerts_test_not_sent",
        "Technischer Test: wird an keinen Bildschirm gesendet.",
        "Technical test: not sent to any display.",
    ),
    (
        "js.alerts_loading",
        "Empfangsbestätigungen werden geladen …",
        "Loading receipts …",
    ),
    (
        "js.alerts_no_targets",
        "Kein Bildschirm liegt in diesem Gebiet.",
        "No display lies in this area.",
    ),
    (
        "js.alerts_will_reach",
        "Wird nach der Freigabe {n} Bildschirme erreichen.",
        "Will reach {n} displays once approved.",
    ),
    (
        "js.alerts_will_reach_one",
        "Wird nach der Freigabe 1 Bildschirm erreichen.",
        "Will reach 1 display once approved.",
    ),
    (
        "js.alerts_receipt_summary",
        "Empfangen: {received} von {n} Bildschirmen, angezeigt: {shown}.",
        "Received by {received} of {n} displays, shown by {shown}.",
    ),
    (
        "js.alerts_receipt_summary_one",
        "Empfangen: {received} von 1 Bildschirm, angezeigt: {shown}.",
        "Received by {received} of 1 display, shown by {shown}.",
    ),
    (
        "js.alerts_receipts_of",
        "Empfangsbestätigungen für",
        "Receipts for",
    ),
    ("js.alerts_col_display", "Bildschirm", "Display"),
    ("js.alerts_col_state", "Stand", "State"),
    ("js.alerts_col_received", "Empfangen", "Received"),
    ("js.alerts_col_shown", "Angezeigt", "Shown"),
    ("js.alerts_receipt_open", "ausstehend", "waiting"),
    ("js.alerts_receipt_received", "empfangen", "received"),
    ("js.alerts_receipt_shown", "angezeigt", "shown"),
    (
        "js.alerts_own",
        "Sie haben diese Warnung verfasst: eine zweite Person mit Freigaberecht muss sie freigeben.",
        "You wrote this alert: a second person who may publish must approve it.",
    ),
    (
        "js.alerts_approve",
        "Freigeben und senden",
        "Approve and send",
    ),
    ("js.alerts_cancel", "Aufheben", "Cancel alert"),
    (
        "js.alerts_take_over",
        "Als Vorlage übernehmen",
        "Use as template",
    ),
    (
        "js.alerts_state_pending",
        "Wartet auf Freigabe",
        "Awaiting approval",
    ),
    ("js.alerts_state_active", "Aktiv", "Active"),
    ("js.alerts_state_cancelled", "Aufgehoben", "Cancelled"),
    ("js.alerts_state_expired", "Abgelaufen", "Expired"),
    ("js.alerts_sev_extreme", "Extrem", "Extreme"),
    ("js.alerts_sev_severe", "Schwer", "Severe"),
    ("js.alerts_sev_moderate", "Mäßig", "Moderate"),
    ("js.alerts_sev_minor", "Gering", "Minor"),
    ("js.alerts_sev_unknown", "Unbekannt", "Unknown"),
    ("js.alerts_kind_actual", "Warnung", "Alert"),
    ("js.alerts_kind_exercise", "Übung", "Exercise"),
    ("js.alerts_kind_test", "Test", "Test"),
];
