// HLS into a <video> through Media Source Extensions, for the streams our
// broadcaster writes: a multivariant playlist with one video rendition (or a
// ladder) and one audio rendition, each fMP4/CMAF with an EXT-X-MAP init
// segment. Ours, small, served by our server: no CDN, no third-party player.
//
// The media timestamps are the broadcaster's running time (plus x264's offset),
// so the player shifts both tracks by the earlier first fragment's decode time:
// the recording starts at 0 and chapter times (seconds from the start) are
// positions on the timeline as they are.

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex']);

/** The first box of `type` inside `bytes` (searching the containers above). */
function findBox(view, type, start = 0, end = view.byteLength) {
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    const name = String.fromCharCode(
      view.getUint8(at + 4), view.getUint8(at + 5), view.getUint8(at + 6), view.getUint8(at + 7));
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header) return null;
    if (name === type) return { start: at + header, end: at + size };
    if (CONTAINERS.has(name)) {
      const inner = findBox(view, type, at + header, Math.min(at + size, end));
      if (inner) return inner;
    }
    at += size;
  }
  return null;
}

/** The media timescale of the (single) track in an init segment. */
function timescaleOf(init) {
  const view = new DataView(init);
  const mdhd = findBox(view, 'mdhd');
  if (!mdhd) return null;
  const version = view.getUint8(mdhd.start);
  return view.getUint32(mdhd.start + (version === 1 ? 20 : 12));
}

/** The base media decode time of a media segment's first fragment. */
function decodeTimeOf(segment) {
  const view = new DataView(segment);
  const tfdt = findBox(view, 'tfdt');
  if (!tfdt) return null;
  const version = view.getUint8(tfdt.start);
  return version === 1 ? Number(view.getBigUint64(tfdt.start + 4)) : view.getUint32(tfdt.start + 4);
}

function attributes(line) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(line))) out[m[1]] = m[2].replace(/^"|"$/g, '');
  return out;
}

/** A playlist's parts; URIs resolved against `base`. */
export function parsePlaylist(text, base) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '#EXTM3U') throw new Error(`${base}: not an HLS playlist`);
  const p = { variants: [], audio: null, map: null, segments: [], target: 1, endList: false };
  let sequence = 0;
  let duration = null;
  let start = 0;
  let streamInf = null;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      streamInf = attributes(line.slice(18));
    } else if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = attributes(line.slice(13));
      if (a.TYPE === 'AUDIO' && a.URI && (!p.audio || a.DEFAULT === 'YES')) p.audio = new URL(a.URI, base).href;
    } else if (line.startsWith('#EXT-X-MAP:')) {
      p.map = new URL(attributes(line.slice(11)).URI, base).href;
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      sequence = parseInt(line.slice(22), 10) || 0;
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      p.target = parseFloat(line.slice(22)) || 1;
    } else if (line.startsWith('#EXTINF:')) {
      duration = parseFloat(line.slice(8));
    } else if (line === '#EXT-X-ENDLIST') {
      p.endList = true;
    } else if (!line.startsWith('#')) {
      const uri = new URL(line, base).href;
      if (streamInf) {
        const [w, h] = (streamInf.RESOLUTION || '0x0').split('x').map(Number);
        p.variants.push({ uri, bandwidth: Number(streamInf.BANDWIDTH) || 0, width: w, height: h, codecs: streamInf.CODECS || '' });
        streamInf = null;
      } else if (duration !== null) {
        p.segments.push({ uri, seq: sequence, duration, start });
        start += duration;
        sequence += 1;
        duration = null;
      }
    }
  }
  return p;
}

async function fetchOk(url, as) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return as === 'text' ? response.text() : response.arrayBuffer();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function once(target, event) {
  return new Promise((resolve) => target.addEventListener(event, resolve, { once: true }));
}

/** Whether this browser can play our streams through MSE. */
export function mseSupported(videoCodec = 'avc1.640028') {
  return typeof MediaSource !== 'undefined'
    && MediaSource.isTypeSupported(`video/mp4; codecs="${videoCodec}"`)
    && MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"');
}

export class HlsPlayer {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} url the multivariant playlist
   * @param {{live?: boolean, startAt?: number, onError?: (e: Error) => void}} options
   */
  constructor(video, url, { live = false, startAt = 0, onError = () => {} } = {}) {
    this.video = video;
    this.url = new URL(url, location.href).href;
    this.live = live;
    this.startAt = startAt;
    this.onError = onError;
    this.stopped = false;
    this.offset = null;
    this.offsetKnown = null;
    this.tracks = [];
  }

  async start() {
    const master = parsePlaylist(await fetchOk(this.url, 'text'), this.url);
    const variant = this.pickVariant(master.variants);
    const videoUrl = variant ? variant.uri : this.url;
    const videoCodec = (variant?.codecs || '').split(',').map((c) => c.trim()).find((c) => c.startsWith('avc1')) || 'avc1.640028';
    if (!mseSupported(videoCodec)) {
      if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
        // Safari's own HLS (iPhones before ManagedMediaSource).
        this.video.src = this.url;
        if (this.startAt) this.video.addEventListener('loadedmetadata', () => { this.video.currentTime = this.startAt; }, { once: true });
        return;
      }
      throw new Error('no MSE and no native HLS');
    }
    this.mediaSource = new MediaSource();
    this.objectUrl = URL.createObjectURL(this.mediaSource);
    this.video.src = this.objectUrl;
    await once(this.mediaSource, 'sourceopen');
    let resolveOffset;
    this.offsetKnown = new Promise((resolve) => { resolveOffset = resolve; });
    this.resolveOffset = resolveOffset;
    this.tracks.push(this.track('video', videoUrl, `video/mp4; codecs="${videoCodec}"`));
    if (master.audio) this.tracks.push(this.track('audio', master.audio, 'audio/mp4; codecs="mp4a.40.2"'));
    if (!this.live) {
      this.video.addEventListener('seeking', () => this.seek(this.video.currentTime));
    }
    for (const track of this.tracks) this.pump(track).catch((e) => this.fail(e));
    await this.offsetKnown;
    this.positionAtStart().catch((e) => this.fail(e));
  }

  stop() {
    this.stopped = true;
    if (this.objectUrl) {
      this.video.removeAttribute('src');
      this.video.load();
      URL.revokeObjectURL(this.objectUrl);
    }
  }

  fail(error) {
    if (!this.stopped) this.onError(error);
  }

  /** The smallest rendition at least as tall as the video's box, else the largest. */
  pickVariant(variants) {
    if (!variants.length) return null;
    const want = (this.video.clientHeight || 360) * (window.devicePixelRatio || 1);
    const sorted = [...variants].sort((a, b) => a.height - b.height || a.bandwidth - b.bandwidth);
    return sorted.find((v) => v.height >= want) || sorted[sorted.length - 1];
  }

  track(kind, url, mime) {
    return { kind, url, buffer: this.mediaSource.addSourceBuffer(mime), next: null, playlist: null, done: false, timescale: null, first: null };
  }

  append(track, data) {
    return new Promise((resolve, reject) => {
      const sb = track.buffer;
      const done = () => { sb.removeEventListener('error', failed); resolve(); };
      const failed = () => { sb.removeEventListener('updateend', done); reject(new Error(`${track.kind}: append failed`)); };
      sb.addEventListener('updateend', done, { once: true });
      sb.addEventListener('error', failed, { once: true });
      try {
        sb.appendBuffer(data);
      } catch (e) {
        sb.removeEventListener('updateend', done);
        sb.removeEventListener('error', failed);
        reject(e);
      }
    });
  }

  async removeBehind(track, keep) {
    const sb = track.buffer;
    const until = this.video.currentTime - keep;
    if (sb.buffered.length && sb.buffered.start(0) < until) {
      await new Promise((resolve) => {
        sb.addEventListener('updateend', resolve, { once: true });
        sb.remove(0, until);
      });
    }
  }

  bufferedAhead(track) {
    const b = track.buffer.buffered;
    const t = this.video.currentTime;
    for (let i = 0; i < b.length; i += 1) if (b.start(i) <= t + 0.5 && b.end(i) > t) return b.end(i) - t;
    return 0;
  }

  /** The segment holding `time` (seconds from the recording's start). */
  segmentAt(playlist, time) {
    const segs = playlist.segments;
    return segs.find((s) => time < s.start + s.duration) || segs[segs.length - 1];
  }

  seek(time) {
    for (const track of this.tracks) {
      if (!track.playlist) continue;
      const b = track.buffer.buffered;
      let buffered = false;
      for (let i = 0; i < b.length; i += 1) if (b.start(i) <= time && time < b.end(i) - 0.2) buffered = true;
      if (!buffered) {
        track.next = this.segmentAt(track.playlist, time)?.seq ?? track.next;
        track.done = false;
      }
    }
  }

  async pump(track) {
    let failures = 0;
    while (!this.stopped) {
      try {
        const playlist = parsePlaylist(await fetchOk(track.url, 'text'), track.url);
        track.playlist = playlist;
        if (track.timescale === null) {
          const init = await fetchOk(playlist.map, 'buffer');
          track.timescale = timescaleOf(init);
          await this.append(track, init);
        }
        if (track.next === null) {
          const segs = playlist.segments;
          // Live: three segments behind the newest, the usual HLS distance.
          track.next = this.live ? segs[Math.max(0, segs.length - 3)]?.seq ?? null
            : this.segmentAt(playlist, this.startAt)?.seq ?? null;
        }
        for (const seg of playlist.segments) {
          if (this.stopped || track.next === null || seg.seq < track.next) continue;
          if (seg.seq > track.next) { track.next = seg.seq; }
          if (!this.live && this.bufferedAhead(track) > 30) break;
          const data = await fetchOk(seg.uri, 'buffer');
          if (track.first === null) {
            track.first = { time: (decodeTimeOf(data) ?? 0) / (track.timescale || 90000), start: seg.start };
            this.settleOffset();
          }
          await this.offsetKnown;
          if (track.buffer.timestampOffset !== this.offset) track.buffer.timestampOffset = this.offset;
          try {
            await this.append(track, data);
          } catch (e) {
            if (e.name !== 'QuotaExceededError') throw e;
            await this.removeBehind(track, 10);
            await this.append(track, data);
          }
          if (track.next !== seg.seq) break; // a seek moved the track meanwhile
          track.next = seg.seq + 1;
          if (this.live) await this.removeBehind(track, 30);
        }
        failures = 0;
        const last = playlist.segments[playlist.segments.length - 1];
        if (playlist.endList && last && track.next > last.seq) {
          track.done = true;
          this.maybeEnd();
        }
        await sleep(this.live ? playlist.target * 500 : 250);
      } catch (e) {
        failures += 1;
        if (failures === 3) this.fail(e);
        await sleep(Math.min(5000, 500 * 2 ** failures));
      }
    }
  }

  /**
   * One shift for both tracks (they share the broadcaster's clock), chosen once
   * each has its first fragment: the earlier of the two lands on the segment's
   * place in the recording (live: on 0). No frame gets a negative time, which
   * browsers refuse.
   */
  settleOffset() {
    if (this.offset !== null || this.tracks.some((t) => t.first === null)) return;
    const earliest = Math.min(...this.tracks.map((t) => t.first.time));
    const place = this.live ? 0 : this.tracks[0].first.start;
    this.offset = place - earliest;
    this.resolveOffset();
  }

  maybeEnd() {
    if (this.tracks.every((t) => t.done) && this.mediaSource.readyState === 'open'
        && this.tracks.every((t) => !t.buffer.updating)) {
      try { this.mediaSource.endOfStream(); } catch { /* a seek reopened it */ }
    }
  }

  /** Once both tracks have data: the start position (live: the newest but a little). */
  async positionAtStart() {
    for (;;) {
      if (this.stopped) return;
      const starts = this.tracks.map((t) => (t.buffer.buffered.length ? t.buffer.buffered.start(0) : null));
      if (starts.every((s) => s !== null)) {
        const from = Math.max(...starts);
        this.video.currentTime = this.live ? from + 0.05 : Math.max(from, this.startAt);
        if (this.live) this.keepNearLiveEdge();
        return;
      }
      await sleep(100);
    }
  }

  /** After a pause or a stall, a live viewer comes back to the present. */
  keepNearLiveEdge() {
    this.video.addEventListener('play', () => {
      const b = this.video.buffered;
      if (b.length && b.end(b.length - 1) - this.video.currentTime > 8) {
        this.video.currentTime = b.end(b.length - 1) - 3;
      }
    });
  }
}
