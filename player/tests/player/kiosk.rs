//! The kiosk image's parts that can be checked without building it:
//! `kiosk-config` on good and bad first-boot files, every systemd unit
//! through `systemd-analyze verify`, every shell script through
//! `shellcheck`, and the firewall's ruleset through `nft -c`. The tools
//! come from `debian-packages.txt`; a missing one fails the test.

use crate::wayland::require;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn kiosk_image() -> PathBuf {
    repo().join("kiosk-image")
}

fn run(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

fn kiosk_config(conf: &Path, out: &Path, data: &Path) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_kiosk-config"))
        .arg("--config")
        .arg(conf)
        .arg("--out")
        .arg(out)
        .arg("--data-dir")
        .arg(data))
}

#[test]
fn kiosk_config_writes_the_settings_and_a_refused_file_leaves_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (conf, out, data) = (
        tmp.path().join("kiosk.conf"),
        tmp.path().join("run"),
        tmp.path().join("data"),
    );
    std::fs::write(
        &conf,
        "server = https://signage.kaarst.de\ntoken = dsp_0123456789abcdef\n\
         wifi_ssid = Rathaus\nwifi_psk = geheim1234\nrotation = 270\n",
    )
    .unwrap();
    let o = kiosk_config(&conf, &out, &data);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let env = std::fs::read_to_string(out.join("player.env")).unwrap();
    assert!(
        env.contains("PLAYER_SERVER=https://signage.kaarst.de\n"),
        "{env}"
    );
    assert!(env.contains("CAGE_ROTATE=-r -r -r\n"), "{env}");
    assert!(out.join("wpa_supplicant.conf").is_file());
    assert_eq!(
        std::fs::read_link(out.join("localtime")).unwrap(),
        Path::new("/usr/share/zoneinfo/Europe/Berlin")
    );
    assert!(out.join("config-ok").is_file());
    assert!(!out.join("authorized_keys").exists(), "no key: no SSH");
    let store = player::store::Store::open(&data).unwrap();
    assert_eq!(
        store.token().unwrap().as_deref(),
        Some("dsp_0123456789abcdef")
    );
    drop(store);

    // The same directory after a bad edit: the reason, nothing stale, the
    // stored token kept.
    std::fs::write(&conf, "server = https://signage.kaarst.de\nrotaton = 90\n").unwrap();
    let o = kiosk_config(&conf, &out, &data);
    assert!(!o.status.success());
    let reason = std::fs::read_to_string(out.join("config-error")).unwrap();
    assert_eq!(
        reason,
        "kiosk.conf, line 2: unknown setting `rotaton` (did you mean `rotation`?)\n"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("rotaton"));
    for stale in [
        "player.env",
        "wpa_supplicant.conf",
        "config-ok",
        "localtime",
    ] {
        assert!(!out.join(stale).exists(), "{stale} left from the good file");
    }
    let store = player::store::Store::open(&data).unwrap();
    assert_eq!(
        store.token().unwrap().as_deref(),
        Some("dsp_0123456789abcdef")
    );

    // No file at all.
    std::fs::remove_file(&conf).unwrap();
    let o = kiosk_config(&conf, &out, &data);
    assert!(!o.status.success());
    let reason = std::fs::read_to_string(out.join("config-error")).unwrap();
    assert!(
        reason.contains("is missing: copy kiosk.conf.example"),
        "{reason}"
    );
}

#[test]
fn the_example_settings_file_is_accepted() {
    let text = std::fs::read(kiosk_image().join("kiosk.conf.example")).unwrap();
    let c = player::kiosk::Config::parse(&text).unwrap();
    assert_eq!(c.server, "https://signage.example.de");
    assert_eq!((c.wifi, c.ssh_key, c.rotation), (None, None, 0));
}

#[test]
fn every_kiosk_unit_passes_systemd_analyze_verify() {
    require("systemd-analyze");
    // nftables.service, which a unit requires, comes with the package.
    require("nft");
    let units = kiosk_image().join("rootfs/etc/systemd/system");
    let tmp = tempfile::tempdir().unwrap();
    // The binaries are where the image installs them; here they are the
    // ones this build made.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kiosk-config"))
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let sbin = kiosk_image().join("rootfs/usr/local/sbin");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "service" || e == "timer")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_owned();
            std::fs::write(
                tmp.path().join(&name),
                text.replace("/usr/local/bin", &bin_dir)
                    .replace("/usr/local/sbin", sbin.to_str().unwrap()),
            )
            .unwrap();
            names.push(tmp.path().join(name));
        }
    }
    assert!(names.len() >= 3, "units found: {names:?}");
    // seatd comes with the image's packages, not necessarily with this
    // machine: a stand-in, so `Requires=seatd.service` resolves.
    std::fs::write(
        tmp.path().join("seatd.service"),
        "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let o = run(Command::new("systemd-analyze")
        .arg("verify")
        .args(&names)
        // Our units first, then the system's (trailing colon).
        .env("SYSTEMD_UNIT_PATH", format!("{}:", tmp.path().display())));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

#[test]
fn every_shell_script_passes_shellcheck() {
    require("shellcheck");
    let mut scripts = vec![repo().join("x"), repo().join(".ci/run")];
    for entry in std::fs::read_dir(kiosk_image()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            scripts.push(path);
        }
    }
    // The image's own commands and its initramfs hooks are scripts too
    // (no extension).
    for dir in ["rootfs/usr/local/sbin", "rootfs/etc/initramfs-tools/hooks"] {
        for entry in std::fs::read_dir(kiosk_image().join(dir)).unwrap() {
            scripts.push(entry.unwrap().path());
        }
    }
    assert!(scripts.len() >= 7, "scripts found: {scripts:?}");
    let o = run(Command::new("shellcheck").args(&scripts));
    assert!(
        o.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn the_firewall_ruleset_is_valid_and_closes_inbound() {
    require("nft");
    let path = kiosk_image().join("rootfs/etc/nftables.conf");
    let o = run(Command::new("nft").arg("-c").arg("-f").arg(&path));
    assert!(
        o.status.success(),
        "nft -c:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("type filter hook input priority filter; policy drop;"));
    assert!(
        !text.contains("dport 22"),
        "SSH is opened only by kiosk-ssh-firewall.service"
    );
}
