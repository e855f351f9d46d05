//! The A/B slots on the data partition and the state that says which runs.
//!
//! ```text
//! <data_dir>/updates/state.json      which release is good, which on trial, which bad
//! <data_dir>/updates/slot-a/player   one release
//! <data_dir>/updates/slot-b/player   the other
//! <data_dir>/updates/partial/        downloads in progress (swept before each)
//! ```
//!
//! A new release goes into the slot the good release does not use and
//! becomes the *trial*. The launcher ([`decide`]) runs the trial while it has
//! started fewer than `max_starts` times and its window (`window_s`, on the
//! boot clock) is open; then it is marked bad and the good release runs, or
//! the factory binary on the read-only root when there is none. The trial
//! player confirms itself once healthy ([`Slots::confirm`]): it becomes the
//! good release. The state file is written atomically (temp, fsync, rename,
//! fsync of the directory); one that cannot be read is moved aside and the
//! factory binary runs, which is always safe.

use content::release::PlayerRelease;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How many starts a trial gets before it is rolled back.
pub const MAX_STARTS: u32 = 3;
/// How long (boot clock) a trial may run unconfirmed.
pub const TRIAL_WINDOW_S: u64 = 300;
/// How many rolled-back releases are remembered (never installed again).
const BAD_KEPT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    fn dir(self) -> &'static str {
        match self {
            Slot::A => "slot-a",
            Slot::B => "slot-b",
        }
    }
    fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// An installed release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub version: String,
    pub sha256: String,
    pub slot: Slot,
}

/// An instant on the boot clock (`CLOCK_BOOTTIME`, which counts suspend and
/// does not jump with the wall clock: there is no trusted time on the board).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    pub boot_id: String,
    pub uptime_s: f64,
}

impl Moment {
    /// Now, from `/proc`; an unknown boot when they cannot be read.
    pub fn now() -> Moment {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let uptime_s = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Moment { boot_id, uptime_s }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub release: Installed,
    /// Starts so far (the launcher counts each before it runs it).
    pub starts: u32,
    pub max_starts: u32,
    pub window_s: u64,
    /// When the window opened; moved to the first start after a reboot (the
    /// boot clock restarts), while the starts keep counting.
    pub began: Moment,
}

/// A release that was rolled back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bad {
    pub version: String,
    pub sha256: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The last confirmed release; `None`: the factory binary.
    #[serde(default)]
    pub good: Option<Installed>,
    #[serde(default)]
    pub trial: Option<Trial>,
    /// Rolled back releases, newest last.
    #[serde(default)]
    pub bad: Vec<Bad>,
    /// The last rollback, reported until a release is confirmed.
    #[serde(default)]
    pub rollback: Option<Bad>,
}

/// What the launcher runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Factory,
    Good(Installed),
    Trial(Installed),
}

impl State {
    pub fn is_bad(&self, sha256: &str) -> bool {
        self.bad.iter().any(|b| b.sha256 == sha256)
    }

    /// Marks the trial bad; what runs afterwards is the good release.
    pub fn roll_back(&mut self, reason: String) {
        if let Some(t) = self.trial.take() {
            let bad = Bad {
                version: t.release.version,
                sha256: t.release.sha256,
                reason,
            };
            self.bad.retain(|b| b.sha256 != bad.sha256);
            self.bad.push(bad.clone());
            let excess = self.bad.len().saturating_sub(BAD_KEPT);
            self.bad.drain(..excess);
            self.rollback = Some(bad);
        }
    }

    fn fallback(&self) -> Choice {
        match &self.good {
            Some(g) => Choice::Good(g.clone()),
            None => Choice::Factory,
        }
    }
}

/// The launcher's rule: what runs now, and the state to save first (a trial
/// start is counted before it runs, so a crash or a watchdog kill counts).
pub fn decide(state: &mut State, now: &Moment) -> Choice {
    let Some(trial) = state.trial.as_mut() else {
        return state.fallback();
    };
    if trial.began.boot_id != now.boot_id {
        trial.began = now.clone();
    }
    let elapsed = now.uptime_s - trial.began.uptime_s;
    if trial.starts >= trial.max_starts {
        let reason = format!("started {} times without reporting healthy", trial.starts);
        state.roll_back(reason);
        return state.fallback();
    }
    if elapsed > trial.window_s as f64 {
        let reason = format!(
            "not healthy within {} s (after {} starts)",
            trial.window_s, trial.starts
        );
        state.roll_back(reason);
        return state.fallback();
    }
    trial.starts += 1;
    Choice::Trial(trial.release.clone())
}

/// The updates directory of a data directory.
#[derive(Debug, Clone)]
pub struct Slots {
    dir: PathBuf,
}

/// What [`Slots::load`] found.
#[derive(Debug)]
pub struct Loaded {
    pub state: State,
    /// Set when the state file was unreadable and moved aside.
    pub damaged: Option<String>,
}

impl Slots {
    pub fn new(data_dir: &Path) -> Slots {
        Slots {
            dir: data_dir.join("updates"),
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.dir.join("partial")
    }

    pub fn binary(&self, slot: Slot) -> PathBuf {
        self.dir.join(slot.dir()).join("player")
    }

    /// The state; none yet is the default. A file that is not valid state is
    /// moved to `state.json.damaged` and the default returned (the factory
    /// binary runs, the next release installs afresh).
    pub fn load(&self) -> std::io::Result<Loaded> {
        let path = self.state_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    state: State::default(),
                    damaged: None,
                });
            }
            Err(e) => return Err(e),
        };
        match serde_json::from_slice(&bytes) {
            Ok(state) => Ok(Loaded {
                state,
                damaged: None,
            }),
            Err(e) => {
                std::fs::rename(&path, self.dir.join("state.json.damaged"))?;
                Ok(Loaded {
                    state: State::default(),
                    damaged: Some(format!(
                        "the update state file was damaged ({e}); the factory player runs"
                    )),
                })
            }
        }
    }

    pub fn save(&self, state: &State) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        crate::store::write_atomic(&self.state_path(), &bytes).map_err(std::io::Error::other)
    }

    /// Installs the verified file `verified` (moved, so it must be on the
    /// same file system) as the trial of `release`, in the slot the good
    /// release does not use.
    pub fn install(
        &self,
        release: &PlayerRelease,
        verified: &Path,
        now: Moment,
        max_starts: u32,
        window_s: u64,
    ) -> std::io::Result<Installed> {
        use std::os::unix::fs::PermissionsExt as _;
        let mut state = self.load()?.state;
        let slot = state.good.as_ref().map_or(Slot::A, |g| g.slot.other());
        let dest = self.binary(slot);
        let dir = dest.parent().expect("slot path has a parent");
        std::fs::create_dir_all(dir)?;
        // The trial goes first, so no state names a slot being rewritten.
        if state.trial.take().is_some() {
            self.save(&state)?;
        }
        std::fs::set_permissions(verified, std::fs::Permissions::from_mode(0o755))?;
        std::fs::File::open(verified)?.sync_all()?;
        std::fs::rename(verified, &dest)?;
        crate::store::sync_dir(dir).map_err(std::io::Error::other)?;
        let installed = Installed {
            version: release.version.clone(),
            sha256: release.sha256.clone(),
            slot,
        };
        state.trial = Some(Trial {
            release: installed.clone(),
            starts: 0,
            max_starts,
            window_s,
            began: now,
        });
        self.save(&state)?;
        Ok(installed)
    }

    /// The trial `sha256` reported healthy: it becomes the good release.
    /// False when it is not (or no longer) the trial.
    pub fn confirm(&self, sha256: &str) -> std::io::Result<bool> {
        let mut state = self.load()?.state;
        match state.trial.take() {
            Some(t) if t.release.sha256 == sha256 => {
                state.good = Some(t.release);
                state.rollback = None;
                self.save(&state)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(boot: &str, s: f64) -> Moment {
        Moment {
            boot_id: boot.into(),
            uptime_s: s,
        }
    }

    fn release(v: &str) -> PlayerRelease {
        PlayerRelease {
            version: v.into(),
            sha256: format!("{:0>64}", v.replace('.', "")),
            size: 4,
            signature: String::new(),
            path: String::new(),
        }
    }

    fn install(slots: &Slots, dir: &Path, v: &str, now: Moment) -> Installed {
        let f = dir.join(format!("download-{v}"));
        std::fs::write(&f, v).unwrap();
        slots.install(&release(v), &f, now, 3, 300).unwrap()
    }

    #[test]
    fn install_confirm_and_the_next_install_uses_the_other_slot() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        assert_eq!(
            decide(&mut slots.load().unwrap().state, &at("b", 1.0)),
            Choice::Factory
        );
        let a = install(&slots, d.path(), "2.0", at("b", 10.0));
        assert_eq!(a.slot, Slot::A);
        assert_eq!(
            std::fs::read_to_string(slots.binary(Slot::A)).unwrap(),
            "2.0"
        );
        let mut s = slots.load().unwrap().state;
        assert_eq!(decide(&mut s, &at("b", 11.0)), Choice::Trial(a.clone()));
        assert_eq!(s.trial.as_ref().unwrap().starts, 1);
        slots.save(&s).unwrap();
        assert!(slots.confirm(&a.sha256).unwrap());
        assert!(!slots.confirm(&a.sha256).unwrap(), "confirmed once");
        let mut s = slots.load().unwrap().state;
        assert_eq!(decide(&mut s, &at("b", 500.0)), Choice::Good(a.clone()));
        let b = install(&slots, d.path(), "3.0", at("b", 600.0));
        assert_eq!(b.slot, Slot::B, "the good release's slot is kept");
        assert_eq!(
            std::fs::read_to_string(slots.binary(Slot::A)).unwrap(),
            "2.0"
        );
    }

    #[test]
    fn rolled_back_after_max_starts_without_confirming() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let good = install(&slots, d.path(), "2.0", at("b", 0.0));
        slots.confirm(&good.sha256).unwrap();
        let t = install(&slots, d.path(), "3.0", at("b", 10.0));
        let mut s = slots.load().unwrap().state;
        for i in 1..=3 {
            assert_eq!(
                decide(&mut s, &at("b", 10.0 + i as f64)),
                Choice::Trial(t.clone())
            );
        }
        assert_eq!(decide(&mut s, &at("b", 20.0)), Choice::Good(good.clone()));
        assert!(s.trial.is_none());
        assert!(s.is_bad(&t.sha256));
        assert!(
            s.rollback
                .as_ref()
                .unwrap()
                .reason
                .contains("started 3 times")
        );
        // And it stays rolled back.
        assert_eq!(decide(&mut s, &at("b", 21.0)), Choice::Good(good));
    }

    #[test]
    fn rolled_back_to_factory_after_the_window() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let t = install(&slots, d.path(), "3.0", at("b", 100.0));
        let mut s = slots.load().unwrap().state;
        assert_eq!(decide(&mut s, &at("b", 101.0)), Choice::Trial(t.clone()));
        assert_eq!(decide(&mut s, &at("b", 401.0)), Choice::Factory);
        assert!(
            s.rollback
                .as_ref()
                .unwrap()
                .reason
                .contains("not healthy within 300 s")
        );
    }

    #[test]
    fn a_reboot_restarts_the_window_but_not_the_count() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let t = install(&slots, d.path(), "3.0", at("boot1", 1000.0));
        let mut s = slots.load().unwrap().state;
        assert_eq!(
            decide(&mut s, &at("boot1", 1001.0)),
            Choice::Trial(t.clone())
        );
        // Rebooted: uptime is small again, yet the trial is not "in the past".
        assert_eq!(decide(&mut s, &at("boot2", 5.0)), Choice::Trial(t.clone()));
        assert_eq!(s.trial.as_ref().unwrap().starts, 2);
        assert_eq!(decide(&mut s, &at("boot2", 400.0)), Choice::Factory);
    }

    #[test]
    fn a_confirm_after_rollback_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let t = install(&slots, d.path(), "3.0", at("b", 0.0));
        let mut s = slots.load().unwrap().state;
        decide(&mut s, &at("b", 1000.0));
        slots.save(&s).unwrap();
        assert!(!slots.confirm(&t.sha256).unwrap());
        assert_eq!(slots.load().unwrap().state.good, None);
    }

    #[test]
    fn a_damaged_state_file_falls_back_to_the_factory_binary() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let good = install(&slots, d.path(), "2.0", at("b", 0.0));
        slots.confirm(&good.sha256).unwrap();
        std::fs::write(slots.state_path(), b"{\"good\": {\"version\": ").unwrap();
        let loaded = slots.load().unwrap();
        assert!(loaded.damaged.unwrap().contains("damaged"));
        let mut s = loaded.state;
        assert_eq!(decide(&mut s, &at("b", 1.0)), Choice::Factory);
        assert!(d.path().join("updates/state.json.damaged").exists());
        assert!(!slots.state_path().exists());
    }
}
