// Shared by the pages' scripts. Everything a script shows goes into the DOM
// through `el` (textContent and attributes), never as HTML: that is the escaping.

/** The page's texts for scripts, chosen by the server in the page's language. */
export const texts = JSON.parse(document.getElementById('texts')?.textContent || '{}');
export const lang = document.documentElement.lang || 'de';

export function t(key) {
  return texts[key] ?? key;
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** GET a JSON resource; throws an Error naming the URL and the server's message. */
export async function getJson(url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).message ?? message; } catch { /* not JSON */ }
    const error = new Error(`${url}: ${response.status} ${message}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

const dateFormat = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'de-DE', {
  weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
  hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Berlin',
});

export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFormat.format(d);
}

/** 3725 → "1:02:05" (for chapters and durations). */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * Keyboard controls for a video, as media sites have them: space/K play-pause,
 * M mute, F full screen, arrows seek 5 s (not while typing in a field).
 */
export function keyboardControls(video) {
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target instanceof HTMLElement && target.closest('input, textarea, select, button, a, summary')) return;
    switch (event.key) {
      case ' ': case 'k': case 'K':
        if (video.paused) video.play().catch(() => {}); else video.pause();
        break;
      case 'm': case 'M':
        video.muted = !video.muted;
        break;
      case 'f': case 'F':
        if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
        else video.requestFullscreen?.().catch(() => {});
        break;
      case 'ArrowLeft':
        video.currentTime = Math.max(0, video.currentTime - 5);
        break;
      case 'ArrowRight':
        video.currentTime += 5;
        break;
      default:
        return;
    }
    event.preventDefault();
  });
}
