//! German and English for the web pages. German is the default: the towns are
//! German, and staff who prefer English choose it per user.
//!
//! One table holds every text, so a missing translation is a test failure
//! (`every_key_in_the_pages_is_translated`), not an empty spot on a page.

use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` wins, then the `lang` cookie (set by the language switch), then the
    /// browser's first language we have; German otherwise.
    pub fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        if let Some(l) = crate::auth::cookie_in(headers, "lang").and_then(Lang::parse) {
            return l;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(Lang::parse))
            .unwrap_or(Lang::De)
    }
}

/// The text for `key`; `None` for an unknown key.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    // Every page fills dozens of keys: look them up in an index built once.
    static INDEX: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    let index = INDEX.get_or_init(|| all().map(|(k, de, en)| (*k, (*de, *en))).collect());
    index.get(key).map(|(de, en)| match lang {
        Lang::De => *de,
        Lang::En => *en,
    })
}

/// Texts the pages' scripts put together themselves (states, counts, errors):
/// keys starting with `js.`, as the JSON a page embeds (`<` escaped so it cannot
/// end its element). The same for every page of a language: built once.
pub fn script_texts(lang: Lang) -> &'static str {
    static JSON: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    JSON[lang as usize].get_or_init(|| {
        serde_json::Value::Object(
            all()
                .filter_map(|(k, de, en)| {
                    let short = k.strip_prefix("js.")?;
                    let t = if lang == Lang::De { de } else { en };
                    Some((short.to_owned(), (*t).into()))
                })
                .collect(),
        )
        .to_string()
        .replace('<', "\\u003c")
    })
}

/// Every table: the shared one and one per console area (each area's texts
/// live beside its page's handler, so areas grow without touching each other).
fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    [
        TEXTS,
        super::alerts::TEXTS,
        super::council_room::TEXTS,
        super::feed_health::TEXTS,
        super::admin::TEXTS,
        super::display_preview::TEXTS,
        super::display_page::TEXTS,
        super::display_logs::TEXTS,
        super::library::TEXTS,
        super::releases_page::TEXTS,
        super::schedule_editor::TEXTS,
    ]
    .into_iter()
    .flatten()
}

/// (key, German, English).
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("site.name", "Bürgerinformation", "Citizen information"),
    ("nav.label", "Hauptnavigation", "Main navigation"),
    ("nav.home", "Start", "Home"),
    ("nav.tv", "Ratsfernsehen live", "Council TV live"),
    ("nav.archive", "Archiv", "Archive"),
    ("nav.opendata", "Offene Daten", "Open data"),
    ("nav.staff", "Für Mitarbeitende", "Staff login"),
    ("nav.skip", "Zum Inhalt springen", "Skip to content"),
    ("lang.switch", "English", "Deutsch"),
    ("lang.other", "en", "de"),
    ("lang.switch_label", "Sprache wechseln", "Change language"),
    (
        "footer.note",
        "Alle Inhalte werden von diesem Server ausgeliefert, ohne Dienste Dritter.",
        "Everything on this site is served by this server, without third-party services.",
    ),
    // The portal.
    (
        "home.title",
        "Rat, Stadtbildschirme und offene Daten",
        "Council, town displays and open data",
    ),
    (
        "home.intro",
        "Ratssitzungen live und im Archiv, Daten der Stadtbildschirme und Sensoren.",
        "Council sessions live and in the archive, data from the town's displays and sensors.",
    ),
    (
        "home.tv",
        "Ratssitzungen live verfolgen",
        "Watch council sessions live",
    ),
    (
        "home.archive",
        "Vergangene Sitzungen ansehen",
        "Watch past sessions",
    ),
    (
        "home.opendata",
        "Offene Daten der Stadt nutzen",
        "Use the town's open data",
    ),
    // Council TV.
    ("tv.title", "Ratsfernsehen", "Council TV"),
    (
        "tv.player",
        "Livebild der Sitzung",
        "Live picture of the session",
    ),
    ("tv.agenda", "Tagesordnung", "Agenda"),
    ("tv.now", "Jetzt", "Now"),
    (
        "tv.keys",
        "Tastatur: Leertaste oder K startet und hält an, M schaltet den Ton stumm, F wechselt in den Vollbildmodus.",
        "Keyboard: space or K plays and pauses, M mutes, F toggles full screen.",
    ),
    ("js.live", "Live", "Live"),
    (
        "js.not_live",
        "Zurzeit wird keine Sitzung übertragen.",
        "No session is being broadcast right now.",
    ),
    ("js.next", "Nächste Sitzung", "Next session"),
    (
        "js.none_planned",
        "Keine Sitzung geplant.",
        "No session planned.",
    ),
    (
        "js.closed",
        "Nichtöffentlicher Teil: Die Übertragung ist unterbrochen.",
        "Closed part: the broadcast is interrupted.",
    ),
    ("js.speaker", "Es spricht", "Speaking"),
    (
        "js.play_failed",
        "Das Video kann in diesem Browser nicht abgespielt werden.",
        "This browser cannot play the video.",
    ),
    (
        "js.load_failed",
        "Die Daten konnten nicht geladen werden. Neuer Versuch in Kürze.",
        "The data could not be loaded. Trying again shortly.",
    ),
    (
        "js.current_item",
        "Aktueller Tagesordnungspunkt",
        "Current agenda item",
    ),
    // Archive.
    (
        "archive.title",
        "Archiv der Ratssitzungen",
        "Council session archive",
    ),
    (
        "archive.search",
        "Nach Tagesordnungspunkt suchen",
        "Search by agenda item",
    ),
    ("archive.search_button", "Suchen", "Search"),
    ("archive.results", "Sitzungen", "Sessions"),
    (
        "js.no_results",
        "Keine Sitzung gefunden.",
        "No session found.",
    ),
    ("js.chapters", "Kapitel", "Chapters"),
    ("js.duration", "Dauer", "Duration"),
    ("recording.title", "Aufzeichnung", "Recording"),
    (
        "recording.player",
        "Aufzeichnung der Sitzung",
        "Recording of the session",
    ),
    ("recording.chapters", "Kapitel", "Chapters"),
    (
        "recording.download",
        "Herunterladen (MP4)",
        "Download (MP4)",
    ),
    (
        "recording.embed",
        "Auf der eigenen Website einbinden",
        "Embed on your website",
    ),
    (
        "recording.embed_label",
        "HTML-Code zum Einbinden",
        "HTML code to embed",
    ),
    ("recording.back", "Zurück zum Archiv", "Back to the archive"),
    (
        "js.not_found",
        "Diese Aufzeichnung gibt es nicht (mehr).",
        "This recording does not exist (any more).",
    ),
    ("js.closed_chapter", "Nichtöffentlicher Teil", "Closed part"),
    // Open data.
    ("opendata.title", "Offene Daten", "Open data"),
    (
        "opendata.intro",
        "Die Stadt stellt diese Daten frei zur Verfügung. Alle Schnittstellen liefern ohne Anmeldung maschinenlesbare Daten.",
        "The town provides these data openly. Every interface serves machine-readable data without a login.",
    ),
    ("opendata.licence", "Lizenz", "Licence"),
    (
        "opendata.attribution",
        "Bitte nennen Sie die Stadt als Quelle.",
        "Please name the town as the source.",
    ),
    (
        "opendata.sensors",
        "Messwerte der Sensoren (SensorThings API 1.1)",
        "Sensor readings (SensorThings API 1.1)",
    ),
    (
        "opendata.sensors_csv",
        "Messwerte als CSV",
        "Readings as CSV",
    ),
    (
        "opendata.displays",
        "Standorte der Stadtbildschirme (GeoJSON)",
        "Locations of the town displays (GeoJSON)",
    ),
    (
        "opendata.transit_alerts",
        "Störungsmeldungen im Nahverkehr (JSON)",
        "Public transport service alerts (JSON)",
    ),
    (
        "opendata.council",
        "Ratssitzungen live (JSON)",
        "Council sessions live (JSON)",
    ),
    (
        "opendata.archive",
        "Archiv der Ratssitzungen mit Kapiteln (JSON)",
        "Council session archive with chapters (JSON)",
    ),
    (
        "opendata.api",
        "Beschreibung aller Schnittstellen (OpenAPI)",
        "Description of every interface (OpenAPI)",
    ),
    // Staff console.
    (
        "console.name",
        "Steuerung der Stadtbildschirme",
        "Town display control",
    ),
    ("console.nav", "Steuerung", "Console"),
    ("console.dashboard", "Übersicht", "Dashboard"),
    ("console.logout", "Abmelden", "Log out"),
    ("console.signed_in", "Angemeldet als", "Signed in as"),
    ("login.title", "Anmelden", "Log in"),
    ("login.username", "Benutzername", "Username"),
    ("login.password", "Passwort", "Password"),
    ("login.submit", "Anmelden", "Log in"),
    (
        "dashboard.title",
        "Übersicht der Bildschirme",
        "Displays at a glance",
    ),
    ("dashboard.filter", "Gruppe", "Group"),
    ("dashboard.all", "Alle Gruppen", "All groups"),
    ("dashboard.displays", "Bildschirme", "Displays"),
    (
        "dashboard.map",
        "Lage der Bildschirme (Norden oben; rot: offline, grün: online)",
        "Where the displays stand (north up; red: offline, green: online)",
    ),
    ("dashboard.col_display", "Bildschirm", "Display"),
    ("dashboard.col_state", "Zustand", "State"),
    ("dashboard.col_health", "Gesundheit", "Health"),
    ("dashboard.col_playing", "Läuft gerade", "Playing now"),
    ("dashboard.col_screenshot", "Bildschirmfoto", "Screenshot"),
    ("js.online", "online", "online"),
    ("js.offline", "offline", "offline"),
    ("js.never_seen", "noch nie verbunden", "never connected"),
    ("js.last_seen", "zuletzt", "last seen"),
    ("js.temperature", "Temperatur", "Temperature"),
    ("js.fps", "Bilder/s", "frames/s"),
    ("js.disk_free", "Speicher frei", "disk free"),
    ("js.screenshot_of", "Bildschirmfoto von", "Screenshot of"),
    (
        "js.no_screenshot",
        "Noch kein Bildschirmfoto",
        "No screenshot yet",
    ),
    (
        "js.refresh_screenshot",
        "Neues Bildschirmfoto",
        "New screenshot",
    ),
    ("js.requested", "angefordert …", "requested …"),
    (
        "js.summary",
        "{online} von {total} online",
        "{online} of {total} online",
    ),
    (
        "js.login_failed",
        "Anmeldung fehlgeschlagen",
        "Login failed",
    ),
    ("js.nothing", "nichts", "nothing"),
];

/// The keys a page script asks for with `call('key'` (literal keys only: a
/// test checks the ones a script builds from a value on its own), for the
/// tests that hold each script to this table.
#[cfg(test)]
pub fn script_keys<'a>(script: &'a str, call: &str) -> Vec<&'a str> {
    let opening = format!("{call}('");
    script
        .match_indices(&opening)
        .filter(|(i, _)| {
            // `t('` must not be the end of `select('`.
            !script[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
        .filter_map(|(i, _)| {
            let rest = &script[i + opening.len()..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .collect()
}

/// Fails unless every text the `scripts` ask for through `calls` (`t`, and
/// helpers such as `numbered`) is in the table in both languages, and each
/// script asks for some: the check each page with scripts runs on its own.
#[cfg(test)]
pub fn assert_scripts_texts(scripts: &[(&str, &str)], calls: &[&str]) {
    for (name, script) in scripts {
        let keys: Vec<&str> = calls
            .iter()
            .flat_map(|call| script_keys(script, call))
            .collect();
        assert!(!keys.is_empty(), "{name}: no texts found");
        for key in keys {
            for lang in [Lang::De, Lang::En] {
                assert!(
                    text(lang, &format!("js.{key}")).is_some(),
                    "{name}: no text js.{key}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_keys_are_the_literal_arguments_of_the_call() {
        let script = "t('a_b') + select('no') + x.t('no') + numbered('c', 1) + t(`d_${x}`)";
        assert_eq!(script_keys(script, "t"), ["a_b"]);
        assert_eq!(script_keys(script, "numbered"), ["c"]);
    }

    #[test]
    fn the_language_comes_from_query_cookie_browser_then_german() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::pick(None, &h), Lang::De);
        h.insert("accept-language", "fr-FR,en-US;q=0.8".parse().unwrap());
        assert_eq!(Lang::pick(None, &h), Lang::En);
        h.insert("cookie", "a=b; lang=de".parse().unwrap());
        assert_eq!(Lang::pick(None, &h), Lang::De);
        assert_eq!(Lang::pick(Some("en"), &h), Lang::En);
        assert_eq!(Lang::pick(Some("xx"), &h), Lang::De);
    }

    #[test]
    fn keys_are_unique_and_every_text_is_there_in_both_languages() {
        let mut keys: Vec<_> = all().map(|t| t.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key appears twice");
        for (k, de, en) in all() {
            assert!(!de.is_empty() && !en.is_empty(), "{k}");
        }
    }
}
