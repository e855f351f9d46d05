//! The poller for the federal warning API NINA (Bundesamt für Bevölkerungsschutz).
//!
//! ```text
//!  every nina_interval_ms, per district key (ARS):
//!    GET {base}/dashboard/{ARS}.json   → [{ "id", "payload": { "version", … } }, …]
//!    GET {base}/warnings/{id}.json     → CAP-shaped JSON (identifier, sender, sent,
//!                                         status, msgType, references, info[…])
//!      → cap::CapMessage → alerts::ingest_official (source "nina")
//!  a warning no longer on any dashboard → cancelled (only after a round in
//!  which every district answered, so an outage never clears the screens)
//! ```
//!
//! Each district is a feed in the feed-health view (`nina:<ARS>`). A detail is
//! fetched once per warning version. Off unless `--nina-url` is given.

use super::cap::{CapArea, CapError, CapInfo, CapMessage};
use super::feeds;
use crate::api::alerts;
use crate::state::AppState;
use crate::store;
use content::model::Display;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The `source` of every alert this poller stores.
pub const SOURCE: &str = "nina";
/// The feed kind in the feed-health view.
pub const KIND: &str = "nina";

/// The poller's memory between rounds.
#[derive(Debug, Default)]
pub struct Poller {
    /// Dashboard id → (payload version, CAP identifier) of warnings already ingested.
    seen: HashMap<String, (i64, String)>,
}

/// Polls until the server stops; started by `serve` when `nina_url` is set.
pub async fn run(state: AppState) {
    let Some(base) = state.config.nina_url.clone() else {
        return;
    };
    let client = feeds::http_client(&state.config);
    let period = std::time::Duration::from_millis(state.config.nina_interval_ms.max(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poller = Poller::default();
    loop {
        tick.tick().await;
        poller.poll_once(&state, &client, &base).await;
    }
}

impl Poller {
    /// One round over every district; failures are reported per district feed.
    pub async fn poll_once(&mut self, state: &AppState, client: &reqwest::Client, base: &str) {
        let keys = match districts(state).await {
            Ok(k) => k,
            Err(e) => {
                tracing::error!("NINA: cannot list districts: {e}");
                return;
            }
        };
        let base = base.trim_end_matches('/');
        let mut current = BTreeSet::new();
        let mut complete = true;
        for ars in &keys {
            let feed = format!("nina:{ars}");
            match self.poll_district(state, client, base, ars).await {
                Ok(ids) => {
                    current.extend(ids);
                    report(feeds::report_ok(&state.db, &feed, KIND).await);
                }
                Err(msg) => {
                    complete = false;
                    report(feeds::report_error(&state.db, &feed, KIND, &msg).await);
                }
            }
        }
        if !complete {
            return;
        }
        match alerts::active_from(state, SOURCE).await {
            Ok(active) => {
                let gone: Vec<String> = active
                    .into_iter()
                    .filter(|id| !current.contains(id))
                    .collect();
                if !gone.is_empty() {
                    self.seen.retain(|_, (_, id)| !gone.contains(id));
                    if let Err(e) = alerts::cancel_official(state, &gone, SOURCE).await {
                        tracing::error!("NINA: cannot cancel withdrawn warnings: {e}");
                    }
                }
            }
            Err(e) => tracing::error!("NINA: cannot list active warnings: {e}"),
        }
    }

    /// Fetches one dashboard and ingests new or changed warnings; returns the
    /// CAP identifiers the dashboard lists.
    async fn poll_district(
        &mut self,
        state: &AppState,
        client: &reqwest::Client,
        base: &str,
        ars: &str,
    ) -> Result<Vec<String>, String> {
        let dashboard = fetch(client, &format!("{base}/dashboard/{ars}.json")).await?;
        let entries = dashboard
            .as_array()
            .ok_or("unexpected dashboard: not a JSON array")?;
        let mut ids = Vec::new();
        let mut problems = Vec::new();
        for entry in entries {
            let Some(id) = entry["id"].as_str().filter(|id| valid_id(id)) else {
                problems.push("a dashboard entry without a usable id".to_owned());
                continue;
            };
            let version = entry["payload"]["version"].as_i64().unwrap_or(0);
            if let Some((v, identifier)) = self.seen.get(id)
                && *v == version
            {
                ids.push(identifier.clone());
                continue;
            }
            match self.ingest_warning(state, client, base, id).await {
                Ok(identifier) => {
                    self.seen
                        .insert(id.to_owned(), (version, identifier.clone()));
                    ids.push(identifier);
                }
                Err(e) => problems.push(format!("warning {id}: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(ids)
        } else {
            Err(problems.join("; "))
        }
    }

    async fn ingest_warning(
        &self,
        state: &AppState,
        client: &reqwest::Client,
        base: &str,
        id: &str,
    ) -> Result<String, String> {
        let detail = fetch(client, &format!("{base}/warnings/{id}.json")).await?;
        let ingest = detail_to_cap(&detail)
            .and_then(CapMessage::into_ingest)
            .map_err(|e| e.to_string())?;
        let identifier = ingest.alert.id.clone();
        match alerts::ingest_official(state, ingest, SOURCE, SOURCE).await {
            Ok(outcome) => {
                tracing::info!(alert = %identifier, result = ?outcome.result, "NINA warning");
                Ok(identifier)
            }
            // A Cancel for something we never had: nothing to do.
            Err(crate::error::ApiError::NotFound(_)) => Ok(identifier),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn report(r: Result<(), crate::error::ApiError>) {
    if let Err(e) = r {
        tracing::error!("cannot record feed health: {e}");
    }
}

/// NINA ids are path segments of the next request: letters, digits, `.-_` only.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| feeds::describe(&e))?;
    resp.json::<Value>().await.map_err(|e| feeds::describe(&e))
}

/// The districts to poll: the configured keys, or else those of the displays.
async fn districts(state: &AppState) -> Result<Vec<String>, crate::error::ApiError> {
    if !state.config.nina_ars.is_empty() {
        return Ok(state.config.nina_ars.clone());
    }
    let displays: Vec<Display> = state.db.call(|c| store::all(c)).await?;
    let keys: BTreeSet<String> = displays
        .iter()
        .map(|d| d.location.ars.district().as_str().to_owned())
        .collect();
    Ok(keys.into_iter().collect())
}

/// Reads NINA's CAP-shaped JSON warning into the same form as a CAP document.
pub fn detail_to_cap(v: &Value) -> Result<CapMessage, CapError> {
    if !v.is_object() {
        return Err(CapError::Malformed(
            "a NINA warning must be a JSON object".into(),
        ));
    }
    let text = |v: &Value, key: &str| match &v[key] {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    // CAP lists appear as arrays or, for a single value, as the value itself.
    let list = |v: &Value, key: &str| -> Vec<Value> {
        match &v[key] {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }
    };
    let strings = |v: &Value, key: &str| -> Vec<String> {
        list(v, key)
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    Ok(CapMessage {
        identifier: text(v, "identifier"),
        sender: text(v, "sender"),
        sent: text(v, "sent"),
        status: text(v, "status"),
        msg_type: text(v, "msgType"),
        references: text(v, "references"),
        infos: list(v, "info")
            .iter()
            .map(|i| CapInfo {
                language: text(i, "language"),
                event: text(i, "event"),
                severity: text(i, "severity"),
                urgency: text(i, "urgency"),
                headline: text(i, "headline"),
                description: text(i, "description"),
                instruction: text(i, "instruction"),
                expires: text(i, "expires"),
                sender_name: text(i, "senderName"),
                areas: list(i, "area")
                    .iter()
                    .map(|a| CapArea {
                        area_desc: text(a, "areaDesc"),
                        polygons: strings(a, "polygon"),
                        circles: strings(a, "circle"),
                        geocodes: list(a, "geocode")
                            .iter()
                            .map(|g| (text(g, "valueName"), text(g, "value")))
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    })
}
