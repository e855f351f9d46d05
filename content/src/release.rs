//! Player releases: what a display is told to run, and the statement a
//! release's signature covers.
//!
//! Releases are signed offline with an ed25519 key the control server never
//! holds (`player-release sign`); the player verifies against the public key
//! baked into the kiosk image before it installs anything. The signature
//! covers [`statement`], a small text naming the version, the SHA-256 and the
//! size of the binary, so a signature can be replayed neither for another
//! binary nor for the same binary under another version.
//!
//! The check itself, [`ReleaseKey::verify`], lives here too: the player runs
//! it before it installs a release, and the control server, given the same
//! public key, runs it on uploads and assignments. One function, so a
//! release the server calls verified is one every display with that key
//! accepts, by construction. Signing stays in `player-release`, offline.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The first line of every signed statement; a new format gets a new line.
pub const STATEMENT_HEADER: &str = "kiosk-player-release v1";
/// Longest accepted version string.
pub const MAX_VERSION_LEN: usize = 64;
/// Bytes of an ed25519 public key, and of the secret seed.
pub const KEY_LEN: usize = 32;

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

/// Why a key file's text holds no usable key. The messages name the line
/// but never echo it: the same format holds the secret seed, which must not
/// end up in a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyTextError {
    #[error("it holds no key, only comments and blank lines")]
    NoKey,
    #[error(
        "line {line} holds a second key (after the one on line {first}); a key file holds exactly one"
    )]
    SecondKey { first: usize, line: usize },
    #[error("line {line} has {found:?} at column {column}, which is not a hexadecimal digit")]
    NotHex {
        line: usize,
        column: usize,
        found: char,
    },
    #[error(
        "line {line} holds {digits} hexadecimal digits, not the {} of a {KEY_LEN}-byte ed25519 key",
        KEY_LEN * 2
    )]
    WrongLength { line: usize, digits: usize },
}

/// The key in a key file as `player-release keygen` writes it: lines
/// starting with `#` and blank lines are skipped, and exactly one line
/// remains, the 32 bytes in hex (either case). The public key file
/// (`--public`, the image's `/etc/kiosk/update-key.pub`, the control
/// server's `--release-key`) and the secret seed file (`--secret`) have
/// this form. One parser for the player and the server, so a file one
/// accepts the other accepts too; whether the bytes are a valid ed25519
/// public key is [`ReleaseKey::parse`]'s to check (a seed is any 32
/// bytes). A second key line is refused rather than ignored: which of the
/// two is meant would be a guess.
pub fn parse_key(text: &str) -> Result<[u8; KEY_LEN], KeyTextError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (line, hex) = lines.next().ok_or(KeyTextError::NoKey)?;
    if let Some((second, _)) = lines.next() {
        return Err(KeyTextError::SecondKey {
            first: line,
            line: second,
        });
    }
    if let Some((i, found)) = hex
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(KeyTextError::NotHex {
            line,
            column: i + 1,
            found,
        });
    }
    // Only ASCII hex digits from here on: one byte per digit.
    if hex.len() != KEY_LEN * 2 {
        return Err(KeyTextError::WrongLength {
            line,
            digits: hex.len(),
        });
    }
    let mut key = [0u8; KEY_LEN];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let digit = |b: u8| (b as char).to_digit(16).expect("checked above") as u8;
        *byte = (digit(pair[0]) << 4) | digit(pair[1]);
    }
    Ok(key)
}

/// Why a key file's text is not a release public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Text(#[from] KeyTextError),
    #[error("its {KEY_LEN} bytes are not a valid ed25519 public key")]
    NotAPublicKey,
}

/// Why a release's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not 64 bytes of hex")]
    Malformed,
    #[error("the signature is not this key's over the release's version, SHA-256 and size")]
    Mismatch,
}

/// The public key player releases are signed with: the one baked into the
/// kiosk image (`/etc/kiosk/update-key.pub`) and, optionally, the control
/// server's `--release-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseKey(VerifyingKey);

impl ReleaseKey {
    /// The key in a key file's text ([`parse_key`]), if it is a valid
    /// ed25519 public key.
    pub fn parse(text: &str) -> Result<ReleaseKey, KeyError> {
        let bytes = parse_key(text)?;
        VerifyingKey::from_bytes(&bytes)
            .map(ReleaseKey)
            .map_err(|_| KeyError::NotAPublicKey)
    }

    /// The key's first 16 hex digits: enough to tell keys apart, and what an
    /// admin compares with the start of the key line in the `.pub` file.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.0.as_bytes()[..8])
    }

    /// Whether `signature` (hex) is this key's over the [`statement`] of
    /// `version`, `sha256` and `size`. `verify_strict`: it also refuses the
    /// malleable and small-order forms plain ed25519 verification lets
    /// through, so one binary has exactly one accepted signature per key.
    pub fn verify(
        &self,
        version: &str,
        sha256: &str,
        size: u64,
        signature: &str,
    ) -> Result<(), SignatureError> {
        let bytes: [u8; 64] = hex::decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::Malformed)?;
        self.0
            .verify_strict(
                &statement(version, sha256, size),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| SignatureError::Mismatch)
    }

    /// [`ReleaseKey::verify`] for a release as a manifest names it.
    pub fn verify_release(&self, release: &PlayerRelease) -> Result<(), SignatureError> {
        self.verify(
            &release.version,
            &release.sha256,
            release.size,
            &release.signature,
        )
    }
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

    #[test]
    fn key_files_hold_exactly_one_key_in_hex() {
        let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let want: [u8; 32] = std::array::from_fn(|i| i as u8);
        // As `player-release keygen --public` writes it, and in upper case
        // with blank lines, indentation and a CRLF.
        assert_eq!(
            parse_key(&format!("# player release public key\n{hex}\n")),
            Ok(want)
        );
        assert_eq!(
            parse_key(&format!(
                "\n  # a comment\r\n\n  {}  \r\n\n",
                hex.to_uppercase()
            )),
            Ok(want)
        );
        assert_eq!(parse_key(""), Err(KeyTextError::NoKey));
        assert_eq!(
            parse_key("# only\n\n# comments\n"),
            Err(KeyTextError::NoKey)
        );
        assert_eq!(
            parse_key(&format!("# two\n{hex}\n\n{hex}\n")),
            Err(KeyTextError::SecondKey { first: 2, line: 4 })
        );
        assert_eq!(
            parse_key(&format!("#\n{}g", &hex[1..])),
            Err(KeyTextError::NotHex {
                line: 2,
                column: 64,
                found: 'g'
            })
        );
        assert_eq!(
            parse_key(&hex[..62]),
            Err(KeyTextError::WrongLength {
                line: 1,
                digits: 62
            })
        );
        assert_eq!(
            parse_key(&format!("{hex}0")),
            Err(KeyTextError::WrongLength {
                line: 1,
                digits: 65
            })
        );
        // Multi-byte characters are named, not miscounted.
        assert!(matches!(
            parse_key("ä"),
            Err(KeyTextError::NotHex { found: 'ä', .. })
        ));
    }

    #[test]
    fn key_errors_name_the_line_and_never_echo_it() {
        let secret = "0123456789abcdef".repeat(4);
        let e = parse_key(&format!("{secret}\n{secret}x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2 holds a second key (after the one on line 1); a key file holds exactly one"
        );
        let e = parse_key(&format!("{}z", &secret[..10])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 has 'z' at column 11, which is not a hexadecimal digit"
        );
        let e = parse_key(&secret[..20]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 holds 20 hexadecimal digits, not the 64 of a 32-byte ed25519 key"
        );
    }

    /// A key pair from a fixed seed, and the public key's file text.
    fn pair(seed: u8) -> (ed25519_dalek::SigningKey, String) {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; KEY_LEN]);
        let text = format!(
            "# public\n{}\n",
            hex::encode(signing.verifying_key().as_bytes())
        );
        (signing, text)
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_version_hash_and_size() {
        use ed25519_dalek::Signer as _;
        let (signing, text) = pair(7);
        let key = ReleaseKey::parse(&text).unwrap();
        let sha = "ab".repeat(32);
        let sign =
            |v: &str, h: &str, n: u64| hex::encode(signing.sign(&statement(v, h, n)).to_bytes());
        let good = sign("1.2.3", &sha, 1000);
        assert_eq!(key.verify("1.2.3", &sha, 1000, &good), Ok(()));
        // Upper-case hex is the same signature.
        assert_eq!(
            key.verify("1.2.3", &sha, 1000, &good.to_uppercase()),
            Ok(())
        );
        let release = PlayerRelease {
            version: "1.2.3".into(),
            sha256: sha.clone(),
            size: 1000,
            signature: good.clone(),
            path: "x".into(),
        };
        assert_eq!(key.verify_release(&release), Ok(()));
        for (what, result) in [
            ("another version", key.verify("1.2.4", &sha, 1000, &good)),
            (
                "another hash",
                key.verify("1.2.3", &"cd".repeat(32), 1000, &good),
            ),
            ("another size", key.verify("1.2.3", &sha, 1001, &good)),
            (
                "another key",
                ReleaseKey::parse(&pair(8).1)
                    .unwrap()
                    .verify("1.2.3", &sha, 1000, &good),
            ),
        ] {
            assert_eq!(result, Err(SignatureError::Mismatch), "{what}");
        }
        for malformed in ["", &good[..126], &format!("{good}00"), &"zz".repeat(64)] {
            assert_eq!(
                key.verify("1.2.3", &sha, 1000, malformed),
                Err(SignatureError::Malformed),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn a_key_file_must_hold_a_public_key() {
        let (signing, text) = pair(7);
        let key = ReleaseKey::parse(&text).unwrap();
        assert_eq!(
            key.fingerprint(),
            hex::encode(&signing.verifying_key().as_bytes()[..8])
        );
        assert_eq!(
            ReleaseKey::parse("# nothing\n"),
            Err(KeyError::Text(KeyTextError::NoKey))
        );
        // No point on the curve has y = 2 ((y² - 1) / (d·y² + 1) is no
        // square modulo 2^255 - 19).
        let off_curve = format!("02{}", "00".repeat(31));
        assert_eq!(ReleaseKey::parse(&off_curve), Err(KeyError::NotAPublicKey));
        assert_eq!(
            KeyError::NotAPublicKey.to_string(),
            "its 32 bytes are not a valid ed25519 public key"
        );
    }
}
