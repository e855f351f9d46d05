//! A simulated player speaking the WebSocket protocol (`content::protocol`).
//!
//! Every wait has a timeout; a frame that is not a text frame with a server
//! message is an error, not something to skip silently.

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;
use content::DisplayId;
use content::protocol::{
    Health, Hello, MessageId, PROTOCOL_VERSION, PlayerMessage, RefusalReason, ServerMessage,
    decode, encode,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The default wait for one server message in tests.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);
pub const PLAYER_VERSION: &str = "sim-0.1";

/// What the server said in its `welcome`.
#[derive(Debug, Clone, Copy)]
pub struct Welcome {
    pub display_id: DisplayId,
    pub heartbeat_interval_s: u32,
}

/// One simulated player connection.
pub struct SimPlayer {
    pub ws: Ws,
}

impl std::fmt::Debug for SimPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimPlayer")
    }
}

/// Small buffers: a player gets small messages, and thousands of them share
/// one process in the benchmark (tungstenite zero-fills the whole read buffer
/// on every read). Frames fed without a flush are written together.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(4 * 1024)
}

impl SimPlayer {
    /// Opens the WebSocket, says nothing yet.
    pub async fn connect(ws_url: &str) -> anyhow::Result<SimPlayer> {
        let (ws, _) = tokio::time::timeout(
            RECV_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(ws_url, Some(ws_config()), true),
        )
        .await
        .map_err(|_| anyhow!("WebSocket connect to {ws_url} timed out"))?
        .with_context(|| format!("WebSocket connect to {ws_url}"))?;
        Ok(SimPlayer { ws })
    }

    /// Connects with `token` and waits for the `welcome`.
    pub async fn connect_with_token(
        ws_url: &str,
        token: &str,
    ) -> anyhow::Result<(SimPlayer, Welcome)> {
        let mut p = SimPlayer::connect(ws_url).await?;
        p.hello(PROTOCOL_VERSION, Some(token), None, None).await?;
        let welcome = p.expect_welcome(RECV_TIMEOUT).await?;
        Ok((p, welcome))
    }

    /// Connects with `token` and returns the server's first answer as it is
    /// (a `welcome` or a `refused`).
    pub async fn try_token(
        ws_url: &str,
        token: &str,
        protocol: u16,
    ) -> anyhow::Result<(SimPlayer, ServerMessage)> {
        let mut p = SimPlayer::connect(ws_url).await?;
        p.hello(protocol, Some(token), None, None).await?;
        let first = p.recv(RECV_TIMEOUT).await?;
        Ok((p, first))
    }

    pub async fn hello(
        &mut self,
        protocol: u16,
        token: Option<&str>,
        device_id: Option<&str>,
        manifest_version: Option<u64>,
    ) -> anyhow::Result<()> {
        self.send(&PlayerMessage::Hello(Hello {
            protocol,
            player_version: PLAYER_VERSION.into(),
            token: token.map(str::to_owned),
            device_id: device_id.map(str::to_owned),
            manifest_version,
        }))
        .await
    }

    pub async fn send(&mut self, m: &PlayerMessage) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(encode(m)))
            .await
            .context("send to server")
    }

    /// Sends a raw frame (for malformed input).
    pub async fn send_raw(&mut self, m: Message) -> anyhow::Result<()> {
        self.ws.send(m).await.context("send to server")
    }

    pub async fn ack(&mut self, id: MessageId) -> anyhow::Result<()> {
        self.send(&PlayerMessage::Ack { id }).await
    }

    pub async fn heartbeat(&mut self, manifest_version: Option<u64>) -> anyhow::Result<()> {
        self.send(&PlayerMessage::Heartbeat(Health {
            manifest_version,
            ..sim_health()
        }))
        .await
    }

    pub async fn alert_shown(&mut self, alert_id: &str) -> anyhow::Result<()> {
        self.send(&PlayerMessage::AlertShown {
            alert_id: alert_id.to_owned(),
            at: Utc::now(),
        })
        .await
    }

    /// The next server message. Pings are answered by tungstenite and skipped;
    /// a close, a non-text frame or undecodable text is an error.
    pub async fn recv(&mut self, timeout: Duration) -> anyhow::Result<ServerMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| anyhow!("no message from the server within {timeout:?}"))?;
            match frame {
                None => bail!("the server closed the connection"),
                Some(Err(e)) => bail!("WebSocket error: {e}"),
                Some(Ok(Message::Text(t))) => {
                    return decode::<ServerMessage>(&t)
                        .map_err(|e| anyhow!("undecodable server message {t:?}: {e}"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(f))) => bail!("the server closed the connection: {f:?}"),
                Some(Ok(other)) => bail!("unexpected frame from the server: {other:?}"),
            }
        }
    }

    /// Waits for a message `pick` accepts, acknowledging everything that needs
    /// it on the way (as a real player does). Returns the picked value.
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pick: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = match self.recv(left).await {
                Ok(m) => m,
                Err(e) => bail!("waiting for {what}: {e}; seen before: {seen:?}"),
            };
            if let Some(id) = m.ack_id() {
                self.ack(id).await?;
            }
            if let Some(v) = pick(&m) {
                return Ok(v);
            }
            seen.push(m);
        }
    }

    pub async fn expect_welcome(&mut self, timeout: Duration) -> anyhow::Result<Welcome> {
        match self.recv(timeout).await? {
            ServerMessage::Welcome {
                display_id,
                heartbeat_interval_s,
                ..
            } => Ok(Welcome {
                display_id,
                heartbeat_interval_s,
            }),
            other => bail!("expected a welcome, got {other:?}"),
        }
    }

    /// Waits for a `manifest_update` (acknowledging it); returns its version.
    pub async fn expect_manifest_update(&mut self, timeout: Duration) -> anyhow::Result<u64> {
        self.wait_for(timeout, "a manifest update", |m| match m {
            ServerMessage::ManifestUpdate { version, .. } => Some(*version),
            _ => None,
        })
        .await
    }

    /// Waits for the `refused` the server sends before it hangs up.
    pub async fn expect_refused(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<(RefusalReason, String)> {
        self.wait_for(timeout, "a refusal", |m| match m {
            ServerMessage::Refused { reason, message } => Some((*reason, message.clone())),
            _ => None,
        })
        .await
    }

    /// Waits until the server closes the connection (after a refusal, say).
    pub async fn expect_closed(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| {
                    anyhow!("the server did not close the connection within {timeout:?}")
                })?;
            match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(Message::Text(t))) => bail!("expected the connection to close, got {t}"),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a close frame and lets the server answer it.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }
}

/// An unpaired player showing its pairing code.
#[derive(Debug)]
pub struct PairingPlayer {
    pub player: SimPlayer,
    pub code: String,
}

impl PairingPlayer {
    /// Connects without a token; waits for the pairing code.
    pub async fn start(ws_url: &str, device_id: &str) -> anyhow::Result<PairingPlayer> {
        let mut player = SimPlayer::connect(ws_url).await?;
        player
            .hello(PROTOCOL_VERSION, None, Some(device_id), None)
            .await?;
        match player.recv(RECV_TIMEOUT).await? {
            ServerMessage::PairingCode { code, .. } => Ok(PairingPlayer { player, code }),
            other => bail!("expected a pairing code, got {other:?}"),
        }
    }

    /// Waits until staff adopt the display; returns its id and token.
    pub async fn adopted(mut self, timeout: Duration) -> anyhow::Result<(DisplayId, String)> {
        let got = match self.player.recv(timeout).await? {
            ServerMessage::Adopted { display_id, token } => (display_id, token),
            other => bail!("expected adopted, got {other:?}"),
        };
        self.player.close().await;
        Ok(got)
    }
}

/// Plausible health figures for heartbeats.
pub fn sim_health() -> Health {
    Health {
        uptime_s: 60,
        cpu_temp_c: Some(48.0),
        mem_used_bytes: 512 << 20,
        mem_total_bytes: 2 << 30,
        disk_free_bytes: 20 << 30,
        disk_total_bytes: 32 << 30,
        fps: 60.0,
        ..Health::default()
    }
}
