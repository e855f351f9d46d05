use crate::common::*;
use reqwest::{Method, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------- helpers

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A colourful `w`×`h` PNG.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    encode(image::DynamicImage::ImageRgb8(img), image::ImageFormat::Png)
}

/// A PNG of pseudo-random pixels (does not compress, so cutting it hurts).
fn noisy_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    encode(image::DynamicImage::ImageRgb8(img), image::ImageFormat::Png)
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A well-formed PNG whose header claims `w`×`h` pixels of `color_type`
/// (2 = RGB, 6 = RGBA) and whose data is a few bytes: a decompression bomb.
fn bomb_png(w: u32, h: u32, color_type: u8) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // An empty zlib stream.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// The start of an MP4 file: an `ftyp` box, then filler.
fn fake_mp4() -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.extend(std::iter::repeat_n(0x42_u8, 4096));
    v
}

/// The start of a WebM file: an EBML header with DocType "webm", then filler.
fn fake_webm() -> Vec<u8> {
    let mut v = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01,
    ];
    v.extend_from_slice(&[0x42, 0x82, 0x84]);
    v.extend_from_slice(b"webm");
    v.extend(std::iter::repeat_n(0x17_u8, 4096));
    v
}

async fn upload_as(
    server: &TestServer,
    token: &str,
    filename: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> (StatusCode, serde_json::Value) {
    let resp = server
        .http
        .post(server.url(&format!("/api/assets?filename={filename}")))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .expect("upload request");
    decode(resp).await
}

async fn upload(
    server: &TestServer,
    filename: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> (StatusCode, serde_json::Value) {
    upload_as(server, &server.admin, filename, bytes, content_type).await
}

fn assets_dir(server: &TestServer) -> PathBuf {
    server.data_dir().join("assets")
}

fn tmp_entries(server: &TestServer) -> Vec<PathBuf> {
    std::fs::read_dir(assets_dir(server).join("tmp"))
        .expect("tmp dir exists")
        .map(|e| e.expect("dir entry").path())
        .collect()
}

/// Every file under `assets/` except the temp and thumbnail directories.
fn stored_files(server: &TestServer) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(assets_dir(server)).expect("assets dir") {
        let p = e.expect("entry").path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() && name != "tmp" && name != "thumbs" {
            walk(&p, &mut out);
        }
    }
    out
}

async fn list(server: &TestServer) -> Vec<serde_json::Value> {
    let (status, body) = server.call(Method::GET, "/api/assets", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("list is an array").clone()
}

/// Polls `cond` until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How a raw request's body is sent.
enum RawBody {
    /// Exactly these bytes (whatever Content-Length said), then keep the connection open.
    Bytes(Vec<u8>),
    /// `total` zero bytes in 64 KiB writes, without framing (for a Content-Length body).
    Zeros { total: u64 },
    /// `total` zero bytes in 64 KiB chunks of chunked transfer encoding.
    ChunkedZeros { total: u64 },
}

struct RawResponse {
    status: u16,
    text: String,
    /// Body bytes the writer got onto the socket before it stopped.
    written: u64,
    elapsed: Duration,
}

/// Sends a hand-written HTTP/1.1 request and reads the response while the body
/// is still being written (a server may answer early and stop reading).
async fn raw_request(server: &TestServer, head: String, body: RawBody) -> RawResponse {
    let started = Instant::now();
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(head.as_bytes()).await.expect("write head");
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let writer = tokio::spawn(async move {
        let chunk = vec![0u8; 64 * 1024];
        match body {
            RawBody::Bytes(b) => {
                if wr.write_all(&b).await.is_ok() {
                    counter.fetch_add(b.len() as u64, Ordering::SeqCst);
                }
                // Keep the write half open until the reader is done.
                std::future::pending::<()>().await;
            }
            RawBody::Zeros { total } => {
                let mut sent = 0;
                while sent < total {
                    let n = chunk.len().min((total - sent) as usize);
                    if wr.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n as u64;
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            RawBody::ChunkedZeros { total } => {
                let mut sent = 0;
                while sent < total {
                    let n = chunk.len().min((total - sent) as usize);
                    let mut frame = format!("{n:x}\r\n").into_bytes();
                    frame.extend_from_slice(&chunk[..n]);
                    frame.extend_from_slice(b"\r\n");
                    if wr.write_all(&frame).await.is_err() {
                        return;
                    }
                    sent += n as u64;
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
                let _ = wr.write_all(b"0\r\n\r\n").await;
            }
        }
        std::future::pending::<()>().await;
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return;
                }
            }
            match rd.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no response within 20 s");
    let elapsed = started.elapsed();
    writer.abort();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    RawResponse {
        status,
        text,
        written: written.load(Ordering::SeqCst),
        elapsed,
    }
}

fn upload_head(server: &TestServer, framing: &str) -> String {
    format!(
        "POST /api/assets?filename=big.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: image/png\r\n{framing}\r\n",
        server.addr, server.admin
    )
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn png_upload_is_stored_served_and_thumbnailed() {
    let server = TestServer::start().await;
    let bytes = png(640, 480);
    let sha = sha_hex(&bytes);

    let (status, body) = upload(&server, "Rathaus.png", bytes.clone(), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["size"], bytes.len());
    assert_eq!(body["mime"], "image/png");
    assert_eq!(body["filename"], "Rathaus.png");
    assert_eq!(body["width"], 640);
    assert_eq!(body["height"], 480);
    assert_eq!(body["thumbnail"], true);
    assert!(body["created_at"].is_string(), "{body}");
    assert_eq!(
        body["asset"],
        json!({ "sha256": sha, "size": bytes.len(), "mime": "image/png" })
    );

    // On disk under its hash; nothing left in tmp/.
    let path = assets_dir(&server).join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(&path).expect("stored file"), bytes);
    assert!(tmp_entries(&server).is_empty());

    // The thumbnail fits 320×320 and keeps the aspect ratio.
    let thumb_path = assets_dir(&server)
        .join("thumbs")
        .join(format!("{sha}.png"));
    let thumb = image::open(&thumb_path).expect("thumbnail decodes");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // GET returns the identical bytes with the recorded type, cacheable forever.
    let resp = server
        .req(Method::GET, &format!("/api/assets/{sha}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(resp.bytes().await.expect("body").as_ref(), bytes.as_slice());

    // A Range request gets exactly that slice.
    let resp = server
        .req(Method::GET, &format!("/api/assets/{sha}"))
        .header(header::RANGE, "bytes=100-199")
        .send()
        .await
        .expect("range get");
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.headers()[header::CONTENT_RANGE],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(resp.bytes().await.expect("body").as_ref(), &bytes[100..200]);

    // The thumbnail is served too.
    let resp = server
        .req(Method::GET, &format!("/api/assets/{sha}/thumbnail"))
        .send()
        .await
        .expect("thumb");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/png");
    let served = resp.bytes().await.expect("thumb body");
    assert_eq!(
        served.as_ref(),
        std::fs::read(&thumb_path).expect("thumb file").as_slice()
    );

    // Listed.
    let all = list(&server).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["sha256"], sha);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_image_types_and_videos_are_detected_by_content() {
    let server = TestServer::start().await;
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        50,
        40,
        image::Rgb([200, 10, 10]),
    ));
    let cases = [
        (
            encode(img.clone(), image::ImageFormat::Jpeg),
            "image/jpeg",
            Some((50, 40)),
        ),
        (
            encode(img.clone(), image::ImageFormat::Gif),
            "image/gif",
            Some((50, 40)),
        ),
        (
            encode(img.clone(), image::ImageFormat::WebP),
            "image/webp",
            Some((50, 40)),
        ),
        (fake_mp4(), "video/mp4", None),
        (fake_webm(), "video/webm", None),
    ];
    for (bytes, mime, dims) in cases {
        // The client's Content-Type is deliberately wrong: the content decides.
        let (status, body) =
            upload(&server, "file", bytes.clone(), "application/octet-stream").await;
        assert_eq!(status, StatusCode::CREATED, "{mime}: {body}");
        assert_eq!(body["mime"], mime);
        assert_eq!(body["sha256"], sha_hex(&bytes));
        assert_eq!(body["thumbnail"], dims.is_some(), "{mime}");
        match dims {
            Some((w, h)) => assert_eq!(
                (body["width"].as_u64(), body["height"].as_u64()),
                (Some(w), Some(h))
            ),
            None => assert!(
                body["width"].is_null() && body["height"].is_null(),
                "{body}"
            ),
        }
        let resp = server
            .req(
                Method::GET,
                &format!("/api/assets/{}", body["sha256"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], mime);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    // A video has no thumbnail to serve.
    let sha = sha_hex(&fake_mp4());
    let (status, _) = server
        .call(Method::GET, &format!("/api/assets/{sha}/thumbnail"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Newest first.
    let all = list(&server).await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["mime"], "video/webm");
    assert_eq!(all[4]["mime"], "image/jpeg");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_upload_is_idempotent() {
    let server = TestServer::start().await;
    let bytes = png(64, 64);
    let (status, first) = upload(&server, "a.png", bytes.clone(), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = upload(&server, "b.png", bytes.clone(), "image/png").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second, first, "the existing record comes back unchanged");
    assert_eq!(list(&server).await.len(), 1);
    assert_eq!(stored_files(&server).len(), 1);
    assert!(tmp_entries(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_upload_is_rejected_and_leaves_nothing() {
    let server = TestServer::start_with(|c| c.max_upload_mb = 1).await;
    // With Content-Length: refused before the body is read.
    let mut bytes = png(16, 16);
    bytes.resize(3 * 1024 * 1024, 0);
    let head = upload_head(&server, &format!("Content-Length: {}\r\n", bytes.len()));
    let resp = raw_request(&server, head, RawBody::Bytes(bytes)).await;
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(resp.text.contains("too_large"), "{}", resp.text);

    // Chunked, so the size is unknown: refused once 1 MiB has been passed.
    let head = upload_head(&server, "Transfer-Encoding: chunked\r\n");
    let resp = raw_request(
        &server,
        head,
        RawBody::ChunkedZeros {
            total: 3 * 1024 * 1024,
        },
    )
    .await;
    assert_eq!(resp.status, 413, "{}", resp.text);

    eventually(Duration::from_secs(10), "tmp/ is empty", || async {
        tmp_entries(&server).is_empty()
    })
    .await;
    assert!(stored_files(&server).is_empty());
    assert!(list(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gib_upload_is_refused_by_content_length_without_reading_it() {
    let server = TestServer::start().await; // 16 MiB limit
    let total = 2 * 1024 * 1024 * 1024_u64;
    let head = upload_head(&server, &format!("Content-Length: {total}\r\n"));
    // Not a byte of the body is sent, so only the declared length can trigger the answer.
    let resp = raw_request(&server, head.clone(), RawBody::Bytes(Vec::new())).await;
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(
        resp.elapsed < Duration::from_secs(5),
        "took {:?}",
        resp.elapsed
    );

    // The same with the body streaming in: answered at once, the rest never read.
    let resp = raw_request(&server, head, RawBody::Zeros { total }).await;
    eprintln!(
        "2 GiB upload: 413 after {:?}, {} bytes written",
        resp.elapsed, resp.written
    );
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(
        resp.elapsed < Duration::from_secs(5),
        "took {:?}",
        resp.elapsed
    );
    assert!(
        resp.written < 16 * 1024 * 1024,
        "the client got {} bytes onto the wire",
        resp.written
    );
    assert!(tmp_entries(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_without_length_is_cut_off_at_the_limit() {
    let server = TestServer::start().await; // 16 MiB limit
    let total = 2 * 1024 * 1024 * 1024_u64;
    let head = upload_head(&server, "Transfer-Encoding: chunked\r\n");
    let resp = raw_request(&server, head, RawBody::ChunkedZeros { total }).await;
    eprintln!(
        "chunked upload: 413 after {:?}, {} bytes written",
        resp.elapsed, resp.written
    );
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(
        resp.text.contains("16777216"),
        "the message names the limit: {}",
        resp.text
    );
    assert!(
        resp.elapsed < Duration::from_secs(15),
        "took {:?}",
        resp.elapsed
    );
    // Socket buffers absorb a few MiB beyond the limit, not gigabytes.
    assert!(
        resp.written < 64 * 1024 * 1024,
        "the client got {} bytes onto the wire",
        resp.written
    );
    eventually(Duration::from_secs(10), "tmp/ is empty", || async {
        tmp_entries(&server).is_empty()
    })
    .await;
    assert!(stored_files(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_png_is_unsupported_media() {
    let server = TestServer::start().await;
    let (status, body) = upload(
        &server,
        "bild.png",
        b"this is just some text pretending to be a PNG".to_vec(),
        "image/png",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"], "unsupported_media");
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains("not of a supported type") && msg.contains("image/png"),
        "{msg}"
    );

    // Matroska is recognised and refused by name.
    let mut mkv = vec![0x1A, 0x45, 0xDF, 0xA3, 0x42, 0x82, 0x88];
    mkv.extend_from_slice(b"matroska");
    let (status, body) = upload(&server, "film.mkv", mkv, "video/webm").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("Matroska"),
        "{body}"
    );

    // An empty body is no file at all.
    let (status, body) = upload(&server, "leer.png", Vec::new(), "image/png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    assert!(list(&server).await.is_empty());
    assert!(stored_files(&server).is_empty());
    assert!(tmp_entries(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_png_is_unsupported_media() {
    let server = TestServer::start().await;
    let mut bytes = noisy_png(200, 200);
    bytes.truncate(bytes.len() / 2);
    let (status, body) = upload(&server, "halb.png", bytes, "image/png").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("not a valid PNG image"), "{msg}");
    assert!(list(&server).await.is_empty());
    assert!(stored_files(&server).is_empty());
    assert!(tmp_entries(&server).is_empty());
    assert_eq!(
        std::fs::read_dir(assets_dir(&server).join("thumbs"))
            .unwrap()
            .count(),
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompression_bombs_are_refused() {
    let server = TestServer::start().await;
    // 100000×100000 RGB in a 70-byte file: over the side limit.
    let bomb = bomb_png(100_000, 100_000, 2);
    assert!(bomb.len() < 100);
    let (status, body) = upload(&server, "bomb.png", bomb, "image/png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("too large") && msg.contains("16384"), "{msg}");

    // 16000×16000 RGBA: within the side limit, but 1 GiB decoded.
    let (status, body) = upload(
        &server,
        "bomb2.png",
        bomb_png(16_000, 16_000, 6),
        "image/png",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("too large"),
        "{body}"
    );

    assert!(list(&server).await.is_empty());
    assert!(stored_files(&server).is_empty());
    assert!(tmp_entries(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploading_and_deleting_need_the_editor_role() {
    let server = TestServer::start().await;
    let (status, body) = upload(&server, "a.png", png(8, 8), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sha = body["sha256"].as_str().unwrap().to_owned();

    let viewer = server.user("vera", "viewer").await;
    let (status, body) = upload_as(&server, &viewer, "b.png", png(9, 9), "image/png").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let resp = server
        .http
        .delete(server.url(&format!("/api/assets/{sha}")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Viewers may look.
    let resp = server
        .http
        .get(server.url("/api/assets"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = server
        .http
        .get(server.url(&format!("/api/assets/{sha}")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Anonymous: nothing.
    let resp = server
        .http
        .post(server.url("/api/assets?filename=c.png"))
        .body(png(10, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(list(&server).await.len(), 1);
    assert!(tmp_entries(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_is_refused_while_an_item_uses_the_asset() {
    let server = TestServer::start().await;
    let (status, up) = upload(&server, "bild.png", png(400, 300), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let sha = up["sha256"].as_str().unwrap().to_owned();

    let (status, item) = server
        .call(
            Method::POST,
            "/api/items",
            Some(json!({ "name": "Bild", "duration_s": 10, "content": { "type": "image", "asset": up["asset"] } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");

    let (status, body) = server
        .call(Method::DELETE, &format!("/api/assets/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Bild"), "{body}");
    assert!(assets_dir(&server).join(&sha[..2]).join(&sha).exists());

    let (status, body) = server
        .call(Method::DELETE, &format!("/api/items/{}", item["id"]), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = server
        .call(Method::DELETE, &format!("/api/assets/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert!(!assets_dir(&server).join(&sha[..2]).join(&sha).exists());
    assert!(
        !assets_dir(&server)
            .join("thumbs")
            .join(format!("{sha}.png"))
            .exists()
    );
    let (status, _) = server
        .call(Method::GET, &format!("/api/assets/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/assets/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(list(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_hashes_with_a_row_are_served() {
    let server = TestServer::start().await;
    for bad in [
        "..%2F..%2Fcontrol.db".to_owned(),
        "..%2Fcontrol.db".to_owned(),
        "%2e%2e%2f%2e%2e%2fcontrol.db".to_owned(),
        "AB".repeat(32),
        "ab".repeat(31),
        format!("{}%2F", "a".repeat(63)),
    ] {
        let (status, body) = server
            .call(Method::GET, &format!("/api/assets/{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {body}");
        let (status, _) = server
            .call(Method::GET, &format!("/api/assets/{bad}/thumbnail"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    // A file under its hash but without a row (a crash between rename and insert) is not served.
    let orphan = b"orphan".to_vec();
    let sha = sha_hex(&orphan);
    std::fs::create_dir_all(assets_dir(&server).join(&sha[..2])).unwrap();
    std::fs::write(assets_dir(&server).join(&sha[..2]).join(&sha), &orphan).unwrap();
    let (status, _) = server
        .call(Method::GET, &format!("/api/assets/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_upload_leaves_nothing_behind() {
    let server = TestServer::start().await;
    let bytes = png(300, 300);
    let head = format!(
        "POST /api/assets?filename=abgebrochen.png HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        server.admin,
        bytes.len() + 100_000
    );
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    stream.flush().await.unwrap();
    // The server has started receiving into tmp/ ...
    eventually(Duration::from_secs(10), "a temp file appears", || async {
        !tmp_entries(&server).is_empty()
    })
    .await;
    // ... and now the client goes away with the body incomplete.
    drop(stream);
    eventually(Duration::from_secs(10), "tmp/ is empty again", || async {
        tmp_entries(&server).is_empty()
    })
    .await;
    assert!(list(&server).await.is_empty());
    assert!(stored_files(&server).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_in_tmp_are_swept_at_start_up() {
    let server = TestServer::start().await;
    let (status, body) = upload(&server, "a.png", png(20, 20), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sha = body["sha256"].as_str().unwrap().to_owned();
    let dir = server.stop().await;
    std::fs::write(dir.path().join("assets/tmp/0123.part"), b"half a file").unwrap();

    let server = TestServer::start_in(dir, |_| {}).await;
    assert!(tmp_entries(&server).is_empty());
    // Finished uploads survive the restart.
    let resp = server
        .req(Method::GET, &format!("/api/assets/{sha}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_not_bound_by_the_json_body_limit() {
    let server = TestServer::start().await; // 16 MiB upload limit, 2 MiB for JSON
    let mut video = fake_mp4();
    video.resize(5 * 1024 * 1024, 7);
    let (status, body) = upload(&server, "film.mp4", video.clone(), "video/mp4").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["size"], video.len());
    assert_eq!(body["sha256"], sha_hex(&video));
    // The last megabyte, by Range, as a player resuming a download would ask.
    let from = video.len() - 1024 * 1024;
    let resp = server
        .req(Method::GET, &format!("/api/assets/{}", sha_hex(&video)))
        .header(header::RANGE, format!("bytes={from}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "video/mp4");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &video[from..]);
    server.stop().await;
}
