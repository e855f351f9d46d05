//! The local control socket: a Unix domain socket speaking newline-delimited JSON,
//! so the broadcaster can be steered on its own machine (`broadcaster ctl`, tests)
//! with or without a control server.
//!
//! Each request line is a [`ServerCommand`] exactly as the control server sends it
//! (`{"type":"next_item","id":1}`) or `{"type":"status"}`. Each gets one reply
//! line: `ack` / `rejected` (the [`BroadcasterMessage`]s the WebSocket path answers
//! with), `status` (the current [`Status`](content::broadcast::Status)), or
//! `{"type":"error","message":…}` for a line that is not a request; the connection
//! stays open after an error. Commands go through [`Core`] like the server's, so
//! this is no second way into the pipeline.

use crate::core::Core;
use content::broadcast::{self, BroadcasterMessage, ServerCommand};
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// Longer request lines are refused (and the connection closed): a session with
/// its agenda is a few KiB, and a peer that never sends a newline must not grow
/// the buffer without bound.
const MAX_LINE: u64 = 1 << 20;

#[derive(Debug, Error)]
pub enum LocalError {
    #[error("control socket {path}: another broadcaster is listening there")]
    InUse { path: PathBuf },
    #[error("control socket {path}: exists and is not a socket (not removed)")]
    NotASocket { path: PathBuf },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to the broadcaster's control socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: the broadcaster closed the connection without a reply")]
    NoReply { path: PathBuf },
    #[error("control socket {path}: reply is not JSON: {message}")]
    BadReply { path: PathBuf, message: String },
}

/// One request line.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Status,
    Command(ServerCommand),
}

impl Request {
    pub fn encode(&self) -> String {
        match self {
            Request::Status => r#"{"type":"status"}"#.into(),
            Request::Command(c) => broadcast::encode(c),
        }
    }

    /// Parses a line; `Err` is the message of the error reply.
    pub fn decode(line: &str) -> Result<Request, String> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        enum Local {
            Status,
        }
        if let Ok(Local::Status) = serde_json::from_str(line) {
            return Ok(Request::Status);
        }
        let command = broadcast::decode::<ServerCommand>(line).map_err(|e| e.to_string())?;
        // Only commands with an id are carried out; welcome, refused and the like
        // are the control server's side of the conversation.
        match command.command_id() {
            Some(_) => Ok(Request::Command(command)),
            None => Err(format!(
                "not a broadcaster command: {}",
                line_type(line).unwrap_or_default()
            )),
        }
    }
}

fn line_type(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v["type"].as_str().map(str::to_owned)
}

fn error_reply(message: &str) -> String {
    serde_json::json!({ "type": "error", "message": message }).to_string()
}

/// The listening socket; its file is removed when this is dropped.
pub struct Socket {
    listener: UnixListener,
    path: PathBuf,
}

impl Socket {
    /// Binds `path`, first removing a socket file a crashed run left there.
    pub fn bind(path: &Path) -> Result<Socket, LocalError> {
        let io = |source| LocalError::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                // Stale only when nobody answers: a second broadcaster must not
                // take the socket of one that is running.
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(LocalError::InUse {
                        path: path.to_owned(),
                    });
                }
                std::fs::remove_file(path).map_err(io)?;
            }
            // A regular file there is more likely a typo in the config than ours.
            Ok(_) => {
                return Err(LocalError::NotASocket {
                    path: path.to_owned(),
                });
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        // Whoever can connect steers the broadcast: owner and group only.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
        Ok(Socket {
            listener,
            path: path.to_owned(),
        })
    }

    /// Answers connections until `shutdown` turns true; then the file is removed
    /// (connections already open get "the studio has shut down" once it has).
    pub async fn serve(self, core: Core, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("control socket: {}", self.path.display());
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, core.clone()));
                    }
                    Err(e) => {
                        // E.g. out of file descriptors: keep serving, without spinning.
                        tracing::warn!("control socket: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                // Mapped to `()` so the watch's read guard is not held across an await.
                _ = async { shutdown.wait_for(|s| *s).await.map(|_| ()) } => return,
            }
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn connection(stream: UnixStream, core: Core) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut read)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("control socket: read failed: {e}");
                return;
            }
        }
        let too_long = !line.ends_with(b"\n") && line.len() as u64 == MAX_LINE;
        let reply = if too_long {
            error_reply(&format!("request line longer than {MAX_LINE} bytes"))
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => answer(text.trim(), &core).await,
                Err(e) => error_reply(&format!("request is not UTF-8: {e}")),
            }
        };
        if write
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
            || too_long
        {
            return;
        }
    }
}

async fn answer(line: &str, core: &Core) -> String {
    match Request::decode(line) {
        Err(message) => error_reply(&message),
        Ok(Request::Status) => match core.status().await {
            Some(s) => broadcast::encode(&BroadcasterMessage::Status(s)),
            None => error_reply("the studio has shut down"),
        },
        Ok(Request::Command(c)) => {
            let id = c.command_id().unwrap_or_default();
            broadcast::encode(&match core.command(c).await {
                Ok(()) => BroadcasterMessage::Ack { id },
                Err(reason) => BroadcasterMessage::Rejected { id, reason },
            })
        }
    }
}

/// Sends one request to the broadcaster listening on `socket` and returns its reply
/// (blocking: this is the CLI's side). `timeout` bounds the wait for the reply;
/// a stop finalizes the recording before it answers.
pub fn ask(
    socket: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<serde_json::Value, ClientError> {
    let io = |source| ClientError::Io {
        path: socket.to_owned(),
        source,
    };
    let mut stream =
        std::os::unix::net::UnixStream::connect(socket).map_err(|source| ClientError::Connect {
            path: socket.to_owned(),
            source,
        })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream
        .write_all(format!("{}\n", request.encode()).as_bytes())
        .map_err(io)?;
    let mut reply = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(io)?;
    if reply.is_empty() {
        return Err(ClientError::NoReply {
            path: socket.to_owned(),
        });
    }
    serde_json::from_str(&reply).map_err(|e| ClientError::BadReply {
        path: socket.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_bad_lines_say_why() {
        for r in [
            Request::Status,
            Request::Command(ServerCommand::NextItem { id: 3 }),
        ] {
            assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
        let e = Request::decode(r#"{"type":"self_destruct"}"#).unwrap_err();
        assert!(e.contains("self_destruct"), "{e}");
        let e = Request::decode(r#"{"type":"error","message":"x"}"#).unwrap_err();
        assert!(e.contains("not a broadcaster command"), "{e}");
        assert!(Request::decode("{not json").is_err());
    }
}
