//! Starts a server for one test and stops it cleanly.

#![allow(dead_code)]

use control_server::config::Config;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-test-password";

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub http: Client,
    /// Bearer token of the bootstrap admin.
    pub admin: String,
    pub state: control_server::state::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, tweak).await
    }

    /// Starts on an existing data directory (a restart).
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::for_tests(dir.path().to_path_buf());
        tweak(&mut config);
        let state = control_server::open_state(config).expect("open state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(control_server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let base = format!("http://{addr}");
        let mut server = TestServer {
            addr,
            base,
            dir,
            http,
            admin: String::new(),
            state,
            shutdown: Some(tx),
            task: Some(task),
        };
        server.admin = server.token_for("admin", ADMIN_PASSWORD).await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/player", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Logs in and creates a bearer token for scripts.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let login = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login request");
        assert_eq!(
            login.status(),
            StatusCode::OK,
            "login as {username}: {}",
            login.text().await.unwrap_or_default()
        );
        let cookie = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cs_session="))
            .expect("session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let body: Value = login.json().await.expect("login json");
        let csrf = body["csrf_token"].as_str().expect("csrf token").to_owned();
        let resp = self
            .http
            .post(self.url("/api/tokens"))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({ "label": "tests" }))
            .send()
            .await
            .expect("token request");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.expect("token json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// A request authenticated as the admin.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.admin)
    }

    /// Sends JSON as the admin, returns status and body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.admin, method, path, body).await
    }

    /// Sends JSON with the bearer `token` (another user, a display), returns
    /// status and body.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        decode(r.send().await.expect("request")).await
    }

    /// Creates a user with `role` and returns a bearer token for it.
    pub async fn user(&self, username: &str, role: &str) -> String {
        let password = format!("{username}-password-123");
        let (status, body) = self
            .call(
                Method::POST,
                "/api/users",
                Some(json!({ "username": username, "password": password, "role": role })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.token_for(username, &password).await
    }

    /// Stops the server through its shutdown path and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("server stops within 20 s")
                .expect("server task")
                .expect("server result");
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }
}

pub async fn decode(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// A display body for the API (Kaarst Rathausplatz unless renamed).
pub fn display_json(name: &str) -> Value {
    json!({
        "name": name,
        "location": { "lat": 51.2276, "lon": 6.6172, "ars": "051620016016" },
        "resolution": { "width": 1920, "height": 1080 },
    })
}

/// A minimal player over a real WebSocket, for protocol tests.
pub struct WsPlayer {
    pub ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsPlayer {
    pub async fn connect(server: &TestServer) -> WsPlayer {
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("ws connect");
        WsPlayer { ws }
    }

    /// Connects with a display token and waits for the welcome.
    pub async fn online(server: &TestServer, token: &str) -> WsPlayer {
        let mut p = WsPlayer::connect(server).await;
        p.hello(Some(token), content::protocol::PROTOCOL_VERSION)
            .await;
        p.expect(|m| matches!(m, content::protocol::ServerMessage::Welcome { .. }).then_some(()))
            .await;
        p
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .expect("ws send");
    }

    pub async fn send(&mut self, msg: &content::protocol::PlayerMessage) {
        self.send_text(&content::protocol::encode(msg)).await;
    }

    pub async fn hello(&mut self, token: Option<&str>, protocol: u16) {
        self.send(&content::protocol::PlayerMessage::Hello(
            content::protocol::Hello {
                protocol,
                player_version: "test".into(),
                token: token.map(str::to_owned),
                device_id: Some("device-1".into()),
                manifest_version: None,
            },
        ))
        .await;
    }

    /// The next server message, or None when the socket closes; panics after 10 s.
    pub async fn next(&mut self) -> Option<content::protocol::ServerMessage> {
        use futures_util::StreamExt;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("server message within 10 s");
            match frame {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    return Some(
                        content::protocol::decode(&t).expect("server sends valid messages"),
                    );
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                | None
                | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Skips messages until one matches.
    pub async fn expect<T>(
        &mut self,
        mut pick: impl FnMut(content::protocol::ServerMessage) -> Option<T>,
    ) -> T {
        loop {
            let m = self.next().await.expect("socket open");
            if let Some(t) = pick(m) {
                return t;
            }
        }
    }
}

/// Creates a display and a token for it; returns (id, token).
pub async fn provisioned_display(server: &TestServer, name: &str) -> (i64, String) {
    let (status, body) = server
        .call(Method::POST, "/api/displays", Some(display_json(name)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (status, body) = server
        .call(Method::POST, &format!("/api/displays/{id}/token"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (id, body["token"].as_str().expect("token").to_owned())
}
