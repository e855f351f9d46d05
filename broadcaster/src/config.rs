//! The broadcaster's configuration file (TOML): inputs, output directories, encoder
//! settings, overlays and the control server.
//!
//! ```toml
//! [server]
//! url = "wss://rat.kaarst.de/ws/broadcaster"
//! token = "…"
//!
//! [control]          # optional: local control socket for `broadcaster ctl`
//! socket = "/run/broadcaster/control.sock"
//!
//! [output]
//! live_dir = "/srv/council/live"
//! archive_dir = "/srv/council/archive"
//! min_free_mb = 512  # optional: the archive stops cleanly below this much free space
//!
//! [video]            # optional; these are the defaults
//! width = 1280
//! height = 720
//! framerate = 30
//! bitrate_kbps = 3000
//! encoder = "auto"   # auto | x264 | nvh264 | vaapih264 | v4l2h264
//! segment_s = 1
//! renditions = [720, 360]  # optional ladder for the live output: heights, below `height`
//!
//! [restream]         # optional: RTMP(S) restream to a platform, reconnected with backoff
//! url = "rtmps://a.rtmps.youtube.com/live2/STREAM-KEY"
//!
//! [overlay]          # optional
//! town = "Stadt Kaarst"
//! logo = "/etc/broadcaster/logo.png"
//!
//! [[input]]
//! name = "totale"
//! backup = "halle"   # optional: the input that takes over when this one dies
//! source = { kind = "v4l2", device = "/dev/video0", audio_device = "hw:1" }
//!
//! [[input]]
//! name = "dolmetscher"
//! pip = true         # the picture-in-picture slot (sign-language interpreter)
//! source = { kind = "rtsp", url = "rtsp://10.0.0.5/stream" }
//! ```
//!
//! Every table refuses unknown keys, so a typo is an error, not a silently ignored
//! setting. Errors name the line: TOML syntax and type errors through the parser's
//! own position, semantic ones (a duplicate input name, a backup that does not exist)
//! through the span of the `[[input]]` table they concern.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;
use toml::Spanned;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The parser's message names line and column and quotes the line.
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Option<ServerConfig>,
    #[serde(default)]
    pub control: ControlConfig,
    pub output: OutputConfig,
    #[serde(default)]
    pub video: VideoConfig,
    #[serde(default)]
    pub overlay: OverlayConfig,
    #[serde(default)]
    pub restream: Option<RestreamConfig>,
    #[serde(rename = "input")]
    inputs: Vec<Spanned<InputConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `ws://` or `wss://` URL of the control server's `/ws/broadcaster`.
    pub url: String,
    pub token: String,
}

/// Local control, beside (or instead of) the control server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// A Unix socket taking the server's commands as JSON lines ([`crate::local`]).
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Where the live HLS playlist and its segments are written (and pruned).
    pub live_dir: PathBuf,
    /// Where recordings are kept, one directory each; shared with the control server.
    pub archive_dir: PathBuf,
    /// Live segments kept on disk (the playlist names the newest few).
    #[serde(default = "default_live_segments")]
    pub live_segments: u32,
    /// The archive stops (cleanly, its last segment complete) when less than this
    /// many MiB are free where it is written, so finalizing and the rest of the
    /// system keep room. 0 records until the disk is truly full.
    #[serde(default = "default_min_free_mb")]
    pub min_free_mb: u64,
}

fn default_live_segments() -> u32 {
    12
}

fn default_min_free_mb() -> u64 {
    512
}

/// A restream to a platform over RTMP or RTMPS (`rtmp2sink`; RTMPS through GIO's
/// TLS backend, glib-networking).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestreamConfig {
    /// `rtmp://host[:port]/app/stream-key` or `rtmps://…`; the key is never logged.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    pub width: u32,
    pub height: u32,
    pub framerate: u32,
    pub bitrate_kbps: u32,
    pub audio_bitrate_kbps: u32,
    pub encoder: EncoderChoice,
    /// HLS segment (and archive fragment) length; the keyframe interval is aligned to it.
    pub segment_s: u32,
    /// Extra live renditions for phones: heights below `height`, highest first
    /// (widths keep the aspect ratio). The archive keeps the full size only.
    pub renditions: Vec<u32>,
}

impl VideoConfig {
    /// The width of a rendition `height` pixels high: the program's aspect ratio,
    /// rounded to an even number (H.264 with 4:2:0 needs one).
    pub fn width_for(&self, height: u32) -> u32 {
        ((self.width * height + self.height) / self.height / 2 * 2).max(2)
    }
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            width: 1280,
            height: 720,
            framerate: 30,
            bitrate_kbps: 3000,
            audio_bitrate_kbps: 128,
            encoder: EncoderChoice::Auto,
            segment_s: 1,
            renditions: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderChoice {
    /// The first hardware encoder that works, else x264.
    Auto,
    X264,
    Nvh264,
    Vaapih264,
    V4l2h264,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayConfig {
    /// Shown next to the "LIVE" mark.
    #[serde(default)]
    pub town: Option<String>,
    /// A PNG or JPEG logo in the top-right corner.
    #[serde(default)]
    pub logo: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub name: String,
    /// The input that goes on air when this one fails.
    #[serde(default)]
    pub backup: Option<String>,
    /// This input feeds the picture-in-picture slot rather than the camera cut.
    #[serde(default)]
    pub pip: bool,
    pub source: SourceConfig,
}

/// Where an input's picture and sound come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// `videotestsrc` and a sine tone (`tone_hz`, 0 for silence).
    Test {
        #[serde(default = "default_pattern")]
        pattern: String,
        #[serde(default = "default_tone")]
        tone_hz: f64,
    },
    /// A media file with its sound, played in real time and looped.
    File { path: PathBuf },
    /// A V4L2 camera; sound from an ALSA device, or none.
    V4l2 {
        device: PathBuf,
        #[serde(default)]
        audio_device: Option<String>,
    },
    /// An RTSP IP camera with its sound.
    Rtsp { url: String },
    /// An SRT stream (MPEG-TS inside) with its sound.
    Srt { url: String },
}

fn default_pattern() -> String {
    "smpte".into()
}

fn default_tone() -> f64 {
    440.0
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text`; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.check(text, path)?;
        Ok(config)
    }

    pub fn inputs(&self) -> impl Iterator<Item = &InputConfig> {
        self.inputs.iter().map(|s| s.get_ref())
    }

    pub fn input(&self, name: &str) -> Option<&InputConfig> {
        self.inputs().find(|i| i.name == name)
    }

    /// The cameras (inputs for the cut), in config order; the first is on air first.
    pub fn cameras(&self) -> impl Iterator<Item = &InputConfig> {
        self.inputs().filter(|i| !i.pip)
    }

    fn check(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |span: std::ops::Range<usize>, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        if self.cameras().next().is_none() {
            return Err(invalid(
                0..0,
                "no camera: at least one [[input]] without `pip = true` is needed".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for spanned in &self.inputs {
            let input = spanned.get_ref();
            let span = spanned.span();
            if input.name.is_empty()
                || !input
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    span,
                    format!(
                        "input name {:?} must be non-empty ASCII letters, digits, '-' or '_'",
                        input.name
                    ),
                ));
            }
            if !names.insert(input.name.as_str()) {
                return Err(invalid(
                    span,
                    format!("input name {:?} is used twice", input.name),
                ));
            }
        }
        for spanned in &self.inputs {
            let input = spanned.get_ref();
            if let Some(backup) = &input.backup {
                match self.input(backup) {
                    None => {
                        return Err(invalid(
                            spanned.span(),
                            format!(
                                "input {:?} names backup {backup:?}, which is not an input",
                                input.name
                            ),
                        ));
                    }
                    Some(b) if b.pip || b.name == input.name => {
                        return Err(invalid(
                            spanned.span(),
                            format!(
                                "input {:?}: backup {backup:?} must be another camera",
                                input.name
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let v = &self.video;
        let video_problem = if v.width < 64 || v.height < 64 || v.width % 2 + v.height % 2 != 0 {
            Some("video width and height must be even and at least 64")
        } else if !(1..=60).contains(&v.framerate) {
            Some("video framerate must be 1..=60")
        } else if !(1..=10).contains(&v.segment_s) {
            Some("video segment_s must be 1..=10")
        } else if v.bitrate_kbps < 100 || v.audio_bitrate_kbps < 16 {
            Some("video bitrate_kbps must be at least 100 and audio_bitrate_kbps at least 16")
        } else {
            None
        };
        let video_problem = video_problem.or_else(|| {
            let mut last = v.height;
            v.renditions
                .iter()
                .any(|&r| {
                    let bad = r < 64 || r % 2 != 0 || r >= last;
                    last = r;
                    bad
                })
                .then_some(
                    "video renditions must be even heights of at least 64, below height, highest first",
                )
        });
        if let Some(message) = video_problem {
            let at = text.find("[video]").unwrap_or(0);
            return Err(invalid(at..at, message.into()));
        }
        if let Some(server) = &self.server
            && !(server.url.starts_with("ws://") || server.url.starts_with("wss://"))
        {
            let at = text.find("[server]").unwrap_or(0);
            return Err(invalid(
                at..at,
                format!(
                    "server url {:?} must start with ws:// or wss://",
                    server.url
                ),
            ));
        }
        if let Some(r) = &self.restream {
            let path = r
                .url
                .strip_prefix("rtmp://")
                .or_else(|| r.url.strip_prefix("rtmps://"));
            // host/app/key at least: rtmp2sink needs an application and a stream.
            if path.is_none_or(|p| p.split('/').filter(|s| !s.is_empty()).count() < 3) {
                let at = text.find("[restream]").unwrap_or(0);
                return Err(invalid(
                    at..at,
                    "restream url must be rtmp://host/app/stream-key or rtmps://…".into(),
                ));
            }
        }
        Ok(())
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
url = "ws://127.0.0.1:8080/ws/broadcaster"
token = "secret"

[output]
live_dir = "/tmp/live"
archive_dir = "/tmp/archive"

[video]
width = 320
height = 180

[[input]]
name = "totale"
backup = "halle"
source = { kind = "v4l2", device = "/dev/video0", audio_device = "hw:1" }

[[input]]
name = "halle"
source = { kind = "test", pattern = "ball" }

[[input]]
name = "rtsp"
source = { kind = "rtsp", url = "rtsp://10.0.0.5/s" }

[[input]]
name = "srt"
source = { kind = "srt", url = "srt://:9000?mode=listener" }

[[input]]
name = "datei"
source = { kind = "file", path = "/srv/loop.mp4" }

[[input]]
name = "dolmetscher"
pip = true
source = { kind = "test" }
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("broadcaster.toml"))
    }

    #[test]
    fn a_full_config_parses() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.inputs().count(), 6);
        assert_eq!(c.cameras().count(), 5);
        assert_eq!(c.video.width, 320);
        assert_eq!(c.video.framerate, 30, "defaults fill the rest");
        assert_eq!(
            c.input("halle").unwrap().source,
            SourceConfig::Test {
                pattern: "ball".into(),
                tone_hz: 440.0
            }
        );
        assert_eq!(c.server.unwrap().token, "secret");
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_typo_names_its_line() {
        let bad = GOOD.replace("pattern = \"ball\"", "patern = \"ball\"");
        let e = error_of(&bad);
        assert!(e.contains("line 21"), "{e}");
        assert!(e.contains("patern"), "{e}");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let bad = GOOD.replace("height = 180", "height = ");
        let e = error_of(&bad);
        assert!(e.contains("line 12"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let bad = GOOD.replace("height = 180", "height = \"180\"");
        let e = error_of(&bad);
        assert!(e.contains("line 12"), "{e}");
    }

    #[test]
    fn an_unknown_source_kind_is_refused() {
        let bad = GOOD.replace("kind = \"rtsp\"", "kind = \"ndi\"");
        let e = error_of(&bad);
        assert!(e.contains("line 25") && e.contains("ndi"), "{e}");
    }

    #[test]
    fn a_missing_backup_names_the_input_line() {
        let bad = GOOD.replace("backup = \"halle\"", "backup = \"hall\"");
        let e = error_of(&bad);
        assert!(e.contains("line 14"), "{e}");
        assert!(e.contains("\"hall\""), "{e}");
    }

    #[test]
    fn a_duplicate_name_names_the_second_input() {
        let bad = GOOD.replace("name = \"rtsp\"", "name = \"halle\"");
        let e = error_of(&bad);
        assert!(e.contains("line 23") && e.contains("used twice"), "{e}");
    }

    #[test]
    fn bad_video_settings_name_the_video_table() {
        let bad = GOOD.replace("height = 180", "height = 181");
        let e = error_of(&bad);
        assert!(e.contains("line 10") && e.contains("even"), "{e}");
    }

    #[test]
    fn restream_and_renditions_are_checked() {
        let with = |extra: &str| GOOD.replace("height = 180\n", &format!("height = 180\n{extra}"));
        let c = parse(&with("renditions = [120, 64]\n")).unwrap();
        assert_eq!(c.video.renditions, [120, 64]);
        let e = error_of(&with("renditions = [64, 120]\n"));
        assert!(e.contains("line 10") && e.contains("renditions"), "{e}");
        let ok = format!("{GOOD}\n[restream]\nurl = \"rtmps://a.example/live2/key\"\n");
        assert!(parse(&ok).unwrap().restream.is_some());
        let bad = format!("{GOOD}\n[restream]\nurl = \"rtmp://a.example/key\"\n");
        let e = error_of(&bad);
        assert!(e.contains("restream url"), "{e}");
    }

    #[test]
    fn the_control_socket_is_optional_and_checked() {
        assert!(parse(GOOD).unwrap().control.socket.is_none());
        let ok = format!("{GOOD}\n[control]\nsocket = \"/run/b/control.sock\"\n");
        let c = parse(&ok).unwrap();
        assert_eq!(c.control.socket.unwrap(), Path::new("/run/b/control.sock"));
        let e = error_of(&ok.replace("socket =", "sokcet ="));
        assert!(e.contains("sokcet"), "{e}");
    }

    #[test]
    fn no_camera_is_an_error() {
        let e = error_of("input = []\n[output]\nlive_dir = \"a\"\narchive_dir = \"b\"\n");
        assert!(e.contains("no camera"), "{e}");
    }
}
