//! Checking a release before it is installed: its size and SHA-256, then
//! the ed25519 signature over its statement (version, hash and size)
//! against the key baked into the image, with `content::release::ReleaseKey`,
//! the check the control server runs on uploads too. Also the signing side,
//! for `player-release` (offline, on a release manager's machine).
//!
//! Key files are text: the 32-byte key in hex on one line (`#` comments
//! and blank lines allowed), read by `content::release::parse_key`. A secret
//! key file holds the 32-byte seed in the same form.

use content::release::{
    PlayerRelease, ReleaseKey, SignatureError, check_version, parse_key, statement,
};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("cannot read the update key {path}: {source}")]
    KeyUnreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("the update key {path} is not a 32-byte ed25519 public key in hex: {why}")]
    KeyInvalid { path: String, why: String },
    #[error("the signature is not 64 bytes of hex")]
    SignatureMalformed,
    #[error(
        "the signature does not match release {version} under this image's key (another key, another version, or a changed binary)"
    )]
    BadSignature { version: String },
    #[error("the binary has {got} bytes, not the {want} that were signed")]
    WrongSize { got: u64, want: u64 },
    #[error("the binary's SHA-256 is {got}, not the {want} that was signed")]
    WrongHash { got: String, want: String },
    #[error("version {0:?}: {1}")]
    BadVersion(String, String),
    #[error("reading the binary {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The public key releases must be signed with.
#[derive(Debug, Clone)]
pub struct UpdateKey(ReleaseKey);

impl UpdateKey {
    pub fn load(path: &Path) -> Result<UpdateKey, VerifyError> {
        let text = std::fs::read_to_string(path).map_err(|source| VerifyError::KeyUnreadable {
            path: path.display().to_string(),
            source,
        })?;
        UpdateKey::parse(&text).map_err(|why| VerifyError::KeyInvalid {
            path: path.display().to_string(),
            why,
        })
    }

    pub fn parse(text: &str) -> Result<UpdateKey, String> {
        ReleaseKey::parse(text)
            .map(UpdateKey)
            .map_err(|e| e.to_string())
    }

    /// The signature covers this release's version, hash and size.
    pub fn verify_statement(&self, release: &PlayerRelease) -> Result<(), VerifyError> {
        check_version(&release.version)
            .map_err(|e| VerifyError::BadVersion(release.version.clone(), e))?;
        self.0.verify_release(release).map_err(|e| match e {
            SignatureError::Malformed => VerifyError::SignatureMalformed,
            SignatureError::Mismatch => VerifyError::BadSignature {
                version: release.version.clone(),
            },
        })
    }

    /// The file at `path` is exactly what `release` names and its signature
    /// is good: size, then hash, then signature.
    pub fn verify_file(&self, release: &PlayerRelease, path: &Path) -> Result<(), VerifyError> {
        let (sha256, size) = sha256_file(path).map_err(|source| VerifyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if size != release.size {
            return Err(VerifyError::WrongSize {
                got: size,
                want: release.size,
            });
        }
        if sha256 != release.sha256 {
            return Err(VerifyError::WrongHash {
                got: sha256,
                want: release.sha256.clone(),
            });
        }
        self.verify_statement(release)
    }
}

/// The SHA-256 (lowercase hex) and size of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// A new key pair: (secret seed, public key), both hex.
pub fn keygen() -> (String, String) {
    use rand::RngCore as _;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (
        hex::encode(seed),
        hex::encode(key.verifying_key().to_bytes()),
    )
}

/// A secret key file's signing key.
pub fn signing_key(text: &str) -> Result<SigningKey, String> {
    parse_key(text)
        .map(|b| SigningKey::from_bytes(&b))
        .map_err(|e| e.to_string())
}

/// Signs `binary` as `version`: what `POST /api/releases` takes (the
/// download path is the server's to fill in).
pub fn sign(key: &SigningKey, version: &str, binary: &Path) -> Result<PlayerRelease, VerifyError> {
    check_version(version).map_err(|e| VerifyError::BadVersion(version.to_owned(), e))?;
    let (sha256, size) = sha256_file(binary).map_err(|source| VerifyError::Io {
        path: binary.display().to_string(),
        source,
    })?;
    let sig = key.sign(&statement(version, &sha256, size));
    Ok(PlayerRelease {
        version: version.to_owned(),
        sha256,
        size,
        signature: hex::encode(sig.to_bytes()),
        path: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, SigningKey, UpdateKey, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = keygen();
        let bin = dir.path().join("player");
        std::fs::write(&bin, b"#!/bin/sh\necho new player\n").unwrap();
        (
            dir,
            signing_key(&secret).unwrap(),
            UpdateKey::parse(&format!("# kiosk update key\n{public}\n")).unwrap(),
            bin,
        )
    }

    #[test]
    fn a_good_release_verifies() {
        let (_d, sk, key, bin) = setup();
        let r = sign(&sk, "2.0.0", &bin).unwrap();
        key.verify_file(&r, &bin).unwrap();
    }

    #[test]
    fn a_tampered_binary_is_refused() {
        let (_d, sk, key, bin) = setup();
        let r = sign(&sk, "2.0.0", &bin).unwrap();
        // Same size, one byte changed.
        std::fs::write(&bin, b"#!/bin/sh\necho bad player\n").unwrap();
        assert!(matches!(
            key.verify_file(&r, &bin),
            Err(VerifyError::WrongHash { .. })
        ));
        std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
        assert!(matches!(
            key.verify_file(&r, &bin),
            Err(VerifyError::WrongSize { .. })
        ));
        // A statement naming the tampered file's hash, with the old signature.
        let (sha256, size) = sha256_file(&bin).unwrap();
        let forged = PlayerRelease { sha256, size, ..r };
        assert!(matches!(
            key.verify_file(&forged, &bin),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_signature_for_another_version_is_refused() {
        let (_d, sk, key, bin) = setup();
        let r = sign(&sk, "2.0.0", &bin).unwrap();
        let replayed = PlayerRelease {
            version: "3.0.0".into(),
            ..r
        };
        assert!(matches!(
            key.verify_file(&replayed, &bin),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn another_key_is_refused() {
        let (_d, _sk, key, bin) = setup();
        let (other, _) = keygen();
        let r = sign(&signing_key(&other).unwrap(), "2.0.0", &bin).unwrap();
        assert!(matches!(
            key.verify_file(&r, &bin),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn a_garbage_signature_is_refused() {
        let (_d, sk, key, bin) = setup();
        let r = sign(&sk, "2.0.0", &bin).unwrap();
        for sig in ["", "zz", &"00".repeat(64), &"ab".repeat(63)] {
            let g = PlayerRelease {
                signature: sig.to_owned(),
                ..r.clone()
            };
            let e = key.verify_file(&g, &bin).unwrap_err();
            assert!(
                matches!(
                    e,
                    VerifyError::SignatureMalformed | VerifyError::BadSignature { .. }
                ),
                "{sig}: {e}"
            );
        }
    }

    #[test]
    fn key_files_are_checked() {
        assert!(UpdateKey::parse("").is_err());
        assert!(UpdateKey::parse("abcd").is_err());
        assert!(UpdateKey::parse("not hex at all").is_err());
        let (_, public) = keygen();
        assert!(UpdateKey::parse(&public).is_ok());
        // Two keys: which one is meant would be a guess.
        assert!(UpdateKey::parse(&format!("{public}\n{public}\n")).is_err());
    }
}
