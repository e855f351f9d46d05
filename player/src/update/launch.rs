//! `player-launch`: the kiosk's `ExecStart` (under cage). Reads the slot
//! state, counts a trial's start (saved before it runs), and `exec`s the
//! chosen binary with the same arguments and `argv[0]` `player`, so the
//! process stays the one systemd and cage know (watchdog, `READY=1`). The
//! factory binary is this program itself (`player-launch` is a link to the
//! image's `player`), or `PLAYER_FACTORY_BIN`.
//!
//! The chosen release's binary is hashed before it runs: one damaged on the
//! data partition is treated as a failed start (a trial is rolled back, a
//! good release falls back to the factory binary). Whatever goes wrong here,
//! the factory binary runs.

use super::slots::{Choice, Moment, Slots, decide};
use super::{ENV_SHA256, ENV_TRIAL, ENV_VERSION};
use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

/// The data directory the player will use: `--data-dir` among the
/// arguments, else `PLAYER_DATA_DIR`, else the player's default.
pub fn data_dir(args: &[OsString]) -> PathBuf {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--data-dir" {
            if let Some(v) = it.next() {
                return PathBuf::from(v);
            }
        } else if let Some(v) = s.strip_prefix("--data-dir=") {
            return PathBuf::from(v);
        }
    }
    std::env::var_os("PLAYER_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("player-data"))
}

/// Decides and saves; returns the binary and the environment to set.
pub fn choose(
    slots: &Slots,
    factory: PathBuf,
    now: &Moment,
) -> (PathBuf, Option<(String, String, bool)>) {
    let mut state = match slots.load() {
        Ok(l) => {
            if let Some(why) = l.damaged {
                eprintln!("player-launch: {why}");
            }
            l.state
        }
        Err(e) => {
            eprintln!("player-launch: cannot read the update state ({e}); the factory player runs");
            return (factory, None);
        }
    };
    let before = state.clone();
    let mut choice = decide(&mut state, now);
    // A release whose file is not what was verified is a failed start.
    loop {
        let installed = match &choice {
            Choice::Factory => break,
            Choice::Good(r) | Choice::Trial(r) => r.clone(),
        };
        let path = slots.binary(installed.slot);
        match super::verify::sha256_file(&path) {
            Ok((sha, _)) if sha == installed.sha256 => break,
            found => {
                let why = match found {
                    Ok((sha, _)) => {
                        format!("its file on the data partition changed (SHA-256 {sha})")
                    }
                    Err(e) => format!("its file cannot be read: {e}"),
                };
                eprintln!(
                    "player-launch: release {} not run: {why}",
                    installed.version
                );
                if matches!(choice, Choice::Trial(_)) {
                    state.roll_back(why);
                } else {
                    state.good = None;
                }
                choice = decide(&mut state, now);
            }
        }
    }
    if state != before
        && let Err(e) = slots.save(&state)
    {
        // An uncounted trial start could loop forever: never run one unsaved.
        eprintln!("player-launch: cannot save the update state ({e}); the factory player runs");
        return (factory, None);
    }
    if let Some(r) = &state.rollback
        && before.rollback.as_ref() != Some(r)
    {
        eprintln!(
            "player-launch: release {} rolled back: {}",
            r.version, r.reason
        );
    }
    match choice {
        Choice::Factory => (factory, None),
        Choice::Good(r) => (slots.binary(r.slot), Some((r.version, r.sha256, false))),
        Choice::Trial(r) => {
            eprintln!(
                "player-launch: trying release {} (start {} of {})",
                r.version,
                state.trial.as_ref().map_or(0, |t| t.starts),
                state.trial.as_ref().map_or(0, |t| t.max_starts)
            );
            (slots.binary(r.slot), Some((r.version, r.sha256, true)))
        }
    }
}

/// Runs the launcher; returns only when `exec` failed.
pub fn main() -> anyhow::Result<()> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let factory = match std::env::var_os("PLAYER_FACTORY_BIN") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()?,
    };
    let slots = Slots::new(&data_dir(&args));
    let (binary, release) = choose(&slots, factory.clone(), &Moment::now());
    let mut cmd = std::process::Command::new(&binary);
    cmd.arg0("player").args(&args);
    match release {
        Some((version, sha256, trial)) => {
            cmd.env(ENV_VERSION, version).env(ENV_SHA256, sha256);
            if trial {
                cmd.env(ENV_TRIAL, "1");
            } else {
                cmd.env_remove(ENV_TRIAL);
            }
        }
        None => {
            cmd.env_remove(ENV_VERSION)
                .env_remove(ENV_SHA256)
                .env_remove(ENV_TRIAL);
        }
    }
    let err = cmd.exec();
    if binary != factory {
        // A release that cannot even be executed: the factory binary runs;
        // a trial's start was counted, so the next start rolls it back.
        eprintln!(
            "player-launch: cannot run {}: {err}; the factory player runs",
            binary.display()
        );
        let err = std::process::Command::new(&factory)
            .arg0("player")
            .args(&args)
            .env_remove(ENV_VERSION)
            .env_remove(ENV_SHA256)
            .env_remove(ENV_TRIAL)
            .exec();
        anyhow::bail!("cannot run the factory player {}: {err}", factory.display());
    }
    anyhow::bail!("cannot run {}: {err}", binary.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use content::release::PlayerRelease;

    fn install(slots: &Slots, dir: &std::path::Path, v: &str) -> super::super::slots::Installed {
        let f = dir.join(format!("download-{v}"));
        std::fs::write(&f, format!("binary {v}")).unwrap();
        let (sha256, size) = super::super::verify::sha256_file(&f).unwrap();
        let r = PlayerRelease {
            version: v.into(),
            sha256,
            size,
            signature: String::new(),
            path: String::new(),
        };
        slots.install(&r, &f, Moment::now(), 3, 300).unwrap()
    }

    #[test]
    fn a_damaged_trial_is_rolled_back_and_a_damaged_good_release_falls_back_to_factory() {
        let d = tempfile::tempdir().unwrap();
        let slots = Slots::new(d.path());
        let factory = PathBuf::from("/usr/local/bin/player");
        let good = install(&slots, d.path(), "2.0");
        slots.confirm(&good.sha256).unwrap();
        let trial = install(&slots, d.path(), "3.0");
        let now = Moment::now();
        let (bin, env) = choose(&slots, factory.clone(), &now);
        assert_eq!(bin, slots.binary(trial.slot));
        assert_eq!(env, Some(("3.0".into(), trial.sha256.clone(), true)));
        // The trial's file changes on disk: not run, rolled back, good runs.
        std::fs::write(slots.binary(trial.slot), "changed").unwrap();
        let (bin, env) = choose(&slots, factory.clone(), &now);
        assert_eq!(bin, slots.binary(good.slot));
        assert_eq!(env, Some(("2.0".into(), good.sha256.clone(), false)));
        let state = slots.load().unwrap().state;
        assert!(state.is_bad(&trial.sha256));
        // The good one's file goes missing: the factory binary.
        std::fs::remove_file(slots.binary(good.slot)).unwrap();
        assert_eq!(choose(&slots, factory.clone(), &now), (factory, None));
    }

    #[test]
    fn the_data_dir_comes_from_the_arguments_or_the_environment() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            data_dir(&args(&["--headless", "--data-dir", "/d"])),
            PathBuf::from("/d")
        );
        assert_eq!(
            data_dir(&args(&["--data-dir=/e", "--fullscreen"])),
            PathBuf::from("/e")
        );
    }
}
