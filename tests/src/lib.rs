//! System tests and benchmarks that run the real `control-server` binary.
//!
//! - [`ServerProcess`]: the binary as a child process on a temporary data
//!   directory, with its output captured and shown when something fails.
//! - [`Api`]: the staff API as the bootstrap admin (login, then a bearer token).
//! - [`SimPlayer`]: a simulated player speaking the WebSocket protocol.
//! - [`BroadcasterProcess`]: the real `broadcaster` binary on GStreamer test
//!   sources, for the council system test.
//! - [`browser`]: headless Chromium through chromedriver (W3C WebDriver), with
//!   an in-page accessibility checker (an automated subset of WCAG 2.1 AA).
//! - `child`: what the processes share: a child process with captured output, reported
//!   once when a test fails, killed when dropped.
//! - [`firefox`]: Firefox ESR over its own Marionette protocol (Debian
//!   packages no geckodriver).
//! - [`fanout`]: the push fan-out benchmark (`cargo run -p system-tests --bin fanout`).
//! - [`alert_path`]: CAP alert to takeover on real players and to receipts
//!   (`cargo run -p system-tests --bin alert-path`).
//!
//! The binaries must be built first: `cargo build -p control-server -p broadcaster`
//! (`./x test` builds them: its workspace test build compiles every package's
//! binaries, since both packages have integration tests of their own).

pub mod alert_path;
pub mod api;
pub mod broadcaster;
pub mod browser;
mod child;
pub mod fanout;
pub mod firefox;
pub mod player;
pub mod proc_stats;
pub mod server;

pub use api::Api;
pub use broadcaster::{BroadcasterProcess, broadcaster_binary};
pub use player::{PairingPlayer, SimPlayer, Welcome};
pub use server::{ADMIN_PASSWORD, ServerOptions, ServerProcess, server_binary};

use std::future::Future;
use std::time::Duration;

/// Polls `check` (every 25 ms) until it yields a value or `timeout` passes,
/// for state that is only visible by asking (the API); panics with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return v,
            Ok(None) => "condition not met yet".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
