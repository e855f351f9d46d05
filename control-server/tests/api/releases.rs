//! Player releases: upload (streamed, checked for form; for trust only when
//! the server has the release key), list, assign to one display or all, the
//! manifest naming the release, the display's download, and bad input
//! refused with a clear 4xx while accepted releases stay. With a release key
//! (`--release-key`) a release signed with another key, or for another
//! version or size, is refused and leaves nothing behind, and one stored
//! before the key cannot be assigned; a key file that is missing or not a
//! key stops the start.

use crate::common::{TestServer, decode, provisioned_display};
use control_server::config::Config;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A well-formed (not necessarily trusted) signature: the server cannot tell.
fn signature(seed: u8) -> String {
    hex::encode([seed; 64])
}

async fn upload(server: &TestServer, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    decode(
        server
            .req(Method::POST, &format!("/api/releases?{query}"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("upload"),
    )
    .await
}

fn query(version: &str, bytes: &[u8], sig: &str) -> String {
    format!("version={version}&sha256={}&signature={sig}", sha(bytes))
}

/// What `player-release sign` signs: `key`'s signature over the statement
/// of `version`, `sha256` and `size`.
fn sign(key: &SigningKey, version: &str, sha256: &str, size: usize) -> String {
    let statement = content::release::statement(version, sha256, size as u64);
    hex::encode(key.sign(&statement).to_bytes())
}

/// The query for `bytes` as `version`, signed by `key` for exactly that.
fn signed(key: &SigningKey, version: &str, bytes: &[u8]) -> String {
    query(
        version,
        bytes,
        &sign(key, version, &sha(bytes), bytes.len()),
    )
}

/// Writes `key`'s public half as `player-release keygen --public` does into
/// `dir` and configures it as the release key.
fn configure_key(config: &mut Config, key: &SigningKey) {
    let path = config.data_dir.join("release-key.pub");
    std::fs::write(
        &path,
        format!(
            "# player release public key\n{}\n",
            hex::encode(key.verifying_key().to_bytes())
        ),
    )
    .unwrap();
    config.release_key = Some(path);
}

/// The key's first 16 hex digits, as the server names it.
fn fingerprint(key: &SigningKey) -> String {
    hex::encode(&key.verifying_key().to_bytes()[..8])
}

/// Each release's version and `signature_check`, oldest first.
async fn checks(server: &TestServer) -> Vec<(String, String)> {
    let (status, list) = server.call(Method::GET, "/api/releases", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_owned(),
                r["signature_check"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn release_audits(audit: &Value) -> Vec<&str> {
    audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("release."))
        .collect()
}

async fn manifest(server: &TestServer, token: &str) -> Value {
    let (status, m) = server
        .call_as(token, Method::GET, "/api/player/manifest", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    m
}

/// `PUT /api/releases/assignment` as the admin.
async fn assign(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server
        .call(Method::PUT, "/api/releases/assignment", Some(body))
        .await
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_release_is_uploaded_assigned_named_in_manifests_and_served() {
    let server = TestServer::start().await;
    let (one, one_token) = provisioned_display(&server, "Markt").await;
    let (_two, two_token) = provisioned_display(&server, "Rathaus").await;
    let binary = b"\x7fELF pretend player 2.0".to_vec();
    let (status, r) = upload(
        &server,
        &query("2.0.0", &binary, &signature(1)),
        binary.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["version"], "2.0.0");
    assert_eq!(r["size"], binary.len());
    assert_eq!(r["sha256"], sha(&binary));
    // No key configured: not checked, as the list says.
    assert_eq!(r["signature_check"], "no_key");
    assert_eq!(
        std::fs::read(server.data_dir().join("releases").join(sha(&binary))).unwrap(),
        binary
    );
    assert!(files_in(&server.data_dir().join("assets/tmp")).is_empty());
    // Not assigned: manifests name no release, the download is refused.
    assert!(
        manifest(&server, &one_token)
            .await
            .get("player_release")
            .is_none()
    );
    let path = format!("/api/player/releases/{}", sha(&binary));
    let (status, _) = server.call_as(&one_token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // One display: its manifest version moves and names the release.
    let before = manifest(&server, &one_token).await["version"]
        .as_u64()
        .unwrap();
    let (status, list) = assign(&server, json!({ "version": "2.0.0", "displays": [one] })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["displays"], json!([one]));
    let m = manifest(&server, &one_token).await;
    assert!(m["version"].as_u64().unwrap() > before);
    assert_eq!(
        m["player_release"],
        json!({
            "version": "2.0.0",
            "sha256": sha(&binary),
            "size": binary.len(),
            "signature": signature(1),
            "path": path,
        })
    );
    assert!(
        manifest(&server, &two_token)
            .await
            .get("player_release")
            .is_none()
    );
    let resp = server
        .http
        .get(server.url(&path))
        .bearer_auth(&one_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), binary);
    let (status, _) = server.call_as(&two_token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not assigned to display two");
    // Staff tokens are not display tokens.
    let (status, _) = server.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Globally: display two follows; one keeps its own.
    let other = b"\x7fELF pretend player 3.0".to_vec();
    let (status, r) = upload(
        &server,
        &query("3.0.0", &other, &signature(2)),
        other.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, list) = assign(&server, json!({ "version": "3.0.0" })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[1]["global"], true);
    assert_eq!(
        manifest(&server, &two_token).await["player_release"]["version"],
        "3.0.0"
    );
    assert_eq!(
        manifest(&server, &one_token).await["player_release"]["version"],
        "2.0.0"
    );
    // Removing display one's own assignment: it follows the global one.
    let (status, _) = assign(&server, json!({ "version": null, "displays": [one] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        manifest(&server, &one_token).await["player_release"]["version"],
        "3.0.0"
    );

    // Audited.
    let (_, audit) = server.call(Method::GET, "/api/audit", None).await;
    assert_eq!(release_audits(&audit).len(), 5, "{audit}");
}

#[tokio::test]
async fn bad_uploads_are_refused_clearly_and_accepted_releases_stay() {
    let server = TestServer::start_with(|c| c.max_upload_mb = 1).await;
    let good = b"a player".to_vec();
    let (status, _) = upload(&server, &query("1.0.0", &good, &signature(1)), good.clone()).await;
    assert_eq!(status, StatusCode::CREATED);

    let big = vec![7u8; 1024 * 1024 + 1];
    let (status, body) = upload(&server, &query("1.1.0", &big, &signature(1)), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let b = b"another".to_vec();
    let cases: Vec<(String, &str)> = vec![
        (query("1.2.0", &b, "abc"), "signature"),
        (query("1.2.0", &b, &"zz".repeat(64)), "signature"),
        (
            format!("sha256={}&signature={}", sha(&b), signature(1)),
            "version is missing",
        ),
        (
            format!("version=1.2.0&signature={}", signature(1)),
            "sha256 is missing",
        ),
        (
            format!("version=1.2.0&sha256={}", sha(&b)),
            "signature is missing",
        ),
        (
            query("1.2.0%0Asha256=00", &b, &signature(1)),
            "version may hold",
        ),
        (query("1.2.0", b"something else", &signature(1)), "not the"),
        (
            format!("version=1.2.0&sha256=xyz&signature={}", signature(1)),
            "sha256 must be",
        ),
    ];
    for (q, says) in cases {
        let (status, body) = upload(&server, &q, b.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains(says),
            "{q}: {body}"
        );
    }
    // The same version or the same binary again: a conflict.
    let (status, body) = upload(&server, &query("1.0.0", &b, &signature(1)), b.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = upload(&server, &query("1.3.0", &good, &signature(1)), good.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Only admins upload and assign.
    let editor = server.user("redaktion", "editor").await;
    let (status, _) = decode(
        server
            .http
            .post(server.url(&format!(
                "/api/releases?{}",
                query("1.4.0", &b, &signature(1))
            )))
            .bearer_auth(&editor)
            .body(b.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = assign(&server, json!({ "version": "9.9" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = assign(&server, json!({ "version": "1.0.0", "displays": [4711] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = assign(&server, json!({ "displays": "all" })).await;
    assert!(status.is_client_error(), "{status} {body}");

    // Nothing but the accepted release was kept, and it survives a restart.
    assert_eq!(
        files_in(&server.data_dir().join("releases")),
        vec![sha(&good)]
    );
    assert!(files_in(&server.data_dir().join("assets/tmp")).is_empty());
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let (_, list) = server.call(Method::GET, "/api/releases", None).await;
    let versions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, vec!["1.0.0"]);
}

#[tokio::test]
async fn with_a_release_key_only_releases_signed_with_it_for_this_binary_are_taken() {
    let key = SigningKey::from_bytes(&[1; 32]);
    let other = SigningKey::from_bytes(&[2; 32]);
    let server = TestServer::start_with(|c| configure_key(c, &key)).await;
    let (display, token) = provisioned_display(&server, "Markt").await;

    let good = b"\x7fELF player 2.0.0 signed with the image's key".to_vec();
    let (status, r) = upload(&server, &signed(&key, "2.0.0", &good), good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["signature_check"], "verified");

    let b = b"\x7fELF player 2.1.0".to_vec();
    let mismatch = format!(
        "signature of release 2.1.0 does not match this server's release key {}…",
        fingerprint(&key)
    );
    let cases: Vec<(&str, String)> = vec![
        ("another key", signed(&other, "2.1.0", &b)),
        // A good signature of this binary, replayed for another version.
        (
            "another version",
            query("2.1.0", &b, &sign(&key, "2.0.9", &sha(&b), b.len())),
        ),
        (
            "another size",
            query("2.1.0", &b, &sign(&key, "2.1.0", &sha(&b), b.len() + 1)),
        ),
        // The signature of the good binary, for this one.
        (
            "another binary",
            query("2.1.0", &b, &sign(&key, "2.1.0", &sha(&good), b.len())),
        ),
    ];
    for (case, q) in cases {
        let (status, body) = upload(&server, &q, b.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(&mismatch), "{case}: {message}");
        assert!(
            message.contains("signed with another key, or for another version or binary")
                && message.contains(&format!("{} bytes and SHA-256 {}", b.len(), sha(&b)))
                && message.ends_with("nothing was stored"),
            "{case}: {message}"
        );
    }
    // Nothing stored: no file, no row, no audit entry, nothing left in tmp/.
    assert_eq!(
        files_in(&server.data_dir().join("releases")),
        vec![sha(&good)]
    );
    assert!(files_in(&server.data_dir().join("assets/tmp")).is_empty());
    assert_eq!(checks(&server).await, [("2.0.0".into(), "verified".into())]);
    let (_, audit) = server.call(Method::GET, "/api/audit", None).await;
    assert_eq!(release_audits(&audit), ["release.upload"], "{audit}");

    // The good one is assigned and reaches the display as signed.
    let (status, list) = assign(
        &server,
        json!({ "version": "2.0.0", "displays": [display] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        manifest(&server, &token).await["player_release"]["signature"],
        sign(&key, "2.0.0", &sha(&good), good.len())
    );
}

#[tokio::test]
async fn without_a_key_any_well_formed_release_is_taken_and_once_one_is_configured_only_matching_ones_are_assigned()
 {
    let key = SigningKey::from_bytes(&[1; 32]);
    let other = SigningKey::from_bytes(&[2; 32]);
    let server = TestServer::start().await;
    let (display, token) = provisioned_display(&server, "Markt").await;
    // Signed with a key the displays do not have: taken, as the server
    // cannot tell, and listed as not checked.
    let stray = b"\x7fELF player signed with a stray key".to_vec();
    let (status, r) = upload(&server, &signed(&other, "1.0.0", &stray), stray.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["signature_check"], "no_key");
    let (status, list) = assign(&server, json!({ "version": "1.0.0" })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let good = b"\x7fELF player signed with the image's key".to_vec();
    let (status, r) = upload(&server, &signed(&key, "1.1.0", &good), good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(
        checks(&server).await,
        [
            ("1.0.0".into(), "no_key".into()),
            ("1.1.0".into(), "no_key".into())
        ]
    );

    // The same data with the key configured: each release is judged anew.
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |c| configure_key(c, &key)).await;
    assert_eq!(
        checks(&server).await,
        [
            ("1.0.0".into(), "mismatch".into()),
            ("1.1.0".into(), "verified".into())
        ]
    );
    let before = manifest(&server, &token).await;
    for target in [
        json!({ "version": "1.0.0" }),
        json!({ "version": "1.0.0", "displays": [display] }),
    ] {
        let (status, body) = assign(&server, target.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{target}: {body}");
        assert_eq!(
            body["message"],
            format!(
                "signature of release 1.0.0 does not match this server's release key {}…: it was signed with another key (uploaded before this key was configured?), and every display with this key would refuse it; upload it signed with this key",
                fingerprint(&key)
            )
        );
    }
    // Refused means unchanged: same manifest version, same release.
    let after = manifest(&server, &token).await;
    assert_eq!(
        (&after["version"], &after["player_release"]),
        (&before["version"], &before["player_release"])
    );
    let (status, list) = assign(&server, json!({ "version": "1.1.0" })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        manifest(&server, &token).await["player_release"]["version"],
        "1.1.0"
    );
    // Taking an assignment away needs no signature.
    let (status, list) = assign(&server, json!({ "version": null })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
}

#[tokio::test]
async fn a_release_key_file_that_is_missing_or_not_a_key_stops_the_start() {
    use clap::{CommandFactory as _, Parser as _};
    use control_server::config::Cli;
    // The option's environment fallback follows the others'.
    let cli = Cli::command();
    let arg = cli
        .get_arguments()
        .find(|a| a.get_long() == Some("release-key"))
        .expect("--release-key");
    assert_eq!(arg.get_env().unwrap(), "CONTROL_RELEASE_KEY");

    let hex_key = hex::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
    // 32 bytes that are no point on the curve, found rather than hard-coded.
    let not_a_point = (0u8..=255)
        .map(|b| [b; 32])
        .find(|b| VerifyingKey::from_bytes(b).is_err())
        .expect("some byte pattern is no ed25519 point");
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "cannot read the release key"),
        (
            "comments only",
            Some("# player release public key\n".into()),
            "it holds no key, only comments and blank lines",
        ),
        (
            "short",
            Some(format!("# player release public key\n{}\n", &hex_key[..40])),
            "line 2 holds 40 hexadecimal digits, not the 64 of a 32-byte ed25519 key",
        ),
        (
            "not hex",
            Some(format!("{}xx\n", &hex_key[..62])),
            "line 1 has 'x' at column 63, which is not a hexadecimal digit",
        ),
        (
            "two keys",
            Some(format!("{hex_key}\n{hex_key}\n")),
            "line 2 holds a second key (after the one on line 1); a key file holds exactly one",
        ),
        (
            "no point",
            Some(hex::encode(not_a_point)),
            "its 32 bytes are not a valid ed25519 public key",
        ),
    ];
    for (case, text, fault) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("release-key.pub");
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let data = tmp.path().join("data");
        let cli = Cli::try_parse_from([
            "control-server".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--release-key".as_ref(),
            path.as_os_str(),
        ])
        .unwrap();
        let Err(e) = control_server::open_state(cli.config) else {
            panic!("{case}: the server started");
        };
        let message = format!("{e:#}");
        assert!(
            message.contains(&format!("release key {} (--release-key)", path.display()))
                && message.contains(fault),
            "{case}: {message}"
        );
        assert!(!data.exists(), "{case}: created the data directory");
    }
}
