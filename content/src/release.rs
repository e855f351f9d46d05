//! Player releases: what a display is told to run, and the statement a
//! release's signature covers.
//!
//! Releases are signed offline with an ed25519 key the control server never
//! holds (`player-release sign`); the player verifies against the public key
//! baked into the kiosk image before it installs anything. The signature
//! covers [`statement`], a small text naming the version, the SHA-256 and the
//! size of the binary, so a signature can be replayed neither for another
//! binary nor for the same binary under another version. This module only
//! defines the bytes; the cryptography lives in the player (`player::update`),
//! so `content` stays free of it.

use serde::{Deserialize, Serialize};

/// The first line of every signed statement; a new format gets a new line.
pub const STATEMENT_HEADER: &str = "kiosk-player-release v1";
/// Longest accepted version string.
pub const MAX_VERSION_LEN: usize = 64;

/// The release a display should run, as its manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayerRelease {
    pub version: String,
    /// Lowercase hex SHA-256 of the binary.
    pub sha256: String,
    pub size: u64,
    /// Lowercase hex ed25519 signature (64 bytes) over [`statement`].
    pub signature: String,
    /// Where the player downloads it (relative to the server's base URL,
    /// authenticated with the display token).
    pub path: String,
}

impl PlayerRelease {
    /// The bytes its signature must cover.
    pub fn statement(&self) -> Vec<u8> {
        statement(&self.version, &self.sha256, self.size)
    }
}

/// The signed bytes: header, version, hash and size, one per line.
pub fn statement(version: &str, sha256: &str, size: u64) -> Vec<u8> {
    format!("{STATEMENT_HEADER}\nversion={version}\nsha256={sha256}\nsize={size}\n").into_bytes()
}

/// A version is 1 to 64 characters of `[A-Za-z0-9.+-_]` (no line breaks, so
/// the statement's lines cannot be forged through it; no slashes, so it is
/// safe in a file name).
pub fn check_version(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > MAX_VERSION_LEN {
        return Err(format!("a version needs 1 to {MAX_VERSION_LEN} characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')))
    {
        return Err(format!(
            "a version may hold letters, digits and . + - _ only, not {c:?}"
        ));
    }
    Ok(())
}

/// A SHA-256 in lowercase hex.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An ed25519 signature in lowercase hex (64 bytes).
pub fn is_signature(s: &str) -> bool {
    s.len() == 128
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_names_version_hash_and_size() {
        let s = statement("1.2.3", &"a".repeat(64), 42);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            format!(
                "kiosk-player-release v1\nversion=1.2.3\nsha256={}\nsize=42\n",
                "a".repeat(64)
            )
        );
    }

    #[test]
    fn versions_that_could_forge_a_line_are_refused() {
        assert!(check_version("1.2.3-rc.1+build_7").is_ok());
        assert!(check_version("").is_err());
        assert!(check_version("1\nsha256=00").is_err());
        assert!(check_version("../x").is_err());
        assert!(check_version(&"1".repeat(65)).is_err());
    }

    #[test]
    fn hex_forms() {
        assert!(is_sha256(&"0f".repeat(32)));
        assert!(!is_sha256(&"0F".repeat(32)));
        assert!(!is_sha256("00"));
        assert!(is_signature(&"ab".repeat(64)));
        assert!(!is_signature(&"zz".repeat(64)));
    }
}
