//! A small client for the staff API, authenticated with a bearer token made
//! through the login flow (the way scripts do it).

use anyhow::{Context as _, anyhow, bail};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The staff API as one user.
#[derive(Clone)]
pub struct Api {
    pub http: Client,
    pub base: String,
    pub token: String,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// An HTTP client for tests: short timeouts, no proxy.
pub fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client")
}

impl Api {
    /// Logs in (`POST /api/auth/login`), then creates an API token with the
    /// session cookie and CSRF token (`POST /api/tokens`).
    pub async fn login(base: &str, username: &str, password: &str) -> anyhow::Result<Api> {
        let http = http_client();
        let login = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .context("login request")?;
        let status = login.status();
        if status != StatusCode::OK {
            bail!(
                "login as {username} answered {status}: {}",
                login.text().await.unwrap_or_default()
            );
        }
        let cookie = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cs_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("login set no cs_session cookie"))?;
        let body: Value = login.json().await.context("login response is not JSON")?;
        let csrf = body["csrf_token"]
            .as_str()
            .ok_or_else(|| anyhow!("login response without csrf_token: {body}"))?;
        let resp = http
            .post(format!("{base}/api/tokens"))
            .header(reqwest::header::COOKIE, cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({ "label": "system-tests" }))
            .send()
            .await
            .context("token request")?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status != StatusCode::CREATED {
            bail!("POST /api/tokens answered {status}: {body}");
        }
        let body: Value = serde_json::from_str(&body).context("token response is not JSON")?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| anyhow!("token response without token: {body}"))?;
        Ok(Api {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    /// Logs in as the bootstrap admin of a server started by [`crate::ServerProcess`].
    pub async fn admin(base: &str) -> anyhow::Result<Api> {
        Api::login(base, "admin", crate::server::ADMIN_PASSWORD).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional JSON body; returns status and body
    /// (JSON, or a JSON string for other text, or null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        Ok(decode(resp).await)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::GET, path, None).await
    }

    /// `GET path`'s body as bytes (images), insisting on 200.
    pub async fn raw_get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        Ok(body.to_vec())
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Sends and insists on `expected`; returns the body.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, body).await?;
        if status != expected {
            bail!("{method} {path} answered {status}, expected {expected}: {value}");
        }
        Ok(value)
    }

    /// `POST /api/displays`; returns the new display's id.
    pub async fn create_display(&self, display: &Value) -> anyhow::Result<i64> {
        let v = self
            .expect(
                Method::POST,
                "/api/displays",
                Some(display),
                StatusCode::CREATED,
            )
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("display without id: {v}"))
    }

    /// `POST /api/displays/{id}/token`; returns the display's new token.
    pub async fn display_token(&self, id: i64) -> anyhow::Result<String> {
        let v = self
            .expect(
                Method::POST,
                &format!("/api/displays/{id}/token"),
                Some(&json!({})),
                StatusCode::OK,
            )
            .await?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("token answer without token: {v}"))
    }

    /// `POST /api/displays/adopt` creating `display` for the player showing `code`.
    pub async fn adopt(&self, code: &str, display: &Value) -> anyhow::Result<i64> {
        let body = json!({ "code": code, "display": display });
        let v = self
            .expect(
                Method::POST,
                "/api/displays/adopt",
                Some(&body),
                StatusCode::OK,
            )
            .await?;
        v["display_id"]
            .as_i64()
            .ok_or_else(|| anyhow!("adopt answer without display_id: {v}"))
    }

    /// `POST /api/items` with an announcement; returns its id.
    pub async fn create_announcement(
        &self,
        name: &str,
        title: &str,
        body: &str,
    ) -> anyhow::Result<i64> {
        let item = json!({
            "name": name,
            "duration_s": 10,
            "content": { "type": "announcement", "title": title, "body": body },
        });
        let v = self
            .expect(Method::POST, "/api/items", Some(&item), StatusCode::CREATED)
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("item without id: {v}"))
    }

    /// `POST /api/schedules` playing `items` on `targets`; returns its id.
    pub async fn create_schedule(
        &self,
        name: &str,
        targets: Value,
        items: &[i64],
    ) -> anyhow::Result<i64> {
        let entries: Vec<Value> = items.iter().map(|i| json!({ "item": i })).collect();
        let schedule = json!({ "name": name, "targets": targets, "entries": entries });
        let v = self
            .expect(
                Method::POST,
                "/api/schedules",
                Some(&schedule),
                StatusCode::CREATED,
            )
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("schedule without id: {v}"))
    }

    /// `POST /api/alerts` sent at once (bypassing approval) to the given ARS
    /// keys; returns the alert's id.
    pub async fn send_alert(&self, headline: &str, ars: &[&str]) -> anyhow::Result<String> {
        let body = alert_request(headline, ars);
        let v = self
            .expect(
                Method::POST,
                "/api/alerts",
                Some(&body),
                StatusCode::CREATED,
            )
            .await?;
        v["alert"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("alert answer without alert.id: {v}"))
    }
}

/// The body of an emergency alert for Kaarst sent bypassing approval.
pub fn alert_request(headline: &str, ars: &[&str]) -> Value {
    json!({
        "alert": {
            "severity": "extreme",
            "headline": headline,
            "area_description": "Kaarst",
            "area": { "ars": ars },
        },
        "bypass_approval": true,
        "bypass_reason": "system test",
    })
}

/// A display in Kaarst (inside district 051620000000).
pub fn display_json(name: &str) -> Value {
    display_json_at(name, 51.2276, 6.6172)
}

pub fn display_json_at(name: &str, lat: f64, lon: f64) -> Value {
    json!({
        "name": name,
        "location": { "lat": lat, "lon": lon, "ars": "051620016016" },
        "resolution": { "width": 1920, "height": 1080 },
    })
}

/// The district key that covers every display made by [`display_json`].
pub const KAARST_DISTRICT: &str = "051620000000";

pub async fn decode(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// A request authenticated as a display (the player's HTTP side).
pub async fn player_get(
    http: &Client,
    base: &str,
    token: &str,
    path: &str,
) -> anyhow::Result<(StatusCode, Value)> {
    let resp = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    Ok(decode(resp).await)
}
