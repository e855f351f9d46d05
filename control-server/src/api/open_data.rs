//! Open data: where the displays stand and what they show, as GeoJSON for
//! anyone (`GET /api/open/displays.geojson`, no authentication), and a
//! display's playlist for today as SMIL 3.0 for third-party players
//! (`GET /api/displays/{id}/schedule.smil`, staff). Both name the configured
//! licence (`--open-data-licence`, default Datenlizenz Deutschland –
//! Namensnennung 2.0).

use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiResult};
use crate::manifests;
use crate::state::AppState;
use crate::store;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use content::model::{ContentItem, Display, ItemKind};
use content::resolve::Playlist;
use content::{DisplayId, ItemId};
use quick_xml::escape::escape;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/open/displays.geojson", get(displays_geojson))
        .route("/api/displays/{id}/schedule.smil", get(schedule_smil))
}

/// The licence object of open-data responses.
pub fn licence(id: &str) -> Value {
    let (name, url) = match id {
        "dl-de/by-2-0" => (
            "Datenlizenz Deutschland – Namensnennung – Version 2.0",
            Some("https://www.govdata.de/dl-de/by-2-0"),
        ),
        "dl-de/zero-2-0" => (
            "Datenlizenz Deutschland – Zero – Version 2.0",
            Some("https://www.govdata.de/dl-de/zero-2-0"),
        ),
        other => (other, None),
    };
    json!({ "id": id, "name": name, "url": url })
}

/// What an item is called on a public map: an announcement's title, else its name.
fn title(item: &ContentItem) -> &str {
    match &item.content {
        ItemKind::Announcement { title, .. } => title,
        _ => &item.name,
    }
}

fn zone_items(playlist: &Playlist, items: &BTreeMap<ItemId, ContentItem>) -> Vec<Value> {
    playlist
        .entries
        .iter()
        .filter_map(|e| items.get(&e.item))
        .map(|i| json!({ "id": i.id, "title": title(i), "type": i.content.type_name() }))
        .collect()
}

async fn displays_geojson(State(s): State<AppState>) -> ApiResult<Response> {
    let now = Utc::now();
    let (displays, items) =
        s.db.call(|c| {
            let displays: Vec<Display> = store::all(c)?;
            let items: BTreeMap<ItemId, ContentItem> = store::all::<ContentItem>(c)?
                .into_iter()
                .map(|i| (i.id, i))
                .collect();
            Ok((displays, items))
        })
        .await?;
    let mut features = Vec::with_capacity(displays.len());
    for d in &displays {
        let r = manifests::resolve_at(&s, d.id, now).await?;
        let mut zones: Vec<Value> = r
            .state
            .zones
            .iter()
            .map(|(zone, p)| json!({ "zone": zone, "items": zone_items(p, &items) }))
            .collect();
        if let Some(p) = &r.state.takeover {
            zones.push(json!({ "zone": "takeover", "items": zone_items(p, &items) }));
        }
        features.push(json!({
            "type": "Feature",
            "id": d.id,
            "geometry": { "type": "Point", "coordinates": [d.location.lon, d.location.lat] },
            "properties": {
                "name": d.name,
                "address": d.location.address,
                "ars": d.location.ars.as_str(),
                "zones": zones,
            }
        }));
    }
    let body = json!({
        "type": "FeatureCollection",
        "generated_at": now,
        "licence": licence(&s.config.open_data_licence),
        "features": features,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response())
}

/// Percent-encodes text for a `data:` URL.
fn data_url(text: &str) -> String {
    let mut out = String::from("data:text/plain;charset=utf-8,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn wallclock(t: DateTime<Utc>) -> String {
    format!("wallclock({})", t.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// One media element for an item in `region`.
fn media(item: &ContentItem, region: &str, dur_s: u32) -> String {
    let region = escape(region);
    let (tag, src) = match &item.content {
        ItemKind::Image { asset, .. } => ("img", format!("/api/assets/{}", asset.sha256)),
        ItemKind::Video { asset, .. } => ("video", format!("/api/assets/{}", asset.sha256)),
        ItemKind::Announcement { title, body, .. } => {
            ("text", data_url(&format!("{title}\n{body}")))
        }
        ItemKind::Ticker { text, .. } => ("text", data_url(text)),
        _ => ("text", data_url(&item.name)),
    };
    format!(
        "<{tag} src=\"{}\" region=\"{region}\" dur=\"{dur_s}s\" title=\"{}\"><param name=\"item\" value=\"{}\"/><param name=\"type\" value=\"{}\"/></{tag}>",
        escape(&src),
        escape(&item.name),
        item.id,
        item.content.type_name(),
    )
}

async fn schedule_smil(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    staff.require(Role::Viewer)?;
    let now = Utc::now();
    let m = manifests::build(&s, DisplayId(id), now).await?;
    let tz = m.display.timezone.0;
    let day = now.with_timezone(&tz).date_naive();
    let items: BTreeMap<ItemId, &ContentItem> = m.items.iter().map(|i| (i.id, i)).collect();
    let today: Vec<_> = m
        .timeline
        .iter()
        .filter(|seg| seg.from.with_timezone(&tz).date_naive() == day)
        .collect();
    let start = today
        .first()
        .map(|seg| seg.from)
        .ok_or_else(|| ApiError::internal(format!("display {id} has an empty timeline")))?;

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(
        "<smil xmlns=\"http://www.w3.org/ns/SMIL\" version=\"3.0\" baseProfile=\"Language\">\n",
    );
    x.push_str("  <head>\n");
    let _ = writeln!(
        x,
        "    <meta name=\"title\" content=\"{}\"/>",
        escape(&m.display.name)
    );
    let _ = writeln!(x, "    <meta name=\"day\" content=\"{day}\"/>");
    let _ = writeln!(
        x,
        "    <meta name=\"manifest-version\" content=\"{}\"/>",
        m.version
    );
    let _ = writeln!(
        x,
        "    <meta name=\"licence\" content=\"{}\"/>",
        escape(&s.config.open_data_licence)
    );
    x.push_str("    <layout>\n");
    let _ = writeln!(
        x,
        "      <root-layout width=\"{}\" height=\"{}\"/>",
        m.display.resolution.width, m.display.resolution.height
    );
    for z in &m.layout.zones {
        let _ = writeln!(
            x,
            "      <region xml:id=\"{}\" left=\"{}%\" top=\"{}%\" width=\"{}%\" height=\"{}%\" z-index=\"{}\"/>",
            escape(&z.name),
            z.x,
            z.y,
            z.width,
            z.height,
            z.z
        );
    }
    let top = m.layout.zones.iter().map(|z| z.z).max().unwrap_or(0) + 1;
    let _ = writeln!(
        x,
        "      <region xml:id=\"takeover\" left=\"0%\" top=\"0%\" width=\"100%\" height=\"100%\" z-index=\"{top}\"/>"
    );
    x.push_str("    </layout>\n  </head>\n  <body>\n");
    // Segments are contiguous from local midnight: one <par> each, in sequence;
    // in each, one looping <seq> per zone.
    let _ = writeln!(x, "    <seq begin=\"{}\">", wallclock(start));
    for seg in &today {
        let dur = (seg.until - seg.from).num_seconds().max(0);
        let _ = writeln!(
            x,
            "      <par dur=\"{dur}s\" title=\"{} – {}\">",
            seg.from.with_timezone(&tz).format("%H:%M"),
            seg.until.with_timezone(&tz).format("%H:%M")
        );
        let zones = seg
            .state
            .zones
            .iter()
            .map(|(z, p)| (z.as_str(), p))
            .chain(seg.state.takeover.iter().map(|p| ("takeover", p)));
        for (zone, playlist) in zones {
            if playlist.is_empty() {
                continue;
            }
            let _ = writeln!(
                x,
                "        <seq repeatCount=\"indefinite\" title=\"{}\">",
                escape(zone)
            );
            for e in &playlist.entries {
                if let Some(item) = items.get(&e.item) {
                    let _ = writeln!(x, "          {}", media(item, zone, e.duration_s));
                }
            }
            x.push_str("        </seq>\n");
        }
        x.push_str("      </par>\n");
    }
    x.push_str("    </seq>\n  </body>\n</smil>\n");
    Ok(([(header::CONTENT_TYPE, "application/smil+xml")], x).into_response())
}
