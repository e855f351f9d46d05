//! The archive branches of the program pipeline, isolated so that a disk that fills
//! up (or fails) costs the recording, never the live stream.
//!
//! ```text
//!  tee vt ─► ┌ bin archive_v ─────────────────────────────────────┐
//!            │ ghost pad "firewall" ─ queue (10 s, leaky) ─ hlscmafsink │
//!            └────────────────────────────────────────────────────┘
//! ```
//!
//! - **Firewall.** The bin's sink pad passes buffers through but turns a flow error
//!   from inside (a segment or playlist write that failed: ENOSPC, EFBIG, EIO) into
//!   "ok, dropped", so the tee never sees it and the encoders, the live HLS output
//!   and the restream go on. The failure is recorded at that moment; errors the
//!   branch posts on the bus are told apart by element identity (the bin is their
//!   ancestor) and never count as program errors.
//! - **Cut off.** The studio's next tick unlinks the failed branch from its tee in
//!   an idle probe and removes it (`Null`), so end-of-stream at session end waits
//!   only for the branches that still work. What was written stays: the EVENT
//!   playlist on disk names only segments written completely (it is replaced after
//!   each), so finalizing makes a playable VOD of everything up to the failure.
//! - **Reserve.** Every second the free space where the archive is written is
//!   checked (statvfs); below `min_free_mb` the branches are unlinked and sent EOS,
//!   so the recording ends cleanly (last segment complete, playlist ended) before
//!   the disk is truly full, leaving room for finalizing and for the rest of the
//!   machine. Either way the reason is in [`Status::archive_error`] and in the log.
//! - **Durability.** The sink's stream signals are taken over: each segment (and
//!   init segment) is `fdatasync`ed, and its directory synced, before the playlist
//!   that names it is written (GIO then syncs the playlist before renaming it into
//!   place). A power cut, not only a crash, leaves a playlist naming only segments
//!   that are on disk. Segments are small files (one `segment_s` of media each,
//!   about 400 KB at 3 Mbit/s), which is the "files of bounded size" the archive is
//!   split into; `download.mp4` is made only when finalizing.
//! - **Write-ahead chunks.** A segment reaches its file (and the playlist) only
//!   when it is complete, so a SIGKILL used to lose the segment in progress: up to
//!   one `segment_s` plus the frames in the encoder (1.06 s in 1 of 20 kills). The
//!   archive's muxer (the `cmafmux` inside its `hlscmafsink`) therefore emits a
//!   CMAF chunk (`moof`+`mdat`) every [`CHUNK_NS`] (0.25 s, `chunk-duration`);
//!   [`Archive::write_ahead`]'s probe on the sink's appsink appends each chunk at
//!   once to the fragment's in-progress copy (`inprogress_<seq>.m4s`, page cache,
//!   not synced) and hands the fragment's chunks on as one segment when the next
//!   fragment begins (or at end-of-stream), as hlscmafsink 0.14 wants one sample
//!   per segment (it has no LL-HLS parts). Segments stay one GOP (`segment_s`)
//!   long, with the live output's keyframes; only their inside is in chunks.
//!   After a crash `vod::finalize` salvages the in-progress copy's whole chunks
//!   as the last segment, so a kill loses at most one chunk plus the encoder's
//!   and muxer's few frames. A power cut can still lose the unsynced copy (the
//!   synced segments before it stay). Shorter segments were not an option: they
//!   would need a shorter GOP, and the live output shares the encoder.
//! - **Not resumed.** Once cut off, the archive stays off for this session; staff
//!   see why in the status and can free space and start a new session (a new
//!   recording). Resuming into a new part automatically is left for later.
//!
//! [`Status::archive_error`]: content::broadcast::Status::archive_error

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far the archive may fall behind a slow disk before it drops data rather than
/// hold up the tee (and with it the live stream).
const MAX_BEHIND_NS: u64 = 10_000_000_000;

struct Branch {
    bin: gst::Bin,
    tee: gst::Element,
    tee_pad: gst::Pad,
    /// Set by the idle probe once the branch is unlinked from its tee.
    unlinked: Arc<AtomicBool>,
    /// Set when end-of-stream has reached the sink's last element: all written.
    drained: Arc<AtomicBool>,
}

/// Shared with the firewalls (streaming threads) and the bus thread.
#[derive(Default)]
pub struct Failure {
    failed: AtomicBool,
    why: Mutex<Option<String>>,
}

impl Failure {
    pub fn record(&self, why: String) {
        let mut w = self.why.lock().unwrap();
        if w.is_none() {
            *w = Some(why);
        }
        self.failed.store(true, Ordering::Release);
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

enum State {
    Recording,
    /// Unlinking: the branches are removed (failure) or first sent EOS (reserve).
    Stopping {
        eos: bool,
        since: Instant,
    },
    Stopped,
}

pub struct Archive {
    branches: Vec<Branch>,
    playlists: Vec<Arc<Playlist>>,
    pub failure: Arc<Failure>,
    state: State,
    /// Why the archive stopped, once it has.
    reason: Option<String>,
    dir: PathBuf,
    min_free_bytes: u64,
    last_check: Instant,
    pipeline: glib::WeakRef<gst::Pipeline>,
}

impl Archive {
    pub fn new(pipeline: &gst::Pipeline, dir: &Path, min_free_mb: u64) -> Archive {
        Archive {
            branches: Vec::new(),
            playlists: Vec::new(),
            failure: Arc::new(Failure::default()),
            state: State::Recording,
            reason: None,
            dir: dir.to_owned(),
            min_free_bytes: min_free_mb * 1024 * 1024,
            last_check: Instant::now(),
            pipeline: pipeline.downgrade(),
        }
    }

    /// Adds a branch `tee ! [firewall] queue ! <sink_description>` to `pipeline`
    /// (in `Null`); `name` names the bin.
    pub fn attach(
        &mut self,
        pipeline: &gst::Pipeline,
        tee: &gst::Element,
        name: &str,
        sink_description: &str,
    ) -> Result<(), String> {
        let bin = gst::parse::bin_from_description(
            &format!(
                "queue name=q max-size-time={MAX_BEHIND_NS} max-size-buffers=0 max-size-bytes=0 leaky=downstream ! {sink_description}"
            ),
            false,
        )
        .map_err(|e| e.to_string())?;
        bin.set_property("name", name);
        let queue = bin.by_name("q").ok_or("no queue")?;
        queue.connect("overrun", false, {
            let name = name.to_owned();
            move |_| {
                tracing::warn!("archive {name}: the disk is more than 10 s behind; dropping");
                None
            }
        });
        let target = queue.static_pad("sink").ok_or("queue without sink pad")?;
        let failure = self.failure.clone();
        let list_failure = self.failure.clone();
        let what = name.to_owned();
        let list_what = name.to_owned();
        let ghost = gst::GhostPad::builder_with_target(&target)
            .map_err(|e| e.to_string())?
            .name("sink")
            .chain_function(move |pad, parent, buffer| {
                if failure.failed() {
                    return Ok(gst::FlowSuccess::Ok);
                }
                firewall(
                    &failure,
                    &what,
                    gst::ProxyPad::chain_default(pad, parent, buffer),
                )
            })
            .chain_list_function(move |pad, parent, list| {
                if list_failure.failed() {
                    return Ok(gst::FlowSuccess::Ok);
                }
                firewall(
                    &list_failure,
                    &list_what,
                    gst::ProxyPad::chain_list_default(pad, parent, list),
                )
            })
            .build();
        bin.add_pad(&ghost).map_err(|e| e.to_string())?;
        pipeline.add(&bin).map_err(|e| e.to_string())?;
        let tee_pad = tee
            .request_pad_simple("src_%u")
            .ok_or("the tee gives no pad")?;
        tee_pad.link(&ghost).map_err(|e| e.to_string())?;
        // The sink writes its files from its inner appsink: EOS there means the
        // last segment is on disk.
        let drained = Arc::new(AtomicBool::new(false));
        let last = innermost_sink(bin.upcast_ref())
            .and_then(|e| e.static_pad("sink"))
            .ok_or("no appsink inside the archive sink")?;
        let flag = drained.clone();
        last.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(e)) = &info.data
                && e.type_() == gst::EventType::Eos
            {
                flag.store(true, Ordering::Release);
            }
            gst::PadProbeReturn::Ok
        });
        self.branches.push(Branch {
            bin: bin.upcast(),
            tee: tee.clone(),
            tee_pad,
            unlinked: Arc::new(AtomicBool::new(false)),
            drained,
        });
        Ok(())
    }

    /// The hlscmafsink named `name` inside the branches, for its stream signals.
    pub fn sink(&self, name: &str) -> Option<gst::Element> {
        self.branches.iter().find_map(|b| b.bin.by_name(name))
    }

    /// Whether `object` (a bus message's source) belongs to an archive branch.
    pub fn owns(bins: &[glib::WeakRef<gst::Bin>], object: &gst::Object) -> bool {
        bins.iter()
            .filter_map(|b| b.upgrade())
            .any(|b| object == b.upcast_ref::<gst::Object>() || object.has_as_ancestor(&b))
    }

    pub fn weak_bins(&self) -> Vec<glib::WeakRef<gst::Bin>> {
        self.branches.iter().map(|b| b.bin.downgrade()).collect()
    }

    /// Why the archive stopped, if it has.
    pub fn stopped(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Cuts off a failed archive, or stops it at the reserve; finishes either once
    /// the branches are unlinked. Called by the studio every 100 ms.
    pub fn tick(&mut self) {
        match self.state {
            State::Recording => {
                if self.failure.failed() {
                    let why = self.failure.why.lock().unwrap().clone().unwrap_or_default();
                    let free = self.free_bytes();
                    let reason = match free {
                        Some(f) if f < 4 * 1024 * 1024 => format!(
                            "disk full: {why}; {} KiB free in {}",
                            f / 1024,
                            self.dir.display()
                        ),
                        _ => format!("write error: {why}"),
                    };
                    self.begin_stop(reason, false);
                } else if self.last_check.elapsed() >= Duration::from_secs(1) {
                    self.last_check = Instant::now();
                    if let Some(free) = self.free_bytes()
                        && free < self.min_free_bytes
                    {
                        let reason = format!(
                            "disk almost full: {} MiB free in {}, below the reserve of {} MiB; \
                             the recording was ended cleanly",
                            free / 1024 / 1024,
                            self.dir.display(),
                            self.min_free_bytes / 1024 / 1024
                        );
                        self.begin_stop(reason, true);
                    }
                }
            }
            State::Stopping { eos, since } => {
                let unlinked = self
                    .branches
                    .iter()
                    .all(|b| b.unlinked.load(Ordering::Acquire));
                // A failed branch never drains; a stopped one gets 5 s to.
                let drained = !eos
                    || since.elapsed() > Duration::from_secs(5)
                    || self
                        .branches
                        .iter()
                        .all(|b| b.drained.load(Ordering::Acquire));
                if unlinked && drained {
                    for b in &self.branches {
                        b.tee.release_request_pad(&b.tee_pad);
                        // Ready writes the playlist's end (ENDLIST); out of the
                        // pipeline, the session's EOS does not wait for it.
                        let _ = b.bin.set_state(gst::State::Null);
                        if let Some(p) = self.pipeline.upgrade() {
                            let _ = p.remove(&b.bin);
                        }
                    }
                    self.persist();
                    self.state = State::Stopped;
                }
            }
            State::Stopped => {}
        }
    }

    /// Before end-of-stream: a failure not yet acted on is acted on, and a branch
    /// on its way out is out (at most a second: the tee is idle between buffers).
    pub fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        self.tick();
        while matches!(self.state, State::Stopping { .. }) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            self.tick();
        }
    }

    fn free_bytes(&self) -> Option<u64> {
        rustix::fs::statvfs(&self.dir)
            .ok()
            .map(|s| s.f_bavail * s.f_frsize)
    }

    fn begin_stop(&mut self, reason: String, eos: bool) {
        tracing::error!("archive stopped, the live stream goes on: {reason}");
        self.reason = Some(reason);
        self.state = State::Stopping {
            eos,
            since: Instant::now(),
        };
        for b in &self.branches {
            let unlinked = b.unlinked.clone();
            let bin_pad = b.bin.static_pad("sink");
            // Unlinked between two buffers, so the tee never pushes into a branch
            // that is going away; with `eos` the branch then ends its files.
            b.tee_pad.add_probe(gst::PadProbeType::IDLE, move |pad, _| {
                if let Some(peer) = pad.peer() {
                    let _ = pad.unlink(&peer);
                }
                if eos && let Some(p) = &bin_pad {
                    p.send_event(gst::event::Eos::new());
                }
                unlinked.store(true, Ordering::Release);
                gst::PadProbeReturn::Remove
            });
        }
    }
}

/// The sink element at the bottom of nested bins (hlscmafsink's appsink).
fn innermost_sink(bin: &gst::Bin) -> Option<gst::Element> {
    let mut sinks = bin.iterate_sinks();
    while let Ok(Some(e)) = sinks.next() {
        match e.downcast_ref::<gst::Bin>() {
            Some(inner) => {
                if let Some(found) = innermost_sink(inner) {
                    return Some(found);
                }
            }
            None => return Some(e),
        }
    }
    None
}

fn firewall(
    failure: &Failure,
    what: &str,
    result: Result<gst::FlowSuccess, gst::FlowError>,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    match result {
        // Shutting down and end of stream are the pipeline's, not failures.
        Err(e @ (gst::FlowError::Flushing | gst::FlowError::Eos)) => Err(e),
        Err(e) => {
            failure.record(format!("{what}: {e:?}"));
            Ok(gst::FlowSuccess::Ok)
        }
        ok => ok,
    }
}

/// A playlist the sink has written beside the real one (`<name>.part`), to be
/// renamed over it once known to be complete.
struct Playlist {
    sink: glib::WeakRef<gst::Element>,
    /// The playlist's location while a `.part` of it waits.
    slot: Mutex<Option<String>>,
}

impl Archive {
    /// Takes over the stream signals of the archive's `hlscmafsink` (in `dir`):
    /// segments are synced to disk before the playlist naming them is written, and
    /// the playlist is written beside the real one first. GIO's own replace would
    /// rename a playlist cut short by a full disk over the good one; here it is
    /// synced and renamed only once the sink reports it written in full.
    pub fn take_over_streams(&mut self, sink: &gst::Element, dir: &Path) {
        let pending: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
        for signal in ["get-init-stream", "get-fragment-stream"] {
            let pending = pending.clone();
            sink.connect(signal, false, move |args| {
                let location = args[1].get::<String>().ok()?;
                pending.lock().unwrap().push(PathBuf::from(&location));
                Some(open(&location).to_value())
            });
        }
        let dir = dir.to_owned();
        let playlist = Arc::new(Playlist {
            sink: sink.downgrade(),
            slot: Mutex::new(None),
        });
        let slot = playlist.clone();
        sink.connect("get-playlist-stream", false, move |args| {
            let location = args[1].get::<String>().ok()?;
            for path in pending.lock().unwrap().drain(..) {
                if let Err(e) = std::fs::File::open(&path).and_then(|f| f.sync_data()) {
                    tracing::warn!("cannot sync {}: {e}", path.display());
                }
            }
            // The new segments' names in the directory, then the playlist naming them.
            let _ = std::fs::File::open(&dir).and_then(|d| d.sync_all());
            let stream = open(&format!("{location}.part"));
            *slot.slot.lock().unwrap() = Some(location);
            Some(stream.to_value())
        });
        self.playlists.push(playlist);
    }

    /// After the sinks are stopped: their last playlist (ended, ENDLIST) replaces
    /// the one on disk if it was written in full.
    pub fn persist(&self) {
        for p in &self.playlists {
            let complete = p.slot.lock().unwrap().as_ref().is_some_and(|l| {
                std::fs::read_to_string(format!("{l}.part"))
                    .is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n"))
            });
            persist(p, &self.failure, complete);
        }
    }

    /// Persists each sink's playlist the moment the sink reports it written
    /// (`hls-segment-added`, posted synchronously by the streaming thread).
    pub fn watch(&self, bus: &gst::Bus) {
        let playlists = self.playlists.clone();
        let failure = self.failure.clone();
        bus.set_sync_handler(move |_, msg| {
            if let gst::MessageView::Element(e) = msg.view()
                && e.structure()
                    .is_some_and(|s| s.name() == "hls-segment-added")
                && let Some(src) = msg.src()
            {
                for p in &playlists {
                    if p.sink
                        .upgrade()
                        .is_some_and(|s| s.upcast_ref::<gst::Object>() == src)
                    {
                        persist(p, &failure, true);
                    }
                }
            }
            gst::BusSyncReply::Pass
        });
    }
}

/// Renames the `.part` of `p` over the playlist (synced first) when `complete`;
/// else, and after a failure, the playlist on disk (the last good one) stays.
fn persist(p: &Playlist, failure: &Failure, complete: bool) {
    let Some(location) = p.slot.lock().unwrap().take() else {
        return;
    };
    let part = format!("{location}.part");
    let result = if complete && !failure.failed() {
        std::fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&part, &location))
    } else {
        Ok(())
    };
    let _ = std::fs::remove_file(&part);
    if let Err(e) = result {
        failure.record(format!("writing {location}: {e}"));
    }
}

/// What the sink would open itself: GIO's replace (written in place when new,
/// through a synced temporary file and a rename when it exists, as the playlist).
fn open(location: &str) -> Option<gio::OutputStream> {
    use gio::prelude::FileExt;
    gio::File::for_path(location)
        .replace(
            None,
            false,
            gio::FileCreateFlags::empty(),
            None::<&gio::Cancellable>,
        )
        .map_err(|e| tracing::warn!("cannot open {location}: {e}"))
        .ok()
        .map(|s| s.upcast())
}

/// How often the archive's muxer hands over what it has of the segment in progress
/// (a CMAF chunk: `moof`+`mdat`), so a crash loses at most about this much.
pub const CHUNK_NS: u64 = 250_000_000;

/// The in-progress copy of fragment `seq` (its chunks as they come), in `dir`.
pub fn in_progress_name(seq: u64) -> String {
    format!("{IN_PROGRESS_PREFIX}{seq:010}.m4s")
}

pub const IN_PROGRESS_PREFIX: &str = "inprogress_";

/// What the chunk probe holds: the chunks of the fragment in progress.
#[derive(Default)]
struct Held {
    buffers: Vec<gst::Buffer>,
    duration: u64,
    /// The in-progress file of this fragment and its sequence number.
    file: Option<(u64, std::fs::File)>,
    /// Set while the held fragment is pushed on at end-of-stream (our own push).
    draining: bool,
}

impl Archive {
    /// Makes the archive's `hlscmafsink` (in `dir`) write ahead: its muxer emits a
    /// CMAF chunk every [`CHUNK_NS`]; each chunk is appended at once to the fragment's
    /// in-progress file ([`in_progress_name`], page cache, no sync) and held; the
    /// fragment's chunks go on to the sink as one segment (one sample, as the sink
    /// expects) when the next fragment begins, or at end-of-stream. The segments,
    /// their length (one GOP) and the playlist are unchanged; after a crash,
    /// finalizing salvages the complete chunks of the in-progress file
    /// ([`crate::vod`]).
    pub fn write_ahead(&self, sink: &gst::Element, dir: &Path) -> Result<(), String> {
        let bin = sink
            .downcast_ref::<gst::Bin>()
            .ok_or("the sink is no bin")?;
        let muxer = bin.by_name("muxer").ok_or("no muxer in the sink")?;
        muxer.set_property("chunk-duration", CHUNK_NS);
        let pad = bin
            .by_name("sink")
            .and_then(|s| s.static_pad("sink"))
            .ok_or("no appsink in the sink")?;
        let held: Arc<Mutex<Held>> = Arc::default();
        let dir = dir.to_owned();
        pad.add_probe(
            gst::PadProbeType::BUFFER_LIST | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |pad, info| match &mut info.data {
                Some(gst::PadProbeData::BufferList(list)) => {
                    let mut h = held.lock().unwrap();
                    if h.draining {
                        return gst::PadProbeReturn::Ok;
                    }
                    match on_chunk(&mut h, list, &dir) {
                        Some(out) => {
                            info.data = Some(gst::PadProbeData::BufferList(out));
                            gst::PadProbeReturn::Ok
                        }
                        // Held (handled here): nothing goes on yet.
                        None => {
                            info.data = None;
                            info.flow_res = Ok(gst::FlowSuccess::Ok);
                            gst::PadProbeReturn::Handled
                        }
                    }
                }
                Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::Eos => {
                    let mut h = held.lock().unwrap();
                    if let Some(out) = take_fragment(&mut h) {
                        h.draining = true;
                        drop(h);
                        let _ = pad.chain_list(out.into_iter().collect());
                        held.lock().unwrap().draining = false;
                    }
                    gst::PadProbeReturn::Ok
                }
                _ => gst::PadProbeReturn::Ok,
            },
        );
        Ok(())
    }
}

/// One chunk from the muxer (after its init segment, when there is one): returns
/// what goes on to the sink now, if anything.
fn on_chunk(h: &mut Held, list: &gst::BufferList, dir: &Path) -> Option<gst::BufferList> {
    let mut buffers: Vec<gst::Buffer> = list.iter_owned().collect();
    let init = match buffers.first() {
        Some(b)
            if b.flags()
                .contains(gst::BufferFlags::DISCONT | gst::BufferFlags::HEADER) =>
        {
            Some(buffers.remove(0))
        }
        _ => None,
    };
    // An init segment goes on at once when no fragment is held (the start): the
    // sink prerolls on it. Holding it until the first fragment is complete would
    // leave the pipeline waiting for this sink's preroll while the live sinks,
    // prerolled, block the tee (a deadlock). After a held fragment (new caps) it
    // leads the next one, as the sink expects.
    let Some(header) = buffers.first() else {
        let out = take_fragment(h);
        if out.is_some() {
            h.buffers.extend(init);
            return out.map(|b| b.into_iter().collect());
        }
        return init.map(|i| std::iter::once(i).collect());
    };
    let fragment_start = !header.flags().contains(gst::BufferFlags::DELTA_UNIT);
    let duration = header.duration().map_or(0, |d| d.nseconds());
    let seq = header.offset();
    let out = if fragment_start || init.is_some() {
        let out = match take_fragment(h) {
            Some(out) => {
                h.buffers.extend(init);
                Some(out)
            }
            None => init.map(|i| vec![i]),
        };
        // The copies of fragments before the one just handed over are in the playlist.
        if let Some(prev) = h.file.as_ref().map(|(s, _)| *s) {
            for old in prev.saturating_sub(2)..prev {
                let _ = std::fs::remove_file(dir.join(in_progress_name(old)));
            }
        }
        h.file = std::fs::File::create(dir.join(in_progress_name(seq)))
            .map_err(|e| tracing::debug!("archive in-progress file: {e}"))
            .ok()
            .map(|f| (seq, f));
        out
    } else {
        None
    };
    if let Some((_, f)) = &mut h.file {
        use std::io::Write;
        for b in &buffers {
            if let Ok(m) = b.map_readable()
                && f.write_all(&m).is_err()
            {
                h.file = None;
                break;
            }
        }
    }
    h.duration += duration;
    h.buffers.extend(buffers);
    out.map(|b| b.into_iter().collect())
}

/// The held fragment as the sink takes a segment: its first chunk header (after an
/// init segment) carries the whole fragment's duration.
fn take_fragment(h: &mut Held) -> Option<Vec<gst::Buffer>> {
    let mut buffers = std::mem::take(&mut h.buffers);
    let duration = std::mem::take(&mut h.duration);
    if buffers.is_empty() {
        return None;
    }
    if let Some(at) = buffers
        .iter()
        .position(|b| !b.flags().contains(gst::BufferFlags::DISCONT))
    {
        buffers[at]
            .make_mut()
            .set_duration(gst::ClockTime::from_nseconds(duration));
    }
    Some(buffers)
}
