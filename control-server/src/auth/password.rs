//! Password hashing with argon2id (the crate's default parameters).
//!
//! Hashing and verifying are CPU- and memory-heavy, so the async wrappers run
//! them on the blocking pool, at most [`AuthState::hashing`] at once.
//!
//! [`AuthState::hashing`]: super::AuthState

use crate::error::ApiError;
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use std::sync::OnceLock;

/// Shortest password accepted when one is set or changed.
pub const MIN_LEN: usize = 12;
/// Longest password accepted (bytes); longer input is refused before hashing.
pub const MAX_BYTES: usize = 1024;

/// Checks a new password's length.
pub fn validate_new(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_LEN {
        return Err(ApiError::Invalid(format!(
            "a password needs at least {MIN_LEN} characters"
        )));
    }
    if password.len() > MAX_BYTES {
        return Err(ApiError::Invalid(format!(
            "a password may have at most {MAX_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Hashes `password` with a fresh random salt into a PHC string (blocking).
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(format!("salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (blocking). A malformed
/// stored hash never matches.
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!("stored password hash is malformed: {e}");
            false
        }
    }
}

/// A fixed hash (of a random password, made once per process with the same
/// parameters as real ones) to verify against when the user does not exist,
/// so unknown and known usernames take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(&random_password(32)).expect("hashing a fixed-size password cannot fail")
    })
}

/// A random password of `len` letters and digits.
pub fn random_password(len: usize) -> String {
    use rand::Rng as _;
    use rand::distributions::Alphanumeric;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// [`hash_blocking`] on the blocking pool, bounded by the hashing slots.
pub async fn hash(state: &AppState, password: String) -> Result<String, ApiError> {
    let _slot = state
        .auth
        .hashing
        .acquire()
        .await
        .map_err(|e| ApiError::internal(format!("hashing slots closed: {e}")))?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?
}

/// [`verify_blocking`] on the blocking pool, bounded by the hashing slots;
/// `None` verifies against [`dummy_hash`] and is always `false`.
pub async fn verify(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let _slot = state
        .auth
        .hashing
        .acquire()
        .await
        .map_err(|e| ApiError::internal(format!("hashing slots closed: {e}")))?;
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_blocking(&password, &h),
        None => {
            let _ = verify_blocking(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("verifying task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify_round_trip() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("correct horse batterY", &h));
        assert!(!verify_blocking("anything", "not a phc string"));
        // Salted: the same password hashes differently.
        assert_ne!(h, hash_blocking("correct horse battery").unwrap());
    }

    #[test]
    fn dummy_hash_has_the_default_parameters() {
        let d = PasswordHash::new(dummy_hash()).unwrap();
        let real_hash = hash_blocking("some password!").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(d.algorithm, real.algorithm);
        assert_eq!(d.params, real.params);
        assert!(!verify_blocking("", dummy_hash()));
    }

    #[test]
    fn new_password_rules() {
        assert!(validate_new("short").is_err());
        assert!(validate_new("elevenchars").is_err());
        assert!(validate_new("twelve chars").is_ok());
        assert!(validate_new(&"x".repeat(MAX_BYTES + 1)).is_err());
        let p = random_password(20);
        assert_eq!(p.len(), 20);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
