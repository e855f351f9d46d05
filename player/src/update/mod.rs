//! Player updates: signed releases from the control server, installed into
//! A/B slots on the data partition, tried, and rolled back when the new
//! version does not report healthy.
//!
//! ```text
//!  manifest.player_release ─► download (updates/partial/) ─► size, SHA-256,
//!  ed25519 signature (verify.rs) ─► slot not used by the good release,
//!  state "trial" (slots.rs) ─► exit ─► systemd restarts player-launch
//!  (launch.rs): trial start counted and saved, exec the trial binary
//!        │ healthy: welcomed, manifest synced, up `confirm_after`
//!        ▼                         │ else: watchdog kill / crash / own deadline
//!   confirm: trial ─► good         ▼
//!                         next start: `max_starts` reached or window over
//!                         ─► marked bad, good release (or factory) runs
//! ```
//!
//! Trust: releases are signed offline (`player-release sign`); the control
//! server only relays them. Without a key (`--update-key`, the image's
//! `/etc/kiosk/update-key.pub`) every update is refused with a clear line.
//! Everything runs as the unprivileged `player` user: the launcher decides at
//! each start, a hung trial is killed by systemd's watchdog (a start), and a
//! trial that runs but never gets healthy (no server) ends itself when its
//! window closes ([`spawn_trial_guard`], a plain thread independent of the
//! network and the frame loop), so the next start rolls it back.

pub mod launch;
pub mod slots;
pub mod verify;

use crate::net::download::DownloadError;
use content::release::PlayerRelease;
use sha2::{Digest as _, Sha256};
use slots::{Moment, Slots};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use verify::UpdateKey;

/// Set by the launcher for a release it runs: its version.
pub const ENV_VERSION: &str = "PLAYER_RELEASE_VERSION";
/// Set by the launcher for a release it runs: its SHA-256.
pub const ENV_SHA256: &str = "PLAYER_RELEASE_SHA256";
/// Set by the launcher when the release is on trial.
pub const ENV_TRIAL: &str = "PLAYER_RELEASE_TRIAL";
/// How the player exits when its trial window closed unconfirmed (EX_TEMPFAIL).
pub const EXIT_TRIAL_EXPIRED: i32 = 75;

/// What runs: the factory build, or a release the launcher chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub version: String,
    pub sha256: Option<String>,
    pub trial: bool,
}

impl Running {
    /// From the launcher's environment; the build's own version without it.
    pub fn from_env() -> Running {
        match (std::env::var(ENV_VERSION), std::env::var(ENV_SHA256)) {
            (Ok(version), Ok(sha256)) if !version.is_empty() => Running {
                version,
                sha256: Some(sha256),
                trial: std::env::var(ENV_TRIAL).is_ok_and(|v| v == "1"),
            },
            _ => Running {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                sha256: None,
                trial: false,
            },
        }
    }
}

/// The player's update settings.
#[derive(Debug, Clone)]
pub struct UpdateConfig {
    pub data_dir: PathBuf,
    /// The public key file; `None` refuses every update.
    pub key: Option<PathBuf>,
    pub running: Running,
    /// How long a trial must have been up (and welcomed, its manifest synced)
    /// before it confirms itself.
    pub confirm_after: Duration,
    /// A new trial's window (boot clock).
    pub trial_window: Duration,
    pub max_starts: u32,
}

impl UpdateConfig {
    pub fn slots(&self) -> Slots {
        Slots::new(&self.data_dir)
    }

    /// Lines for the heartbeat's problems: the last rollback and a damaged
    /// state file, so staff see why a display runs an older version.
    pub fn problems(&self) -> Vec<String> {
        let Ok(loaded) = self.slots().load() else {
            return Vec::new();
        };
        let mut out: Vec<String> = loaded.damaged.into_iter().collect();
        if let Some(r) = loaded.state.rollback {
            out.push(format!(
                "player release {} was rolled back: {}",
                r.version, r.reason
            ));
        }
        out
    }

    /// Why `release` is not to be installed now, or `None` to install it.
    /// `Some("")` means nothing to report (it already runs).
    pub fn skip_reason(&self, release: &PlayerRelease) -> Option<String> {
        if self.running.sha256.as_deref() == Some(release.sha256.as_str())
            || (self.running.sha256.is_none() && self.running.version == release.version)
        {
            return Some(String::new());
        }
        let state = self.slots().load().ok()?.state;
        if state.is_bad(&release.sha256) {
            return Some(format!(
                "player release {} is not installed again: it was rolled back",
                release.version
            ));
        }
        if state.trial.as_ref().map(|t| &t.release.sha256) == Some(&release.sha256)
            || state.good.as_ref().map(|g| &g.sha256) == Some(&release.sha256)
        {
            // Installed; the launcher runs it at the next start.
            return Some(String::new());
        }
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no update key is installed ({0}); updates are refused")]
    NoKey(String),
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("installing: {0}")]
    Io(#[from] std::io::Error),
}

/// The image's key, once it has checked `release`'s signature over its
/// statement (no download needed for that).
pub fn trusted_key(
    config: &UpdateConfig,
    release: &PlayerRelease,
) -> Result<UpdateKey, UpdateError> {
    let key_path = config
        .key
        .clone()
        .ok_or_else(|| UpdateError::NoKey("no --update-key given".into()))?;
    let key = match UpdateKey::load(&key_path) {
        Ok(k) => k,
        Err(verify::VerifyError::KeyUnreadable { path, source })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Err(UpdateError::NoKey(format!("{path} does not exist")));
        }
        Err(e) => return Err(e.into()),
    };
    key.verify_statement(release)?;
    Ok(key)
}

/// Downloads `release`, verifies it and installs it as the trial. The
/// signature is checked before a byte is downloaded and again (with size and
/// hash) on the file; a refused file is removed.
pub async fn fetch_and_install(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    config: &UpdateConfig,
    release: &PlayerRelease,
) -> Result<slots::Installed, UpdateError> {
    let key = trusted_key(config, release)?;
    let slots = config.slots();
    let partial = slots.partial_dir();
    // One download at a time; what a crash left is swept.
    let _ = tokio::fs::remove_dir_all(&partial).await;
    tokio::fs::create_dir_all(&partial).await?;
    let file_path = partial.join(&release.sha256);
    let url = format!("{base}{}", release.path);
    let mut resp = http
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(DownloadError::from)?;
    if !resp.status().is_success() {
        return Err(DownloadError::Status {
            status: resp.status(),
            what: format!("player release {}", release.version),
        }
        .into());
    }
    let mut file = tokio::fs::File::create(&file_path).await?;
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(DownloadError::from)? {
        got += chunk.len() as u64;
        if got > release.size {
            break;
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    drop(file);
    let sha = hex::encode(hasher.finalize());
    if got != release.size || sha != release.sha256 {
        let _ = tokio::fs::remove_file(&file_path).await;
        return Err(if got != release.size {
            verify::VerifyError::WrongSize {
                got,
                want: release.size,
            }
        } else {
            verify::VerifyError::WrongHash {
                got: sha,
                want: release.sha256.clone(),
            }
        }
        .into());
    }
    let (release, config) = (release.clone(), config.clone());
    tokio::task::spawn_blocking(move || {
        // Verified again from the disk: what is installed is what was signed.
        if let Err(e) = key.verify_file(&release, &file_path) {
            let _ = std::fs::remove_file(&file_path);
            return Err(UpdateError::from(e));
        }
        Ok(slots.install(
            &release,
            &file_path,
            Moment::now(),
            config.max_starts,
            config.trial_window.as_secs(),
        )?)
    })
    .await
    .map_err(|e| UpdateError::Io(std::io::Error::other(e.to_string())))?
}

/// For a trial: a thread that ends the process with [`EXIT_TRIAL_EXPIRED`]
/// when the trial's window closes unconfirmed, so the launcher rolls it back
/// at the next start (systemd restarts it). Independent of the network
/// thread and the frame loop, which may be what is broken.
pub fn spawn_trial_guard(config: &UpdateConfig) {
    let (true, Some(sha)) = (config.running.trial, config.running.sha256.clone()) else {
        return;
    };
    let slots = config.slots();
    let version = config.running.version.clone();
    let spawned = std::thread::Builder::new()
        .name("update-trial-guard".into())
        .spawn(move || {
            loop {
                let trial = match slots.load() {
                    Ok(l) => l.state.trial.filter(|t| t.release.sha256 == sha),
                    Err(_) => None,
                };
                let Some(t) = trial else { return };
                let now = Moment::now();
                let elapsed = if now.boot_id == t.began.boot_id {
                    now.uptime_s - t.began.uptime_s
                } else {
                    0.0
                };
                let left = t.window_s as f64 - elapsed;
                if left <= 0.0 {
                    tracing::error!(
                        "player release {version} did not report healthy within {} s; exiting so the launcher rolls it back",
                        t.window_s
                    );
                    std::process::exit(EXIT_TRIAL_EXPIRED);
                }
                std::thread::sleep(Duration::from_secs_f64(left.min(5.0) + 0.05));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the update trial guard: {e}");
    }
}

/// The network thread's side of updates: confirms a healthy trial, starts
/// the download of a newly named release (in its own task, so alerts and
/// heartbeats go on), and keeps the lines the heartbeat reports.
#[derive(Debug)]
pub struct Updater {
    config: UpdateConfig,
    started: std::time::Instant,
    confirming: bool,
    /// The release being fetched or installed, and its task.
    task: Option<(String, tokio::task::JoinHandle<()>)>,
    /// Releases refused for good (a bad signature), by SHA-256.
    refused: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    problems: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The lines known at start (a rollback); kept while this process runs.
    startup: Vec<String>,
    /// The SHA-256 of the release the manifest names; lines about another
    /// one are dropped when it changes.
    named: Option<String>,
    /// Where an installed release asks the app to end, so the player stops
    /// through its one shutdown path and systemd starts the launcher.
    events: async_channel::Sender<crate::net::NetEvent>,
}

impl Updater {
    pub fn new(
        config: UpdateConfig,
        events: async_channel::Sender<crate::net::NetEvent>,
    ) -> Updater {
        let problems = config.problems();
        for p in &problems {
            tracing::warn!("{p}");
        }
        spawn_trial_guard(&config);
        Updater {
            config,
            started: std::time::Instant::now(),
            confirming: false,
            task: None,
            refused: Default::default(),
            problems: std::sync::Arc::new(std::sync::Mutex::new(problems.clone())),
            startup: problems,
            named: None,
            events,
        }
    }

    /// Lines for the heartbeat.
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Welcomed and the manifest is current: the trial is healthy (confirmed
    /// once it has been up `confirm_after`), and the release the manifest
    /// names is installed unless it runs already. True when a new line for
    /// the heartbeat came up (the caller sends one now).
    pub async fn after_sync(
        &mut self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
        store: &std::sync::Arc<std::sync::Mutex<crate::store::Store>>,
    ) -> bool {
        if self.config.running.trial && !self.confirming {
            self.confirming = true;
            let slots = self.config.slots();
            let sha = self.config.running.sha256.clone().unwrap_or_default();
            let version = self.config.running.version.clone();
            let wait = self
                .config
                .confirm_after
                .saturating_sub(self.started.elapsed());
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                match tokio::task::spawn_blocking(move || slots.confirm(&sha)).await {
                    Ok(Ok(true)) => tracing::info!("player release {version} confirmed healthy"),
                    Ok(Ok(false)) => {
                        tracing::warn!("player release {version} is no longer on trial")
                    }
                    Ok(Err(e)) => tracing::warn!("cannot confirm player release {version}: {e}"),
                    Err(e) => tracing::warn!("confirm task: {e}"),
                }
            });
        }
        let release = crate::net::download::with_store(store, |s| s.manifest())
            .await
            .ok()
            .flatten()
            .and_then(|m| m.player_release);
        let named = release.as_ref().map(|r| r.sha256.clone());
        if named != self.named {
            self.named = named;
            *self.problems.lock().unwrap_or_else(|p| p.into_inner()) = self.startup.clone();
        }
        let Some(release) = release else {
            return false;
        };
        if let Some((sha, task)) = &self.task {
            if *sha == release.sha256 && !task.is_finished() {
                return false;
            }
            task.abort();
        }
        if self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&release.sha256)
        {
            return false;
        }
        let config = self.config.clone();
        let skip = tokio::task::spawn_blocking({
            let (config, release) = (config.clone(), release.clone());
            move || config.skip_reason(&release)
        })
        .await
        .ok()
        .flatten();
        if let Some(why) = skip {
            return !why.is_empty() && self.report(why);
        }
        // The signature is checked before anything is downloaded.
        if let Err(e) = trusted_key(&config, &release) {
            let line = format!("player release {} not installed: {e}", release.version);
            tracing::warn!("{line}");
            self.refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(release.sha256.clone());
            return self.report(line);
        }
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        let (refused, problems) = (self.refused.clone(), self.problems.clone());
        let sha = release.sha256.clone();
        let events = self.events.clone();
        tracing::info!("player release {} assigned; downloading", release.version);
        let task = tokio::spawn(async move {
            match fetch_and_install(&http, &base, &token, &config, &release).await {
                Ok(i) => {
                    tracing::info!(
                        "player release {} verified and installed in {:?}; ending so the launcher starts it",
                        i.version,
                        i.slot
                    );
                    // The app ends through its shutdown path (systemd then
                    // restarts the launcher). Should it not within a minute,
                    // this ends the process: everything it keeps is durable
                    // (SQLite commits, atomic files).
                    let why = format!("player release {} installed", i.version);
                    let _ = events.send(crate::net::NetEvent::Restart { why }).await;
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    std::process::exit(0);
                }
                Err(e) => {
                    let line = format!("player release {} not installed: {e}", release.version);
                    tracing::warn!("{line}");
                    if matches!(e, UpdateError::Verify(_) | UpdateError::NoKey(_)) {
                        refused
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(release.sha256.clone());
                    }
                    push_line(&problems, line);
                }
            }
        });
        self.task = Some((sha, task));
        false
    }

    fn report(&self, line: String) -> bool {
        push_line(&self.problems, line)
    }
}

/// Adds `line` unless it is there; true when added. Keeps the last five.
fn push_line(lines: &std::sync::Mutex<Vec<String>>, line: String) -> bool {
    let mut l = lines.lock().unwrap_or_else(|p| p.into_inner());
    if l.contains(&line) {
        return false;
    }
    l.push(line);
    let excess = l.len().saturating_sub(5);
    l.drain(..excess);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, key: Option<PathBuf>) -> UpdateConfig {
        UpdateConfig {
            data_dir: dir.to_owned(),
            key,
            running: Running {
                version: "1.0.0".into(),
                sha256: None,
                trial: false,
            },
            confirm_after: Duration::from_secs(60),
            trial_window: Duration::from_secs(300),
            max_starts: 3,
        }
    }

    fn release(version: &str) -> PlayerRelease {
        PlayerRelease {
            version: version.into(),
            sha256: "ab".repeat(32),
            size: 1,
            signature: "cd".repeat(64),
            path: "/x".into(),
        }
    }

    #[test]
    fn without_a_key_every_update_is_refused_in_words() {
        let d = tempfile::tempdir().unwrap();
        let e = trusted_key(&config(d.path(), None), &release("2.0.0")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no update key is installed (no --update-key given); updates are refused"
        );
        let missing = d.path().join("update-key.pub");
        let e =
            trusted_key(&config(d.path(), Some(missing.clone())), &release("2.0.0")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "no update key is installed ({} does not exist); updates are refused",
                missing.display()
            )
        );
    }

    #[test]
    fn what_runs_or_was_rolled_back_is_not_installed() {
        let d = tempfile::tempdir().unwrap();
        let c = config(d.path(), None);
        assert_eq!(c.skip_reason(&release("1.0.0")), Some(String::new()));
        assert_eq!(c.skip_reason(&release("2.0.0")), None);
        let mut state = slots::State {
            trial: Some(slots::Trial {
                release: slots::Installed {
                    version: "2.0.0".into(),
                    sha256: "ab".repeat(32),
                    slot: slots::Slot::A,
                },
                starts: 3,
                max_starts: 3,
                window_s: 300,
                began: Moment::now(),
            }),
            ..Default::default()
        };
        state.roll_back("crashed".into());
        c.slots().save(&state).unwrap();
        assert!(
            c.skip_reason(&release("2.0.0"))
                .unwrap()
                .contains("rolled back")
        );
        assert_eq!(
            c.problems(),
            vec!["player release 2.0.0 was rolled back: crashed".to_owned()]
        );
    }
}
