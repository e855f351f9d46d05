//! Council TV end to end: the real control server and the real broadcaster on
//! GStreamer test sources, wired through the server's API as an admin would
//! (a broadcaster token, a config naming the server's live and archive
//! directories), driven by staff over HTTP, the broadcaster over
//! `/ws/broadcaster`, viewers reading HLS over HTTP, all on loopback.
//!
//! (a) A session goes live, moves through three agenda items into a closed
//!     one (with a speaker, and a camera the broadcaster refuses), reports its
//!     status, and after "stop" is in the archive with its chapters, served as
//!     VOD with Range requests and as a download.
//! (b) A broadcaster with a wrong or a revoked token is refused and says why.
//! (c) The server stops (SIGTERM) while live and comes back: the stream went
//!     on meanwhile and the broadcaster reconnects by itself.

use super::T;
use anyhow::{Context as _, anyhow, ensure};
use reqwest::header::{CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, RANGE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use system_tests::broadcaster::test_config;
use system_tests::{Api, BroadcasterProcess, ServerOptions, ServerProcess, eventually};

/// The wait for something the media pipeline has to produce or the
/// broadcaster has to do on its own (start up, segments, finalizing, a
/// reconnect after backoff), on a busy 2-core machine.
pub(super) const MEDIA: Duration = Duration::from_secs(30);
const CLOSED: &str = "Nichtöffentlicher Teil";
/// The closed item's title: it must never reach a public answer.
pub(super) const SECRET: &str = "Grundstücksangelegenheiten";

/// A server whose broadcasters report their status every second.
pub(super) async fn start_server() -> (ServerProcess, Api) {
    let mut server = ServerProcess::start_with(ServerOptions {
        args: vec!["--council-status-interval-s".into(), "1".into()],
        env: Vec::new(),
    });
    match Api::admin(&server.base_url()).await {
        Ok(api) => (server, api),
        Err(e) => server.fail(&format!("admin login failed: {e:#}")),
    }
}

/// `POST /api/council/broadcasters` (admin): the id and the token, shown once.
pub(super) async fn issue_token(api: &Api, name: &str) -> (i64, String) {
    let v = api
        .expect(
            Method::POST,
            "/api/council/broadcasters",
            Some(&json!({ "name": name })),
            StatusCode::CREATED,
        )
        .await
        .unwrap();
    (
        v["id"].as_i64().expect("broadcaster id"),
        v["token"].as_str().expect("broadcaster token").to_owned(),
    )
}

/// The server's default live directory (`--council-live-dir`), which its
/// `/council/live/*` serves.
fn live_dir(server: &ServerProcess) -> PathBuf {
    server.data_dir().join("council").join("live")
}

/// The broadcaster's config as the demo writes it: the server's WebSocket,
/// the token, and the directories the server serves.
pub(super) fn config_for(server: &ServerProcess, token: &str) -> String {
    test_config(
        &format!("ws://{}/ws/broadcaster", server.addr()),
        token,
        &live_dir(server),
        &server.data_dir().join("council").join("archive"),
    )
}

/// A public meeting starting now: two public items, then a closed one.
pub(super) async fn create_meeting(api: &Api) -> (i64, Vec<i64>) {
    let meeting = json!({
        "title": "Sitzung des Rates der Stadt Kaarst",
        "body": "Rat der Stadt Kaarst",
        "start": chrono::Utc::now().to_rfc3339(),
        "location": "Ratssaal, Am Neumarkt 2",
        "items": [
            { "number": "1", "title": "Eröffnung der Sitzung" },
            { "number": "2", "title": "Haushaltssatzung 2027" },
            { "number": "3", "title": SECRET, "public": false },
        ],
    });
    let m = api
        .expect(
            Method::POST,
            "/api/council/meetings",
            Some(&meeting),
            StatusCode::CREATED,
        )
        .await
        .unwrap();
    let items = m["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("item id"))
        .collect();
    (m["id"].as_i64().expect("meeting id"), items)
}

/// `POST /api/council/meetings/{id}/{command}` as the admin, insisting on 200.
pub(super) async fn command(api: &Api, meeting: i64, command: &str, body: Value) -> Value {
    api.expect(
        Method::POST,
        &format!("/api/council/meetings/{meeting}/{command}"),
        Some(&body),
        StatusCode::OK,
    )
    .await
    .unwrap()
}

/// The broadcaster's row in `GET /api/council/broadcasters`.
async fn broadcaster_row(api: &Api, id: i64) -> anyhow::Result<Value> {
    let (status, rows) = api.get("/api/council/broadcasters").await?;
    ensure!(status == StatusCode::OK, "broadcasters: {status} {rows}");
    rows.as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == id))
        .cloned()
        .ok_or_else(|| anyhow!("broadcaster {id} not listed: {rows}"))
}

pub(super) async fn wait_connected(api: &Api, id: i64) -> Value {
    eventually(
        MEDIA,
        "the broadcaster to be listed as connected",
        || async {
            let row = broadcaster_row(api, id).await?;
            Ok((row["connected"] == true).then_some(row))
        },
    )
    .await
}

/// Waits until the status the broadcaster reported (stored by the server)
/// satisfies `ok`; returns it.
pub(super) async fn wait_status(
    api: &Api,
    id: i64,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    eventually(MEDIA, what, || async {
        let row = broadcaster_row(api, id).await?;
        let status = &row["status"];
        ensure!(status.is_object(), "no status yet: {row}");
        // Not yet: the last status goes into the timeout's message.
        ensure!(
            ok(status),
            "last status: {status}; commands: {}",
            row["connection"]["recent_commands"]
        );
        Ok(Some(status.clone()))
    })
    .await
}

/// The first recording the archive lists for meeting `id`, once it is there
/// (the broadcaster finalizes it after the stop and hands it over).
pub(super) async fn archived_recording(api: &Api, id: i64) -> Value {
    eventually(MEDIA, "the recording in the archive", || async {
        let (status, list) = api.get("/api/council/archive").await?;
        ensure!(status == StatusCode::OK, "archive: {status} {list}");
        Ok(list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["meeting"]["id"] == id))
            .and_then(|e| e["recordings"].get(0))
            .cloned())
    })
    .await
}

/// `GET /api/council/live`, public: no token.
pub(super) async fn live_state(api: &Api) -> Value {
    let (status, _, body) = fetch(api, "/api/council/live", None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    serde_json::from_slice(&body).expect("live state is JSON")
}

/// A public GET (no token), optionally with a Range header.
async fn fetch(
    api: &Api,
    path: &str,
    range: Option<&str>,
) -> anyhow::Result<(StatusCode, HeaderMap, Vec<u8>)> {
    let mut req = api.http.get(api.url(path));
    if let Some(r) = range {
        req = req.header(RANGE, r);
    }
    let resp = req.send().await.with_context(|| format!("GET {path}"))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.with_context(|| format!("GET {path}"))?;
    Ok((status, headers, body.to_vec()))
}

async fn fetch_text(api: &Api, path: &str) -> anyhow::Result<String> {
    let (status, _, body) = fetch(api, path, None).await?;
    ensure!(status == StatusCode::OK, "GET {path}: {status}");
    String::from_utf8(body).with_context(|| format!("GET {path}: not UTF-8"))
}

/// An HLS media playlist as far as these tests need it.
#[derive(Debug)]
struct MediaPlaylist {
    text: String,
    /// `#EXT-X-MEDIA-SEQUENCE`: segments pruned from the front of a live playlist.
    sequence: u64,
    segments: Vec<String>,
    /// The init segment (`#EXT-X-MAP`).
    map: Option<String>,
}

impl MediaPlaylist {
    fn parse(text: &str) -> MediaPlaylist {
        let mut p = MediaPlaylist {
            text: text.to_owned(),
            sequence: 0,
            segments: Vec::new(),
            map: None,
        };
        for line in text.lines().map(str::trim) {
            if let Some(n) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                p.sequence = n.parse().unwrap_or(0);
            } else if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
                p.map = attrs
                    .split("URI=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_owned);
            } else if !line.is_empty() && !line.starts_with('#') {
                p.segments.push(line.to_owned());
            }
        }
        p
    }

    /// Segments written since the stream began, pruned ones included.
    fn produced(&self) -> u64 {
        self.sequence + self.segments.len() as u64
    }
}

/// The first URI in a multivariant playlist that names `rendition`.
fn rendition(master: &str, rendition: &str) -> Option<String> {
    master
        .lines()
        .map(str::trim)
        .find(|l| !l.starts_with('#') && l.contains(rendition))
        .map(str::to_owned)
}

/// The live video playlist's path, from the multivariant playlist at `hls_url`.
async fn live_video_playlist(api: &Api, hls_url: &str) -> String {
    let master = eventually(MEDIA, "the live multivariant playlist", || async {
        let (status, _, body) = fetch(api, hls_url, None).await?;
        Ok((status == StatusCode::OK).then(|| String::from_utf8_lossy(&body).into_owned()))
    })
    .await;
    let video = rendition(&master, "video")
        .unwrap_or_else(|| panic!("no video rendition in the live playlist:\n{master}"));
    let dir = hls_url.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{video}")
}

/// Waits until the playlist at `path` has `more` segments beyond `than`
/// (media time passes on the broadcaster); returns it.
async fn segments_beyond(api: &Api, path: &str, than: u64, more: u64) -> MediaPlaylist {
    eventually(
        MEDIA,
        &format!("{path} to grow beyond {than} + {more} segments"),
        || async {
            let p = MediaPlaylist::parse(&fetch_text(api, path).await?);
            Ok((p.produced() >= than + more).then_some(p))
        },
    )
    .await
}

/// An RFC 3339 instant from the API (both clocks are this machine's).
fn timestamp(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 instant: {v}"))
        .with_timezone(&chrono::Utc)
}

/// Whether `bytes` holds an ISO BMFF box of this type (a 4-byte size, then the type).
fn has_box(bytes: &[u8], kind: &[u8; 4]) -> bool {
    bytes
        .windows(4)
        .enumerate()
        .any(|(i, w)| w == kind && i >= 4)
}

/// The first box's type, e.g. `ftyp` for an MP4 or an init segment.
fn first_box(bytes: &[u8]) -> &[u8] {
    bytes.get(4..8).unwrap_or_default()
}

/// Where `path` (relative to the playlist at `playlist`) is served.
fn sibling(playlist: &str, path: &str) -> String {
    let dir = playlist.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{path}")
}

/// A Range request for the first `n` bytes of `path`: 206 with the right
/// Content-Range and exactly those bytes of `whole`.
async fn check_range(api: &Api, path: &str, whole: &[u8], n: usize) {
    let (status, headers, body) = fetch(api, path, Some(&format!("bytes=0-{}", n - 1)))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "Range on {path}");
    assert_eq!(
        headers[CONTENT_RANGE],
        format!("bytes 0-{}/{}", n - 1, whole.len()).as_str(),
        "Content-Range of {path}"
    );
    assert_eq!(body, &whole[..n], "the ranged bytes of {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_goes_live_and_into_the_archive_with_its_agenda_chapters() {
    let (mut server, api) = start_server().await;
    let (bid, token) = issue_token(&api, "Ratssaal").await;
    let mut broadcaster = BroadcasterProcess::start(&config_for(&server, &token));
    wait_connected(&api, bid).await;
    let (id, items) = create_meeting(&api).await;
    assert_eq!(live_state(&api).await["live"], false);

    // Start at item 1: the live state says so at once, and the broadcaster
    // carries it out (its status report reaches the server).
    let started = command(&api, id, "start", json!({ "start_item_id": items[0] })).await;
    assert_eq!(started["delivered"], 1, "{started}");
    let state = live_state(&api).await;
    assert_eq!(state["live"], true, "{state}");
    assert_eq!(state["item"]["number"], "1", "{state}");
    assert_eq!(state["closed"], false, "{state}");
    let hls_url = state["hls_url"]
        .as_str()
        .expect("hls_url while live")
        .to_owned();
    assert_eq!(hls_url, "/council/live/index.m3u8");
    wait_status(&api, bid, "the broadcaster live at item 1", |s| {
        s["state"] == "live" && s["item"] == "1" && s["closed"] == false
    })
    .await;

    // The live stream as a viewer reads it: playlists (never cached) name
    // segments the server hands out; the init segment is an MP4 header, a
    // media segment a CMAF fragment.
    let video = live_video_playlist(&api, &hls_url).await;
    let first = segments_beyond(&api, &video, 0, 1).await;
    let (status, headers, _) = fetch(&api, &video, None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/vnd.apple.mpegurl");
    assert!(
        headers[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("no-cache"),
        "{headers:?}"
    );
    let segment = sibling(&video, &first.segments[0]);
    let (status, headers, bytes) = fetch(&api, &segment, None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {segment}");
    assert_eq!(headers[CONTENT_TYPE], "video/iso.segment");
    assert!(
        has_box(&bytes, b"moof") && has_box(&bytes, b"mdat"),
        "{segment} ({} bytes) is not a CMAF fragment",
        bytes.len()
    );
    let init = first
        .map
        .as_deref()
        .unwrap_or_else(|| panic!("no #EXT-X-MAP in the live playlist:\n{}", first.text));
    let (status, _, bytes) = fetch(&api, &sibling(&video, init), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first_box(&bytes), b"ftyp", "the init segment");

    // Next item.
    segments_beyond(&api, &video, first.produced(), 2).await;
    let moved = command(&api, id, "next", json!({})).await;
    assert_eq!(moved["delivered"], 1, "{moved}");
    let state = live_state(&api).await;
    assert_eq!(state["item"]["number"], "2", "{state}");
    assert_eq!(state["item"]["title"], "Haushaltssatzung 2027", "{state}");
    wait_status(&api, bid, "the broadcaster at item 2", |s| {
        s["item"] == "2" && s["closed"] == false
    })
    .await;
    // A speaker's lower third; a camera the broadcaster does not have is
    // refused by it, and the server records why.
    command(
        &api,
        id,
        "speaker",
        json!({ "speaker": { "name": "Ursula Baum", "role": "Bürgermeisterin" } }),
    )
    .await;
    let state = live_state(&api).await;
    assert_eq!(state["speaker"]["name"], "Ursula Baum", "{state}");
    command(&api, id, "camera", json!({ "name": "kran" })).await;
    let mut camera_sent = None;
    for (kind, outcome) in [("speaker", "ack"), ("camera", "rejected")] {
        let answered = eventually(
            T,
            &format!("the broadcaster's answer to {kind}"),
            || async {
                let row = broadcaster_row(&api, bid).await?;
                Ok(row["connection"]["recent_commands"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["command"] == kind))
                    .filter(|c| c["outcome"] != "pending")
                    .cloned())
            },
        )
        .await;
        assert_eq!(answered["outcome"], outcome, "{answered}");
        if outcome == "rejected" {
            camera_sent = Some(timestamp(&answered["sent_at"]));
            assert!(
                answered["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("kran")),
                "the reason names the camera: {answered}"
            );
        }
    }
    let camera_sent = camera_sent.expect("the camera command's answer");
    let status = wait_status(&api, bid, "a status after the camera command", |s| {
        timestamp(&s["at"]) >= camera_sent
    })
    .await;
    assert_eq!(status["camera"], "totale", "still on air: {status}");
    assert_eq!(status["item"], "2", "{status}");
    let at_two = segments_beyond(&api, &video, 0, 1).await;

    // The closed item: the public sees only "Nichtöffentlicher Teil", the
    // broadcaster puts up the slate, and the stream goes on.
    segments_beyond(&api, &video, at_two.produced(), 2).await;
    command(&api, id, "goto", json!({ "item_id": items[2] })).await;
    let state = live_state(&api).await;
    assert_eq!(state["live"], true, "{state}");
    assert_eq!(state["closed"], true, "{state}");
    assert_eq!(state["item"]["title"], CLOSED, "{state}");
    assert_eq!(state["item"]["number"], "", "{state}");
    assert_eq!(state["speaker"], Value::Null, "no speaker in a closed part");
    assert!(!state.to_string().contains(SECRET), "{state}");
    wait_status(&api, bid, "the broadcaster on the slate at item 3", |s| {
        s["item"] == "3" && s["closed"] == true
    })
    .await;
    let closed_from = segments_beyond(&api, &video, 0, 1).await.produced();
    segments_beyond(&api, &video, closed_from, 2).await;

    // The broadcaster's measurements reach the server, and it carried out
    // every command it was sent.
    let status = wait_status(&api, bid, "bitrate and free disk in the status", |s| {
        s["bitrate_kbps"].as_u64().is_some_and(|b| b > 0)
            && s["disk_free_bytes"].as_u64().is_some_and(|b| b > 0)
    })
    .await;
    assert_eq!(status["meeting_id"], id.to_string(), "{status}");
    let row = broadcaster_row(&api, bid).await.unwrap();
    let commands = row["connection"]["recent_commands"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = commands
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for kind in ["start_session", "go_to_item", "closed_part", "speaker"] {
        assert!(kinds.contains(&kind), "no {kind} among {commands:?}");
    }
    assert!(
        commands
            .iter()
            .all(|c| c["outcome"] == "ack" || c["command"] == "camera"),
        "not every command was carried out: {commands:?}"
    );

    // Stop: the broadcaster finalizes the recording and hands it over; the
    // archive lists the session with chapters from the agenda.
    let stopped = command(&api, id, "stop", json!({})).await;
    assert_eq!(stopped["meeting"]["state"], "ended", "{stopped}");
    assert_eq!(live_state(&api).await["live"], false);
    let recording = archived_recording(&api, id).await;
    let chapters: Vec<(&str, &str, bool)> = recording["chapters"]
        .as_array()
        .expect("chapters")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default(),
                c["title"].as_str().unwrap_or_default(),
                c["public"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        chapters,
        [
            ("agenda", "1 Eröffnung der Sitzung", true),
            ("agenda", "2 Haushaltssatzung 2027", true),
            ("closed", CLOSED, false),
        ],
        "{recording}"
    );
    let starts: Vec<f64> = recording["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_s"].as_f64().expect("start_s"))
        .collect();
    assert!(
        starts[0] < 1.0 && starts.windows(2).all(|w| w[1] >= w[0] + 1.0),
        "each chapter starts where its item went on air: {starts:?}"
    );
    let duration = recording["duration_s"].as_f64().expect("duration_s");
    assert!(
        duration > starts[2] + 1.0,
        "duration {duration} s: {recording}"
    );
    assert!(!recording.to_string().contains(SECRET), "{recording}");

    // The public WebVTT comes from the server's chapters, not the
    // broadcaster's file (which names the closed item).
    let vtt = fetch_text(
        &api,
        recording["chapters_url"].as_str().expect("chapters_url"),
    )
    .await
    .unwrap();
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("2 Haushaltssatzung 2027"),
        "{vtt}"
    );
    assert!(vtt.contains(CLOSED) && !vtt.contains(SECRET), "{vtt}");

    // The VOD: a finished playlist whose segments are served with Range.
    let vod_url = recording["hls_url"].as_str().expect("hls_url").to_owned();
    let vod_master = fetch_text(&api, &vod_url).await.unwrap();
    let vod_video = sibling(
        &vod_url,
        &rendition(&vod_master, "video")
            .unwrap_or_else(|| panic!("no video rendition in the VOD:\n{vod_master}")),
    );
    let vod = MediaPlaylist::parse(&fetch_text(&api, &vod_video).await.unwrap());
    assert!(
        vod.text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && vod.text.contains("#EXT-X-ENDLIST"),
        "{}",
        vod.text
    );
    assert!(
        vod.segments.len() as f64 >= duration - 2.0,
        "{} segments for {duration} s",
        vod.segments.len()
    );
    let segment = sibling(&vod_video, &vod.segments[vod.segments.len() / 2]);
    let (status, _, whole) = fetch(&api, &segment, None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {segment}");
    assert!(has_box(&whole, b"moof") && has_box(&whole, b"mdat"));
    check_range(&api, &segment, &whole, 100).await;

    // Downloads are on by default for a town: the single MP4, with Range.
    let download = recording["download_url"]
        .as_str()
        .unwrap_or_else(|| panic!("downloads are on, but no download_url: {recording}"))
        .to_owned();
    let (status, headers, mp4) = fetch(&api, &download, None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {download}");
    assert_eq!(headers[CONTENT_TYPE], "video/mp4");
    assert_eq!(first_box(&mp4), b"ftyp", "the download is an MP4");
    assert!(has_box(&mp4, b"moov") && has_box(&mp4, b"mdat"));
    check_range(&api, &download, &mp4, 1024).await;
    // The same file inside the recording's directory (the broadcaster names it
    // `download.mp4`), for players that fetch it beside the VOD.
    let beside = sibling(&vod_url, "download.mp4");
    check_range(&api, &beside, &mp4, 1024).await;

    // A town that switches downloads off: the MP4 is refused (403) both
    // ways and no longer offered, the VOD still plays.
    api.expect(
        Method::PUT,
        "/api/council/settings",
        Some(&json!({ "retention": "forever", "downloads": false })),
        StatusCode::OK,
    )
    .await
    .unwrap();
    for path in [&download, &beside] {
        let (status, _, _) = fetch(&api, path, Some("bytes=0-1023")).await.unwrap();
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "GET {path} with downloads off"
        );
    }
    let (status, _, again) = fetch(&api, &segment, None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "the VOD plays with downloads off");
    assert_eq!(again, whole);
    let (_, list) = api.get("/api/council/archive").await.unwrap();
    assert_eq!(
        list[0]["recordings"][0]["download_url"],
        Value::Null,
        "{list}"
    );

    // The broadcaster's own chapter log lies beside the media and names the
    // closed item: it is not served.
    let log = sibling(&vod_url, "chapters.jsonl");
    let (status, _, _) = fetch(&api, &log, None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "GET {log}");

    broadcaster.sigterm_and_wait();
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcaster_with_a_wrong_or_revoked_token_is_refused_and_says_why() {
    let (mut server, api) = start_server().await;
    let (old, revoked) = issue_token(&api, "Alter Rechner").await;
    api.expect(
        Method::DELETE,
        &format!("/api/council/broadcasters/{old}"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await
    .unwrap();
    let mut broadcasters = [
        BroadcasterProcess::start(&config_for(&server, &revoked)),
        BroadcasterProcess::start(&config_for(&server, "vertippt-0000")),
    ];
    // The refusal is in each one's log with the server's reason, so a
    // technician knows to ask for a new token.
    for b in &broadcasters {
        eventually(MEDIA, "the broadcaster to log the refusal", || async {
            let out = b.output();
            Ok((out.contains("control server refused this broadcaster")
                && out.contains("unknown or revoked broadcaster token"))
            .then_some(()))
        })
        .await;
    }
    // Neither is listed as connected: the revoked one's row stays offline
    // without a status, the made-up token has no row at all.
    let (status, rows) = api.get("/api/council/broadcasters").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let rows = rows.as_array().expect("a list");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], old, "{rows:?}");
    assert_eq!(rows[0]["connected"], false, "{rows:?}");
    assert_eq!(rows[0]["status"], Value::Null, "{rows:?}");
    // Refused is not fatal: each keeps running (and keeps asking, slowly), so
    // a new token in its config is all it takes.
    for b in &mut broadcasters {
        assert!(b.is_running(), "{}", b.output());
        b.sigterm_and_wait();
    }
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_server_restart_the_broadcaster_reconnects_by_itself_and_the_stream_went_on() {
    let (mut server, api) = start_server().await;
    let (bid, token) = issue_token(&api, "Ratssaal").await;
    let mut broadcaster = BroadcasterProcess::start(&config_for(&server, &token));
    wait_connected(&api, bid).await;
    let (id, items) = create_meeting(&api).await;
    command(&api, id, "start", json!({ "start_item_id": items[0] })).await;
    let video = live_video_playlist(&api, "/council/live/index.m3u8").await;
    segments_beyond(&api, &video, 0, 1).await;
    command(&api, id, "next", json!({})).await;
    wait_status(&api, bid, "the broadcaster at item 2", |s| s["item"] == "2").await;
    let before = segments_beyond(&api, &video, 0, 1).await.produced();

    server.sigterm_and_wait();
    // With the server gone the broadcaster streams on: its live playlist on
    // disk keeps growing.
    let on_disk = live_dir(&server).join("video").join("video.m3u8");
    let count = || {
        std::fs::read_to_string(&on_disk)
            .map(|t| MediaPlaylist::parse(&t).produced())
            .unwrap_or(0)
    };
    let during = eventually(
        MEDIA,
        "the live stream to go on without the server",
        || async {
            let n = count();
            Ok((n >= before + 2).then_some(n))
        },
    )
    .await;
    assert!(broadcaster.is_running(), "{}", broadcaster.output());

    // Same address, as in its config: it comes back by itself, says it is
    // running the meeting, and the server brings it up to date.
    server.restart_on_same_port();
    let api = match Api::admin(&server.base_url()).await {
        Ok(api) => api,
        Err(e) => server.fail(&format!("admin login after the restart failed: {e:#}")),
    };
    let row = wait_connected(&api, bid).await;
    assert!(
        broadcaster
            .output()
            .contains("control server connection lost"),
        "{}",
        broadcaster.output()
    );
    let state = live_state(&api).await;
    assert_eq!(state["live"], true, "{state}");
    assert_eq!(state["item"]["number"], "2", "{state}");
    eventually(
        T,
        "the resync after the reconnect to be carried out",
        || async {
            let row = broadcaster_row(&api, bid).await?;
            let commands = row["connection"]["recent_commands"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Ok(commands
                .iter()
                .any(|c| c["command"] == "go_to_item" && c["outcome"] == "ack")
                .then_some(()))
        },
    )
    .await;
    // A status sent on the new connection, not the one stored before the stop.
    let since = timestamp(&row["connection"]["connected_since"]);
    wait_status(&api, bid, "the broadcaster live at item 2 again", |s| {
        s["state"] == "live"
            && s["item"] == "2"
            && s["closed"] == false
            && timestamp(&s["at"]) >= since
    })
    .await;
    let after = segments_beyond(&api, &video, during, 1).await;
    assert!(after.produced() > before);

    // What it recorded across the outage is handed to the restarted server.
    command(&api, id, "stop", json!({})).await;
    let recording = archived_recording(&api, id).await;
    let titles: Vec<&str> = recording["chapters"]
        .as_array()
        .expect("chapters")
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["1 Eröffnung der Sitzung", "2 Haushaltssatzung 2027"],
        "{recording}"
    );
    broadcaster.sigterm_and_wait();
    server.sigterm_and_wait();
}
