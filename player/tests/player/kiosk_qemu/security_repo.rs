//! A stand-in for Debian's security archive, for the board's unattended
//! updates: the real `netbase` package from the mirror, repacked one version
//! above the image's, in a flat repository whose Release file names the
//! origin the image takes updates from (origin Debian, codename
//! bookworm-security), served over HTTP on the host's loopback. `netbase`
//! because it is small, architecture-independent and only conffiles: an
//! upgrade to the same files changes nothing but the package's version.

use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The package the repository offers, and its file there.
pub const PACKAGE: &str = "netbase";
const DEB: &str = "netbase.deb";

pub struct SecurityRepo {
    pub port: u16,
    /// The version the repository offers.
    pub version: String,
    /// The paths the board asked for, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl SecurityRepo {
    /// Builds the repository in `dir` with `PACKAGE` at `installed`'s next
    /// version, and serves it.
    pub async fn start(dir: &Path, installed: &str) -> SecurityRepo {
        let version = format!("{installed}+kiosktest1");
        let repo = dir.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let original = download(dir);
        let tree = dir.join("deb-tree");
        run(Command::new("dpkg-deb")
            .arg("--raw-extract")
            .arg(&original)
            .arg(&tree));
        let control_file = tree.join("DEBIAN/control");
        let control: String = std::fs::read_to_string(&control_file)
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("Version:") {
                    format!("Version: {version}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&control_file, &control).unwrap();
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&tree)
            .arg(repo.join(DEB)));

        let deb = std::fs::read(repo.join(DEB)).unwrap();
        let packages = format!(
            "{control}Filename: ./{DEB}\nSize: {}\nSHA256: {}\n",
            deb.len(),
            hex::encode(Sha256::digest(&deb))
        );
        std::fs::write(repo.join("Packages"), &packages).unwrap();
        // Unsigned: the board's sources line says `[trusted=yes]`. The
        // fields are those unattended-upgrades matches its origins on.
        let release = format!(
            "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\n\
             Codename: bookworm-security\nDate: Sat, 01 Jan 2000 00:00:00 UTC\n\
             Architectures: amd64 all\nSHA256:\n {} {} Packages\n",
            hex::encode(Sha256::digest(packages.as_bytes())),
            packages.len()
        );
        std::fs::write(repo.join("Release"), release).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, repo.clone(), log.clone()));
            }
        });
        SecurityRepo {
            port,
            version,
            requests,
        }
    }

    /// The board's sources line for it (QEMU's user network shows the host's
    /// loopback as 10.0.2.2).
    pub fn sources_line(&self) -> String {
        format!("deb [trusted=yes] http://10.0.2.2:{}/ ./\n", self.port)
    }

    /// How often the board downloaded the package.
    pub fn downloads(&self) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|p| p.ends_with(DEB)).count()
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The mirror's `PACKAGE`, through the host's apt (whose sources build.sh's
/// mmdebstrap uses too); the package lists are fetched first if the host has
/// none for it.
fn download(dir: &Path) -> PathBuf {
    let fetch = || {
        Command::new("apt-get")
            .args(["download", "-q", PACKAGE])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let mut o = fetch();
    if !o.status.success() {
        run(Command::new("apt-get").args(["update", "-q"]));
        o = fetch();
    }
    assert!(
        o.status.success(),
        "apt-get download {PACKAGE}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{PACKAGE}_")) && n.ends_with(".deb"))
        })
        .unwrap_or_else(|| panic!("apt-get download {PACKAGE} left no .deb in {dir:?}"))
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// One request, answered with the file its path names in the repository
/// (404 for anything else: apt asks for InRelease and Release.gpg first),
/// then the connection is closed; apt opens a new one for its next file.
async fn answer(stream: TcpStream, repo: PathBuf, requests: Arc<Mutex<Vec<String>>>) {
    let mut stream = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim_end().is_empty() => break,
            Ok(_) => head.push(line),
        }
    }
    let Some(path) = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
    else {
        return;
    };
    requests.lock().unwrap().push(path.clone());
    let name = path.trim_start_matches('/').trim_start_matches("./");
    let body = (!name.is_empty() && !name.contains('/'))
        .then(|| std::fs::read(repo.join(name)).ok())
        .flatten();
    let status = if body.is_some() {
        "200 OK"
    } else {
        "404 Not Found"
    };
    let body = body.unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let stream = stream.get_mut();
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}
