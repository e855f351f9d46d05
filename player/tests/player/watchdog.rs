//! The systemd notifications of the player binary: `READY=1` once it shows
//! its cached schedule, `WATCHDOG=1` at half of `WATCHDOG_USEC` while its
//! frame loop runs, and none while the process is stopped (SIGSTOP stands
//! in for a hang), so systemd's watchdog would restart it.

use crate::T;
use crate::wayland::{Proc, dead_server, manifest_now, store_manifest};
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

/// The next message on `socket` within `within`, if any.
fn next(socket: &UnixDatagram, within: Duration) -> Option<String> {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    match socket.recv(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("recv: {e}"),
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}");
}

/// The process state letter from /proc/PID/stat (`T`: stopped).
fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.chars().next().unwrap()
}

fn wait_state(pid: u32, want: char) {
    let start = Instant::now();
    while state(pid) != want {
        assert!(
            start.elapsed() < T,
            "process {pid} never reached state {want}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_player_tells_systemd_it_is_ready_and_alive_and_falls_silent_when_hung() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let manifest = manifest_now(
        12,
        (640, 360),
        json!([{ "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0 }]),
        json!({ "main": { "entries": [{ "item": 1, "duration_s": 600, "schedule": 1 }] } }),
        vec![json!({ "id": 1, "name": "Uhr", "duration_s": 600,
            "content": { "type": "clock" } })],
        vec![],
    );
    store_manifest(&data, &manifest);
    let path = tmp.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_player"));
    cmd.arg("--headless")
        .args(["--server", &dead_server()])
        .arg("--data-dir")
        .arg(&data)
        .args(["--size", "640x360"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID");
    let player = Proc::spawn(cmd, tmp.path().join("player.log"));
    let pid = player.child.id();
    let interval = Duration::from_millis(500);

    // Ready, with the manifest in the status.
    let start = Instant::now();
    let mut seen = String::new();
    while !seen.lines().any(|l| l == "READY=1") {
        assert!(
            start.elapsed() < T * 3,
            "no READY=1 within {:?}; got {seen:?}",
            T * 3
        );
        if let Some(m) = next(&socket, T) {
            seen.push_str(&m);
        }
    }
    assert!(
        seen.contains("STATUS=playing manifest 12"),
        "status: {seen:?}"
    );

    // Heartbeats keep coming, never further apart than WATCHDOG_USEC.
    let beats = |n: usize| {
        let mut last = Instant::now();
        let mut got = 0;
        while got < n {
            let m = next(&socket, 2 * interval)
                .unwrap_or_else(|| panic!("no heartbeat within {:?}", 2 * interval));
            if m.lines().any(|l| l == "WATCHDOG=1") {
                let gap = last.elapsed();
                assert!(gap < 2 * interval, "heartbeats {gap:?} apart");
                last = Instant::now();
                got += 1;
            }
        }
    };
    beats(6);

    // Stopped (a hung loop): no heartbeat within twice the interval.
    signal(pid, "STOP");
    wait_state(pid, 'T');
    // What was sent before the stop is no heartbeat of a stopped player.
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    while socket.recv(&mut buf).is_ok() {}
    socket.set_nonblocking(false).unwrap();
    let silent = next(&socket, 2 * interval);
    assert_eq!(silent, None, "a message while the player was stopped");

    // Running again: the heartbeats resume.
    signal(pid, "CONT");
    beats(3);
}
