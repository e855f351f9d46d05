//! The kiosk image, built and booted: `kiosk-image/build.sh amd64` with this
//! build's player, started in QEMU with a virtual display, its screen read
//! through QMP's `screendump` and its serial console (kernel, systemd and,
//! forwarded by journald, the player's log) read line by line.
//!
//! 1. Without a token the player shows its pairing code (checked by pixels).
//! 2. Staff adopt it with the code from its log; it caches and shows image A.
//!    Its journal's warnings reach the server (`--forward-journal`).
//! 3. A schedule change adds B, an incompressible 3 MiB image. The relay
//!    between the VM and the server holds B's download after 1 MiB, and the
//!    VM is killed there: a power cut during a cache write.
//! 4. Booted again without a network (so without a trusted clock: no NTP,
//!    no server), it shows A, the default layer's content, from its cache.
//! 5. `kiosk.conf` gives a technician's SSH key: sshd answers through the
//!    firewall with a host key the board made itself, kept on its data
//!    partition; the image carries none.
//! 6. A security update from a stand-in for Debian's security archive
//!    (`security_repo`): installed unattended, then a reboot, then read-only
//!    again with nothing more to install.
//!
//! Emulation (TCG) by default: on this project's machines `/dev/kvm` exists
//! but starts no guest (no output at all with `-cpu host,-arch-capabilities`
//! or `kvm64`; plain `-cpu host` aborts on MSR 0x10a). `KIOSK_QEMU_ACCEL=kvm`
//! uses KVM where it works. Needs root (mmdebstrap), the Debian mirror, and
//! the tools of `debian-packages.txt`; a missing one fails the test.

#[path = "kiosk_qemu/security_repo.rs"]
mod security_repo;

use super::system::{image_item, noise_png, png, replace_entries, upload};
use crate::wayland::require;
use security_repo::{PACKAGE, SecurityRepo};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system_tests::api::display_json;
use system_tests::{Api, ServerProcess, eventually};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// Building the image: debootstrapping from the mirror, then genimage.
const BUILD: Duration = Duration::from_secs(900);
/// Power-on to the player's first screen, emulated (27 s measured with a
/// release build on an idle machine; a test build on a busy one is slower).
const BOOT: Duration = Duration::from_secs(300);
/// A screen change the player has everything for, emulated.
const SHOW: Duration = Duration::from_secs(120);
/// B's bytes let through before the relay holds its download.
const HOLD_AFTER: u64 = 1024 * 1024;

/// How much larger than the image the "card" is.
const GROW: u64 = 256 * MIB;
const MIB: u64 = 1024 * 1024;

/// The pairing screen's background (`palette::BACKGROUND`).
const BACKGROUND: [u8; 3] = [10, 38, 69];
/// Image A: a colour the player's own screens never use.
const ORANGE: [u8; 3] = [235, 120, 10];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_boots_to_pairing_plays_and_survives_a_power_cut_during_a_cache_write() {
    for tool in [
        "e2fsck",
        "mmdebstrap",
        "genimage",
        "mcopy",
        "mkfs.vfat",
        "qemu-system-x86_64",
        "ssh-keygen",
        "ssh-keyscan",
        "debugfs",
        "dpkg-deb",
        "apt-get",
    ] {
        require(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let image = build_image(tmp.path()).await;
    // Written to a card larger than the image: the data partition grows.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap();
    file.set_len(file.metadata().unwrap().len() + GROW).unwrap();
    let (_, data_before) = partitions(&image)[2];

    let server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = HoldingRelay::start(server.addr()).await;
    // A technician's key: SSH on. QEMU's user network shows the host's
    // loopback as 10.0.2.2.
    let technik = tmp.path().join("technik");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&technik)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let ssh_key = std::fs::read_to_string(technik.with_extension("pub")).unwrap();
    provision(
        &image,
        &format!(
            "server = http://10.0.2.2:{}\nssh_key = {}\n",
            relay.port,
            ssh_key.trim()
        ),
    );

    // 1. First boot: the pairing code, on the screen and in the log.
    let mut vm = Vm::boot(tmp.path(), &image, true);
    let code = vm
        .wait_line("the player's pairing code", BOOT, |l| {
            let rest = &l[l.find("pairing code ")? + "pairing code ".len()..];
            let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (code.len() == 6).then_some(code)
        })
        .await;
    vm.wait_screen("the pairing screen", SHOW, |s| {
        let bg = s.share(|p| near(p, BACKGROUND, 12));
        // The six digits, big and white, across the middle of the screen.
        let digits = s.band(0.35, 0.65).share(|p| p.iter().all(|&c| c >= 220));
        (bg > 0.6 && digits > 0.02)
            .then_some(())
            .ok_or_else(|| format!("background {bg:.2}, white in the middle {digits:.3}"))
    })
    .await;

    // 2. Adopted; image A is cached and shown.
    let display = api
        .adopt(&code, &display_json("Kaarst Rathausplatz"))
        .await
        .unwrap();
    let a = upload(&api, "a.png", png(ORANGE)).await;
    let item_a = image_item(&api, "A", &a).await;
    // The default layer, always on: what a display plays while its clock is
    // not trusted yet, as after the power cut below (no network, no NTP).
    let (status, v) = api
        .post(
            "/api/schedules",
            &json!({
                "name": "Rathausplatz",
                "targets": [{ "kind": "display", "value": display }],
                "entries": [{ "item": item_a }],
                "layer": "default",
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
    let schedule = v["id"].as_i64().unwrap();
    vm.wait_screen("image A", SHOW, shows_orange).await;
    // sshd answers through the firewall, with the board's own host key.
    let ssh_port = vm.ssh_port;
    let host_key = eventually(SHOW, "the board's SSH host key", || async move {
        let scan = tokio::task::spawn_blocking(move || {
            Command::new("ssh-keyscan")
                .args(["-T", "5", "-t", "ed25519", "-p"])
                .arg(ssh_port.to_string())
                .arg("127.0.0.1")
                .output()
        })
        .await??;
        Ok(String::from_utf8_lossy(&scan.stdout)
            .split_whitespace()
            .skip_while(|w| *w != "ssh-ed25519")
            .nth(1)
            .map(str::to_owned))
    })
    .await;
    // The board's journal (in RAM) reaches the server: the kernel's warning
    // about the data partition's journaled mode, from this boot.
    let logs = format!("/api/displays/{display}/logs?limit=5000");
    eventually(SHOW, "the board's kernel warning on the server", || async {
        let (_, lines) = api.get(&logs).await?;
        Ok(lines
            .as_array()
            .and_then(|a| {
                a.iter().find(|l| {
                    l["source"] == "kernel"
                        && l["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("data=journal"))
                })
            })
            .cloned())
    })
    .await;

    // 3. B's download is held halfway; the power goes.
    let b = upload(&api, "b.png", noise_png(1024, 1024, 7)).await;
    assert!(
        b.size > 2 * HOLD_AFTER,
        "B must outlast the hold: {}",
        b.size
    );
    let item_b = image_item(&api, "B", &b).await;
    replace_entries(&api, schedule, &[item_a, item_b]).await;
    tokio::time::timeout(SHOW, relay.held.notified())
        .await
        .unwrap_or_else(|_| vm.fail("the player to download B"));
    vm.power_cut();

    // 4. Power back, no network: A again, from the cache.
    let mut vm = Vm::boot(tmp.path(), &image, false);
    vm.wait_screen("image A from the cache", BOOT, shows_orange)
        .await;
    let log = vm.log();
    for bad in ["EXT4-fs error", "Einrichtung fehlerhaft", "panicked"] {
        assert!(
            !log.iter().any(|l| l.contains(bad)),
            "the second boot logged {bad:?}:\n{}",
            log.join("\n")
        );
    }

    // A clean shutdown, then the card as a technician would check it: the
    // data partition reaches the end of the card, its file system fills it,
    // and fsck finds nothing to repair after the power cut.
    vm.power_off().await;
    let card = std::fs::metadata(&image).unwrap().len();
    let (start, len) = partitions(&image)[2];
    assert!(
        len >= data_before + GROW - MIB && card - (start + len) < MIB,
        "data partition {start}+{len} on a card of {card} (was {data_before} long)"
    );
    let data = copy_partition(&image, 2, &tmp.path().join("data.ext4"));
    let mut superblock = [0u8; 1024];
    let mut f = std::fs::File::open(&data).unwrap();
    f.seek(SeekFrom::Start(1024)).unwrap();
    f.read_exact(&mut superblock).unwrap();
    let word = |at: usize| {
        u64::from(u32::from_le_bytes(
            superblock[at..at + 4].try_into().unwrap(),
        ))
    };
    let (blocks, block_size) = (word(4), 1024u64 << word(24));
    assert!(
        len - blocks * block_size < 4 * MIB,
        "the data file system has {blocks} blocks of {block_size} bytes in a partition of {len}"
    );
    // The host key sshd showed is the one the board keeps on its data
    // partition; the image itself has none to share between boards.
    let kept = debugfs(&data, "cat /ssh/ssh_host_ed25519_key.pub");
    assert!(
        kept.split_whitespace().nth(1) == Some(host_key.as_str()),
        "sshd showed {host_key}; /data/ssh holds {kept:?}"
    );
    let etc_ssh = debugfs(&image.with_file_name("root.ext4"), "ls /etc/ssh");
    assert!(
        etc_ssh.contains("sshd_config") && !etc_ssh.contains("ssh_host_"),
        "the image's /etc/ssh: {etc_ssh}"
    );
    fsck(&data, "the data partition");

    // 6. A security update, unattended. The board's apt sources name a
    //    stand-in for Debian's security archive that offers the next version
    //    of an installed package, and its nightly timer fires at boot. The
    //    board installs it and reboots by itself; after that boot the same
    //    run finds nothing to install and leaves the root read-only.
    let root = tmp.path().join("root-card.ext4");
    copy_partition(&image, 1, &root);
    let status = debugfs(&root, "cat /var/lib/dpkg/status");
    let installed = package_version(&status, PACKAGE)
        .unwrap_or_else(|| panic!("no {PACKAGE} in the image's dpkg status"));
    let repo = SecurityRepo::start(tmp.path(), &installed).await;
    let sources = debugfs(&root, "ls -p /etc/apt/sources.list.d");
    let mut edits: Vec<String> = sources
        .lines()
        .filter_map(|l| l.split('/').nth(5))
        .filter(|name| !name.is_empty() && *name != "." && *name != "..")
        .map(|name| format!("rm /etc/apt/sources.list.d/{name}"))
        .collect();
    edits.push("rm /etc/apt/sources.list".into());
    let soon = "[Timer]\nOnCalendar=\nOnBootSec=1\nRandomizedDelaySec=0\n";
    write_files(
        &root,
        &mut edits,
        &[
            ("/etc/apt", "sources.list", &repo.sources_line()),
            (
                "/etc/systemd/system/kiosk-upgrade.timer.d",
                "soon.conf",
                soon,
            ),
        ],
    );
    write_partition(&image, 1, &root);

    let mut vm = Vm::boot(tmp.path(), &image, true);
    let first = vm
        .wait_line("the update installed and a reboot", UPGRADE, |l| {
            (l.contains("kiosk-upgrade: updates installed; rebooting") || failed_upgrade(l))
                .then(|| l.to_owned())
        })
        .await;
    assert!(!failed_upgrade(&first), "{}", vm.log().join("\n"));
    vm.wait_line("the kernel after the reboot", BOOT, |l| {
        l.contains("Linux version").then_some(())
    })
    .await;
    let after = vm.log().len();
    let ended = vm
        .wait_line("the next boot's kiosk-upgrade run", UPGRADE, |l| {
            (l.contains("Finished kiosk-upgrade.service") || failed_upgrade(l))
                .then(|| l.to_owned())
        })
        .await;
    let second_boot = vm.log()[after..].join("\n");
    assert!(
        !failed_upgrade(&ended)
            && !second_boot.contains("updates installed")
            && !second_boot.contains("stays writable"),
        "the run after the update's reboot: {ended}\n{second_boot}"
    );
    vm.power_off().await;
    assert_eq!(
        repo.downloads(),
        1,
        "the board's requests: {:?}",
        repo.requests()
    );
    copy_partition(&image, 1, &root);
    let status = debugfs(&root, "cat /var/lib/dpkg/status");
    assert_eq!(
        package_version(&status, PACKAGE).as_deref(),
        Some(repo.version.as_str()),
        "{PACKAGE} on the board after the update"
    );
    // The package lists went again (they would only fill the root).
    let lists = debugfs(&root, "ls -p /var/lib/apt/lists");
    assert!(!lists.contains("_Packages"), "/var/lib/apt/lists: {lists}");
    fsck(&root, "the root partition");
}

/// Minutes of emulated apt and unattended-upgrade (Python) on the board.
const UPGRADE: Duration = Duration::from_secs(600);

/// A console line of systemd's that says kiosk-upgrade failed.
fn failed_upgrade(line: &str) -> bool {
    line.contains("kiosk-upgrade.service") && line.contains("Failed")
}

/// Copies partition `index` of `image` to the file `to`.
fn copy_partition(image: &Path, index: usize, to: &Path) -> PathBuf {
    let (start, len) = partitions(image)[index];
    let mut from = std::fs::File::open(image).unwrap();
    from.seek(SeekFrom::Start(start)).unwrap();
    std::io::copy(&mut from.take(len), &mut std::fs::File::create(to).unwrap()).unwrap();
    to.to_path_buf()
}

/// Writes the file `from` over partition `index` of `image`.
fn write_partition(image: &Path, index: usize, from: &Path) {
    let (start, len) = partitions(image)[index];
    assert_eq!(std::fs::metadata(from).unwrap().len(), len);
    let mut card = std::fs::OpenOptions::new().write(true).open(image).unwrap();
    card.seek(SeekFrom::Start(start)).unwrap();
    std::io::copy(&mut std::fs::File::open(from).unwrap(), &mut card).unwrap();
    card.sync_all().unwrap();
}

/// One debugfs request (read-only) on the ext4 file system `fs`: its output.
fn debugfs(fs: &Path, request: &str) -> String {
    let o = Command::new("debugfs")
        .args(["-R", request])
        .arg(fs)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs the debugfs `requests`, then writes each (folder, name, text) into
/// `fs`, making the folder if need be, and reads every file back: debugfs
/// reports its errors but exits 0 all the same.
fn write_files(fs: &Path, requests: &mut Vec<String>, files: &[(&str, &str, &str)]) {
    let dir = fs.with_extension("files");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (folder, name, text)) in files.iter().enumerate() {
        let host = dir.join(i.to_string());
        std::fs::write(&host, text).unwrap();
        requests.push(format!("mkdir {folder}"));
        requests.push(format!("cd {folder}"));
        // `write` makes the name in the current folder, taken as it is.
        requests.push(format!("write {} {name}", host.display()));
    }
    let script = dir.join("requests");
    std::fs::write(&script, requests.join("\n") + "\n").unwrap();
    let o = Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&script)
        .arg(fs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (folder, name, text) in files {
        let path = format!("{folder}/{name}");
        assert_eq!(
            debugfs(fs, &format!("cat {path}")),
            *text,
            "{path} as written by debugfs ({})",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// e2fsck finds nothing to repair in the file system `fs`.
fn fsck(fs: &Path, what: &str) {
    let o = Command::new("e2fsck").arg("-fn").arg(fs).output().unwrap();
    assert!(
        o.status.success(),
        "e2fsck -fn on {what}:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// The version dpkg's `status` gives for the installed `package`.
fn package_version(status: &str, package: &str) -> Option<String> {
    status
        .split("\n\n")
        .find(|stanza| stanza.lines().any(|l| l == format!("Package: {package}")))?
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(str::to_owned)
}

/// Runs `build.sh amd64` with the player this test was built with.
async fn build_image(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bins = Path::new(env!("CARGO_BIN_EXE_player")).parent().unwrap();
    let out = dir.join("out");
    let mut build = Command::new("timeout");
    build
        .arg(BUILD.as_secs().to_string())
        .arg(repo.join("kiosk-image/build.sh"))
        .arg("amd64")
        .arg(bins)
        .arg(&out)
        .stdin(Stdio::null());
    let o = tokio::task::spawn_blocking(move || build.output())
        .await
        .unwrap()
        .expect("build.sh runs");
    assert!(
        o.status.success(),
        "build.sh failed or ran past {BUILD:?} ({}):\n{}\n{}",
        o.status,
        tail(&String::from_utf8_lossy(&o.stdout), 40),
        tail(&String::from_utf8_lossy(&o.stderr), 60)
    );
    let image = out.join("kiosk-amd64.img");
    assert!(image.is_file(), "build.sh made no {}", image.display());
    // The initramfs with only the root's modules (the kiosk-modules hook),
    // zstd-compressed: Debian's default ("most", gzip here) is 32 MiB, over
    // 2 s of unpacking under emulation and read from the card at each boot.
    let initrd = std::fs::read(out.join("initrd.img")).unwrap();
    assert_eq!(
        initrd[..4],
        [0x28, 0xb5, 0x2f, 0xfd],
        "the initramfs is not zstd-compressed"
    );
    assert!(
        initrd.len() < 16 << 20,
        "the initramfs has {} bytes: are the initramfs-tools settings in?",
        initrd.len()
    );
    image
}

/// The MBR's partitions: (start, length) in bytes.
fn partitions(image: &Path) -> Vec<(u64, u64)> {
    let mut mbr = [0u8; 512];
    std::fs::File::open(image)
        .unwrap()
        .read_exact(&mut mbr)
        .unwrap();
    assert_eq!(mbr[510..], [0x55, 0xAA], "no MBR in {}", image.display());
    let field = |at: usize| u64::from(u32::from_le_bytes(mbr[at..at + 4].try_into().unwrap()));
    (0..4)
        .map(|i| 446 + 16 * i)
        .filter(|&entry| mbr[entry + 4] != 0)
        .map(|entry| (field(entry + 8) * 512, field(entry + 12) * 512))
        .collect()
}

/// Writes `kiosk.conf` onto the image's boot partition (the first one, FAT),
/// as a technician would on the SD card.
fn provision(image: &Path, conf: &str) {
    let (boot, _) = partitions(image)[0];
    let file = image.with_file_name("kiosk.conf");
    std::fs::write(&file, conf).unwrap();
    let o = Command::new("mcopy")
        .arg("-o")
        .arg("-i")
        .arg(format!("{}@@{boot}", image.display()))
        .arg(&file)
        .arg("::kiosk.conf")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Forwards connections to the server and counts each one's bytes towards
/// the player; the first that passes [`HOLD_AFTER`] is held (nothing more
/// passes either way) and `held` is notified.
struct HoldingRelay {
    port: u16,
    held: Arc<Notify>,
}

impl HoldingRelay {
    async fn start(server: std::net::SocketAddr) -> HoldingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Notify::new());
        let notify = held.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let notify = notify.clone();
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(server).await {
                        relay(client, upstream, notify).await;
                    }
                });
            }
        });
        HoldingRelay { port, held }
    }
}

async fn relay(client: TcpStream, server: TcpStream, held: Arc<Notify>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client_tx.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n as u64;
        if sent > HOLD_AFTER {
            // Held open: the player waits for bytes that never come.
            held.notify_one();
            std::future::pending::<()>().await;
        }
    }
    let _ = client_tx.shutdown().await;
    up.abort();
}

/// One boot of the image in QEMU.
struct Vm {
    child: Child,
    qmp: PathBuf,
    screen_file: PathBuf,
    /// The host's end of the guest's port 22 (with a network).
    ssh_port: u16,
    lines: mpsc::UnboundedReceiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Vm {
    fn boot(dir: &Path, image: &Path, network: bool) -> Vm {
        let out = image.parent().unwrap();
        let qmp = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&qmp);
        let accel = match std::env::var("KIOSK_QEMU_ACCEL").as_deref() {
            Ok("kvm") => vec!["-accel", "kvm", "-cpu", "host"],
            _ => vec!["-accel", "tcg,thread=multi", "-cpu", "max"],
        };
        // A free port on the host for the guest's SSH (taken back at once;
        // QEMU binds it moments later).
        let ssh_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("qemu-system-x86_64")
            .args(accel)
            .args(["-m", "2048", "-smp", "2", "-kernel"])
            .arg(out.join("vmlinuz"))
            .arg("-initrd")
            .arg(out.join("initrd.img"))
            .arg("-append")
            .arg("root=LABEL=kiosk-root ro console=ttyS0 systemd.journald.forward_to_console=1")
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", image.display()))
            .args([
                "-device",
                "virtio-vga",
                "-display",
                "none",
                "-monitor",
                "none",
            ])
            .args(["-serial", "stdio", "-qmp"])
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(if network {
                [
                    "-nic".to_owned(),
                    format!("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{ssh_port}-:22"),
                ]
            } else {
                ["-nic".to_owned(), "none".to_owned()]
            })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-x86_64 starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let keep = log.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                // Shown with the test's output (on failure, or --no-capture).
                println!("vm: {line}");
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Vm {
            child,
            qmp,
            ssh_port,
            screen_file: dir.join("screen.ppm"),
            lines,
            log,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "timed out waiting for {what}; the console's last lines:\n{}",
            tail(&self.log().join("\n"), 80)
        )
    }

    /// Waits for a console line `pick` finds something in.
    async fn wait_line<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        pick: impl Fn(&str) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    if let Some(v) = pick(&line) {
                        return v;
                    }
                }
                Ok(None) => self.fail(&format!("{what} (QEMU ended)")),
                Err(_) => self.fail(what),
            }
        }
    }

    /// Takes screen dumps until `check` passes. Each dump is a whole frame
    /// written by QEMU on request, so this asks rather than waits for an event.
    async fn wait_screen(
        &mut self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Screen) -> Result<(), String>,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::from("no screen yet");
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.fail(&format!("{what} (QEMU exited: {status})"));
            }
            let (qmp, file) = (self.qmp.clone(), self.screen_file.clone());
            match tokio::task::spawn_blocking(move || screendump(&qmp, &file))
                .await
                .unwrap()
            {
                Ok(screen) => match check(&screen) {
                    Ok(()) => return,
                    Err(why) => last = why,
                },
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.fail(&format!("{what}: {last}"))
    }

    /// Kills QEMU without warning: the guest's unwritten data is lost.
    fn power_cut(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Presses the power button (ACPI) and waits for the guest to shut down.
    async fn power_off(mut self) {
        let qmp = self.qmp.clone();
        tokio::task::spawn_blocking(move || {
            qmp_command(&qmp, json!({"execute": "system_powerdown"}))
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("system_powerdown: {e}"));
        let deadline = tokio::time::Instant::now() + SHOW;
        while self.child.try_wait().unwrap().is_none() {
            if tokio::time::Instant::now() > deadline {
                self.fail("the guest to shut down");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one QMP command after the capabilities handshake; returns its answer.
fn qmp_command(socket: &Path, command: Value) -> Result<Value, String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("QMP: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut greeting = String::new();
    reader.read_line(&mut greeting).map_err(|e| e.to_string())?;
    let mut answer = || -> Result<Value, String> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("QMP closed".into());
            }
            let v: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
            if v.get("return").is_some() || v.get("error").is_some() {
                return Ok(v);
            }
        }
    };
    for c in [json!({"execute": "qmp_capabilities"}), command] {
        writeln!(writer, "{c}").map_err(|e| e.to_string())?;
        let v = answer()?;
        if let Some(e) = v.get("error") {
            return Err(format!("QMP {c}: {e}"));
        }
        if c["execute"] != "qmp_capabilities" {
            return Ok(v);
        }
    }
    unreachable!()
}

fn screendump(socket: &Path, file: &Path) -> Result<Screen, String> {
    let _ = std::fs::remove_file(file);
    qmp_command(
        socket,
        json!({"execute": "screendump", "arguments": {"filename": file}}),
    )?;
    Screen::from_ppm(&std::fs::read(file).map_err(|e| e.to_string())?)
}

/// A screen dump: RGB rows.
struct Screen {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Screen {
    fn from_ppm(bytes: &[u8]) -> Result<Screen, String> {
        // "P6\n<w> <h>\n255\n" then the pixels, as QEMU writes it.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if start == at {
                return Err("a truncated PPM header".into());
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        let number = |s: &str| s.parse::<usize>().map_err(|e| format!("PPM header: {e}"));
        if fields[0] != "P6" || fields[3] != "255" {
            return Err(format!("not an 8-bit PPM: {fields:?}"));
        }
        let (width, height) = (number(&fields[1])?, number(&fields[2])?);
        let rgb = bytes[at + 1..].to_vec();
        if rgb.len() != width * height * 3 {
            return Err(format!(
                "{width}x{height} PPM with {} bytes of pixels",
                rgb.len()
            ));
        }
        Ok(Screen { width, height, rgb })
    }

    /// The rows between the fractions `from` and `to` of the height.
    fn band(&self, from: f64, to: f64) -> Screen {
        let row = self.width * 3;
        let (a, b) = (
            (self.height as f64 * from) as usize,
            (self.height as f64 * to) as usize,
        );
        Screen {
            width: self.width,
            height: b - a,
            rgb: self.rgb[a * row..b * row].to_vec(),
        }
    }

    /// The share of pixels `matches` accepts.
    fn share(&self, matches: impl Fn(&[u8]) -> bool) -> f64 {
        let n = self.rgb.chunks_exact(3).filter(|p| matches(p)).count();
        n as f64 / (self.width * self.height).max(1) as f64
    }
}

fn near(p: &[u8], want: [u8; 3], tolerance: u8) -> bool {
    p.iter().zip(want).all(|(&a, b)| a.abs_diff(b) <= tolerance)
}

/// Image A fills the screen but for letterbox bars.
fn shows_orange(s: &Screen) -> Result<(), String> {
    let orange = s.share(|p| near(p, ORANGE, 12));
    (orange > 0.6)
        .then_some(())
        .ok_or_else(|| format!("{orange:.2} of the screen is image A's colour"))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
