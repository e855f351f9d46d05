//! The studio's own thread. The network side sends it [`Request`]s; it answers them,
//! runs failover every 100 ms, and emits chapter events and finalized recordings on
//! a channel. Because GStreamer state lives only here, a server that is away (or a
//! slow socket) can never stall the pipeline.

use crate::studio::Studio;
use content::broadcast::{
    BroadcasterMessage, RecordingFinalized, RunningSession, ServerCommand, Status,
};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::{mpsc as tmpsc, oneshot};

pub enum Request {
    Command(ServerCommand, oneshot::Sender<Result<(), String>>),
    Status(oneshot::Sender<Status>),
    Running(oneshot::Sender<Option<RunningSession>>),
    Unaccepted(oneshot::Sender<Vec<RecordingFinalized>>),
    Accepted(String),
    /// Stop the session (finalizing it) and end the thread.
    Shutdown(oneshot::Sender<Option<RecordingFinalized>>),
}

/// A handle to the studio thread.
#[derive(Clone)]
pub struct Core {
    tx: mpsc::Sender<Request>,
}

impl Core {
    /// Runs `studio` on a new thread; its messages arrive on the returned receiver.
    pub fn spawn(
        mut studio: Studio,
    ) -> (
        Core,
        tmpsc::UnboundedReceiver<BroadcasterMessage>,
        std::thread::JoinHandle<()>,
    ) {
        let (tx, rx) = mpsc::channel::<Request>();
        let (out_tx, out_rx) = tmpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("studio".into())
            .spawn(move || {
                for report in studio.recover() {
                    let _ = out_tx.send(BroadcasterMessage::RecordingFinalized(report));
                }
                loop {
                    let request = match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(r) => r,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            studio.tick();
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            studio.stop();
                            return;
                        }
                    };
                    match request {
                        Request::Command(c, reply) => {
                            let mut out = Vec::new();
                            let result = studio.handle(&c, &mut out);
                            let _ = reply.send(result);
                            for m in out {
                                let _ = out_tx.send(m);
                            }
                        }
                        Request::Status(reply) => {
                            let _ = reply.send(studio.status());
                        }
                        Request::Running(reply) => {
                            let _ = reply.send(studio.running_session());
                        }
                        Request::Unaccepted(reply) => {
                            let _ = reply.send(studio.unaccepted());
                        }
                        Request::Accepted(id) => studio.accepted(&id),
                        Request::Shutdown(reply) => {
                            let _ = reply.send(studio.stop());
                            return;
                        }
                    }
                }
            })
            .expect("spawning a thread");
        (Core { tx }, out_rx, thread)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).ok()?;
        rx.await.ok()
    }

    pub async fn command(&self, c: ServerCommand) -> Result<(), String> {
        self.ask(|tx| Request::Command(c, tx))
            .await
            .unwrap_or_else(|| Err("the studio has shut down".into()))
    }

    pub async fn status(&self) -> Option<Status> {
        self.ask(Request::Status).await
    }

    pub async fn running(&self) -> Option<RunningSession> {
        self.ask(Request::Running).await.flatten()
    }

    pub async fn unaccepted(&self) -> Vec<RecordingFinalized> {
        self.ask(Request::Unaccepted).await.unwrap_or_default()
    }

    pub fn accepted(&self, recording_id: String) {
        let _ = self.tx.send(Request::Accepted(recording_id));
    }

    pub async fn shutdown(&self) -> Option<RecordingFinalized> {
        self.ask(Request::Shutdown).await.flatten()
    }
}
