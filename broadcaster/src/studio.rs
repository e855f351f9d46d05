//! The studio: inputs that always run, and at most one live session (program
//! pipeline + recording) steered by [`ServerCommand`]s. It owns all GStreamer state
//! and runs on one thread of its own ([`crate::core`]); nothing here waits on the
//! network.

use crate::chapters::ChapterLog;
use crate::config::Config;
use crate::encoder::{self, Encoder};
use crate::input::Input;
use crate::program::{Outputs, PipelineError, Program};
use crate::recording::{self, RecordingDir, SessionFile};
use crate::vod;
use chrono::Utc;
use content::broadcast::{
    AgendaItem, BroadcastState, BroadcasterMessage, ChapterEvent, ChapterKind, InputStatus,
    RecordingFinalized, RunningSession, ServerCommand, Session, Speaker, Status,
};
use gstreamer as gst;
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StudioError {
    #[error("GStreamer: {0}")]
    Init(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Registers the statically linked gst-plugins-rs elements (once per process).
pub fn init_gstreamer() -> Result<(), StudioError> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        gst::init().map_err(|e| e.to_string())?;
        gsthlssink3::plugin_register_static().map_err(|e| e.to_string())?;
        gstfmp4::plugin_register_static().map_err(|e| e.to_string())?;
        Ok(())
    })
    .clone()
    .map_err(StudioError::Init)
}

struct Live {
    program: Program,
    recording: RecordingDir,
    log: ChapterLog,
    session: Session,
    started_at: chrono::DateTime<Utc>,
    item: Option<usize>,
    closed_override: bool,
    closed: bool,
    wanted_camera: usize,
    on_air: Option<usize>,
    last_bytes: (Instant, u64),
    bitrate_kbps: Option<u32>,
    /// When the sound comes back after a closed part (see [`Program::unmute`]).
    unmute_at: Option<Instant>,
}

/// How long the sound stays muted after a closed part ends; longer than the inter
/// channel's and the queues' worth of audio.
const UNMUTE_GUARD: std::time::Duration = std::time::Duration::from_millis(400);

pub struct Studio {
    config: Config,
    encoder: Encoder,
    inputs: BTreeMap<String, Input>,
    live: Option<Live>,
    next_message_id: u64,
    problems: Vec<String>,
}

impl Studio {
    /// Starts every input; no session yet.
    pub fn new(config: Config) -> Result<Studio, StudioError> {
        init_gstreamer()?;
        let encoder = encoder::choose(&config.video);
        for dir in [&config.output.live_dir, &config.output.archive_dir] {
            std::fs::create_dir_all(dir).map_err(|source| StudioError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let inputs = config
            .inputs()
            .map(|i| (i.name.clone(), Input::start(i, &config.video)))
            .collect();
        Ok(Studio {
            config,
            encoder,
            inputs,
            live: None,
            next_message_id: 1,
            problems: Vec::new(),
        })
    }

    pub fn encoder(&self) -> Encoder {
        self.encoder
    }

    fn message_id(&mut self) -> u64 {
        // Unique across restarts too: the server matches acceptances to recordings.
        let id = Utc::now().timestamp_millis() as u64 * 1000 + self.next_message_id % 1000;
        self.next_message_id += 1;
        id
    }

    /// Finalizes recordings a crash left open; returns their reports.
    pub fn recover(&mut self) -> Vec<RecordingFinalized> {
        let mut reports = Vec::new();
        for rec in recording::unfinished(&self.config.output.archive_dir) {
            let id = self.message_id();
            match vod::finalize(&rec, id, true) {
                Ok(r) => reports.push(r),
                Err(e) => self.problem(format!("cannot recover recording {}: {e}", rec.id)),
            }
        }
        reports
    }

    /// Finalized recordings the server has not accepted yet.
    pub fn unaccepted(&self) -> Vec<RecordingFinalized> {
        recording::unaccepted(&self.config.output.archive_dir)
    }

    pub fn accepted(&mut self, recording_id: &str) {
        if !content::broadcast::is_safe_relative_path(recording_id) || recording_id.contains('/') {
            return;
        }
        let rec = RecordingDir::new(&self.config.output.archive_dir, recording_id);
        if rec.finalized().is_some()
            && let Err(e) = rec.mark_accepted()
        {
            self.problem(format!("cannot mark {recording_id} accepted: {e}"));
        }
    }

    fn problem(&mut self, p: String) {
        tracing::warn!("{p}");
        self.problems.push(p);
        if self.problems.len() > 20 {
            self.problems.remove(0);
        }
    }

    pub fn running_session(&self) -> Option<RunningSession> {
        self.live.as_ref().map(|l| RunningSession {
            meeting_id: l.session.meeting_id.clone(),
            started_at: l.started_at,
            item: l.item.map(|i| l.session.agenda[i].number.clone()),
        })
    }

    /// Carries out a command; `Err` says why it was refused. Messages to send (chapter
    /// events, a finalized recording) are pushed onto `out`.
    pub fn handle(
        &mut self,
        command: &ServerCommand,
        out: &mut Vec<BroadcasterMessage>,
    ) -> Result<(), String> {
        match command {
            ServerCommand::StartSession { session, .. } => self.start(session, out),
            ServerCommand::Stop { .. } => {
                if self.live.is_none() {
                    return Err("no session is running".into());
                }
                if let Some(report) = self.stop() {
                    out.push(BroadcasterMessage::RecordingFinalized(report));
                }
                Ok(())
            }
            ServerCommand::NextItem { .. } => {
                let live = self.live.as_ref().ok_or("no session is running")?;
                let next = live.item.map_or(0, |i| i + 1);
                if next >= live.session.agenda.len() {
                    return Err("the last agenda item is current already".into());
                }
                self.go_to(next, out)
            }
            ServerCommand::GoToItem { number, .. } => {
                let live = self.live.as_ref().ok_or("no session is running")?;
                let (i, _) = live
                    .session
                    .item(number)
                    .ok_or_else(|| format!("agenda item {number:?} is not on the agenda"))?;
                self.go_to(i, out)
            }
            ServerCommand::Speaker { speaker, .. } => self.speaker(speaker.as_ref(), out),
            ServerCommand::Camera { name, .. } => {
                let live = self.live.as_mut().ok_or("no session is running")?;
                let i = live
                    .program
                    .camera_index(name)
                    .ok_or_else(|| format!("no camera {name:?}"))?;
                live.wanted_camera = i;
                self.tick();
                Ok(())
            }
            ServerCommand::PictureInPicture { name, .. } => {
                let live = self.live.as_ref().ok_or("no session is running")?;
                match name {
                    Some(n) if Some(n.as_str()) != live.program.pip_name() => {
                        Err(format!("{n:?} is not the picture-in-picture input"))
                    }
                    _ => live.program.set_pip(name.is_some()),
                }
            }
            ServerCommand::ClosedPart { closed, .. } => {
                let live = self.live.as_mut().ok_or("no session is running")?;
                live.closed_override = *closed;
                self.apply_closed(out);
                Ok(())
            }
            ServerCommand::Welcome { .. }
            | ServerCommand::Refused { .. }
            | ServerCommand::RecordingAccepted { .. }
            | ServerCommand::Error { .. } => Ok(()),
        }
    }

    fn start(
        &mut self,
        session: &Session,
        out: &mut Vec<BroadcasterMessage>,
    ) -> Result<(), String> {
        if let Some(live) = &self.live {
            if live.session == *session {
                return Ok(()); // a resent command
            }
            return Err(format!(
                "session for meeting {:?} is running; stop it first",
                live.session.meeting_id
            ));
        }
        session.check()?;
        let started_at = Utc::now();
        let id = recording::recording_id(&session.meeting_id, started_at);
        let rec = RecordingDir::new(&self.config.output.archive_dir, &id);
        let v = &self.config.video;
        let bandwidth = (v.bitrate_kbps + v.audio_bitrate_kbps) * 1100;
        rec.create(
            &SessionFile {
                recording_id: id.clone(),
                started_at,
                session: session.clone(),
            },
            bandwidth,
            v.width,
            v.height,
        )
        .map_err(|e| format!("cannot create recording {id}: {e}"))?;
        let live_dir = &self.config.output.live_dir;
        let subs = crate::program::renditions(v).into_iter().map(|r| r.dir);
        for sub in subs.chain(["audio".to_string()]) {
            std::fs::create_dir_all(live_dir.join(sub)).map_err(|e| e.to_string())?;
        }
        recording::write_synced(
            &live_dir.join(recording::MASTER),
            crate::program::live_master_playlist(v, self.encoder).as_bytes(),
        )
        .map_err(|e| e.to_string())?;
        let log = ChapterLog::open(&rec.path(recording::CHAPTER_LOG)).map_err(|e| e.to_string())?;
        let mut program = Program::build(
            &self.config,
            self.encoder,
            &Outputs {
                live_dir,
                live_segments: self.config.output.live_segments,
                recording_dir: &rec.dir(),
                min_free_mb: self.config.output.min_free_mb,
            },
        )
        .map_err(|e| e.to_string())?;
        let start_item = session
            .start_item
            .as_deref()
            .and_then(|n| session.item(n))
            .map(|(i, _)| i);
        let closed = session.closed || start_item.is_some_and(|i| !session.agenda[i].public);
        program.start(closed).map_err(|e| e.to_string())?;
        self.live = Some(Live {
            program,
            recording: rec,
            log,
            session: session.clone(),
            started_at,
            item: None,
            // A session begun closed stays closed until staff open it.
            closed_override: session.closed,
            closed,
            wanted_camera: 0,
            on_air: Some(0),
            last_bytes: (Instant::now(), 0),
            bitrate_kbps: None,
            unmute_at: None,
        });
        if closed {
            self.chapter(ChapterKind::Closed { closed: true }, out);
        }
        match start_item {
            Some(i) => self.go_to(i, out)?,
            None => self.chapter(
                ChapterKind::Item {
                    number: "0".into(),
                    title: "Beginn".into(),
                    public: !closed,
                },
                out,
            ),
        }
        self.tick();
        Ok(())
    }

    fn go_to(&mut self, index: usize, out: &mut Vec<BroadcasterMessage>) -> Result<(), String> {
        let live = self.live.as_mut().ok_or("no session is running")?;
        let item: AgendaItem = live.session.agenda[index].clone();
        if live.item == Some(index) {
            return Ok(());
        }
        live.item = Some(index);
        live.program
            .set_agenda_text(Some(&format!("TOP {}: {}", item.number, item.title)));
        // The slate switches before the chapter is written, so a closed item's
        // chapter never begins before its slate does.
        self.apply_closed(out);
        self.chapter(
            ChapterKind::Item {
                number: item.number,
                title: item.title,
                public: item.public,
            },
            out,
        );
        Ok(())
    }

    fn apply_closed(&mut self, out: &mut Vec<BroadcasterMessage>) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let item_closed = live.item.is_some_and(|i| !live.session.agenda[i].public);
        let closed = live.closed_override || item_closed;
        if closed != live.closed {
            live.closed = closed;
            // The chapter spans the slate: it begins after the slate is on and ends
            // before the program is back, so everything inside it is slate.
            if closed {
                live.unmute_at = None;
                live.program.set_closed(true);
                self.chapter(ChapterKind::Closed { closed }, out);
            } else {
                self.chapter(ChapterKind::Closed { closed }, out);
                if let Some(live) = self.live.as_mut() {
                    live.program.set_closed(false);
                    live.unmute_at = Some(Instant::now() + UNMUTE_GUARD);
                }
            }
        }
    }

    fn speaker(
        &mut self,
        speaker: Option<&Speaker>,
        out: &mut Vec<BroadcasterMessage>,
    ) -> Result<(), String> {
        let live = self.live.as_ref().ok_or("no session is running")?;
        let text = speaker.map(|s| match s.subtitle().as_str() {
            "" => s.name.clone(),
            sub => format!("{}\n{sub}", s.name),
        });
        live.program.set_lower_third(text.as_deref());
        self.chapter(
            ChapterKind::Speaker {
                speaker: speaker.cloned(),
            },
            out,
        );
        Ok(())
    }

    fn chapter(&mut self, kind: ChapterKind, out: &mut Vec<BroadcasterMessage>) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let event = ChapterEvent {
            meeting_id: live.session.meeting_id.clone(),
            offset_ms: live.program.offset_ms(),
            at: Utc::now(),
            kind,
        };
        if let Err(e) = live.log.append(&event) {
            let p = format!(
                "cannot write chapter log {}: {e}",
                live.log.path().display()
            );
            self.problem(p);
        }
        out.push(BroadcasterMessage::Chapter(event));
    }

    /// Failover: the wanted camera if it delivers, else its backup, else the
    /// technical slate. Called every 100 ms and after each cut command.
    pub fn tick(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.program.tick();
        if live.unmute_at.is_some_and(|t| Instant::now() >= t) {
            live.unmute_at = None;
            live.program.unmute();
        }
        let names = live.program.camera_names();
        let healthy = |i: usize| {
            self.inputs
                .get(&names[i])
                .is_some_and(|inp| inp.health.ok())
        };
        let wanted = live.wanted_camera;
        let target = if healthy(wanted) {
            Some(wanted)
        } else {
            self.config
                .input(&names[wanted])
                .and_then(|c| c.backup.as_deref())
                .and_then(|b| live.program.camera_index(b))
                .filter(|&b| healthy(b))
        };
        if target != live.on_air {
            tracing::info!(
                "on air: {}",
                target.map_or("technical slate", |i| names[i].as_str())
            );
            live.program.cut_to(target);
            live.on_air = target;
        }
    }

    /// Ends the session and finalizes its recording.
    pub fn stop(&mut self) -> Option<RecordingFinalized> {
        let live = self.live.take()?;
        if let Err(e) = live.program.stop() {
            self.problem(e.to_string());
        }
        drop(live.log);
        let id = self.message_id();
        match vod::finalize(&live.recording, id, false) {
            Ok(r) => Some(r),
            Err(e) => {
                self.problem(format!("cannot finalize: {e}"));
                None
            }
        }
    }

    /// The running session's program pipeline, for tests that break it on purpose.
    #[doc(hidden)]
    pub fn program_pipeline(&self) -> Option<gst::Pipeline> {
        self.live.as_ref().map(|l| l.program.pipeline().clone())
    }

    pub fn status(&mut self) -> Status {
        let disk_free_bytes = rustix::fs::statvfs(&self.config.output.archive_dir)
            .ok()
            .map(|s| s.f_bavail * s.f_frsize);
        let inputs = self
            .inputs
            .values()
            .map(|i| InputStatus {
                name: i.name.clone(),
                ok: i.health.ok(),
            })
            .collect();
        let mut errors = self.problems.clone();
        errors.extend(
            self.inputs
                .values()
                .filter(|i| !i.health.ok())
                .filter_map(|i| i.health.last_error().map(|e| format!("{}: {e}", i.name))),
        );
        let Some(live) = self.live.as_mut() else {
            return Status {
                state: BroadcastState::Idle,
                at: Utc::now(),
                disk_free_bytes,
                inputs,
                errors,
                ..Status::default()
            };
        };
        let stats = &live.program.stats;
        let bytes = stats
            .encoded_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        let (then, then_bytes) = live.last_bytes;
        let secs = then.elapsed().as_secs_f64();
        if secs >= 1.0 {
            live.bitrate_kbps = Some(((bytes - then_bytes) as f64 * 8.0 / 1000.0 / secs) as u32);
            live.last_bytes = (Instant::now(), bytes);
        }
        let failed = live.program.errors();
        let stalled = live.program.stalled();
        let state = if !failed.is_empty() || stalled.is_some() {
            BroadcastState::Failed
        } else if live.program.on_air() {
            BroadcastState::Live
        } else {
            BroadcastState::Starting
        };
        errors.extend(failed);
        errors.extend(stalled);
        let names = live.program.camera_names();
        Status {
            state,
            at: Utc::now(),
            meeting_id: Some(live.session.meeting_id.clone()),
            item: live.item.map(|i| live.session.agenda[i].number.clone()),
            closed: live.closed,
            camera: live.on_air.map(|i| names[i].clone()),
            bitrate_kbps: live.bitrate_kbps,
            dropped_frames: stats
                .dropped_frames
                .load(std::sync::atomic::Ordering::Relaxed),
            audio_level_db: *stats.audio_level_db.lock().unwrap(),
            disk_free_bytes,
            inputs,
            errors,
            archive_error: live.program.archive_error(),
            restream: live.program.restream_status(),
        }
    }
}

impl Drop for Studio {
    /// A studio dropped mid-session still finalizes what it recorded.
    fn drop(&mut self) {
        if self.live.is_some() {
            let _ = self.stop();
        }
    }
}
