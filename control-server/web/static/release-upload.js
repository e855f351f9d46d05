// The upload form of the player-versions page: the binary and the fields
// `player-release sign` printed (pasting its JSON line fills them), sent as
// `POST /api/releases?version=&sha256=&signature=` with the binary as the
// body. The server is the one judge of an upload; its refusal is shown in
// the form, on the field it concerns.
import { t } from './common.js';
import { csrf } from './staff.js';

const filled = (key, values) => t(key).replace(/\{(\w+)\}/g, (m, k) => values[k] ?? m);
const FIELDS = ['version', 'sha256', 'signature'];

/**
 * XHR rather than fetch: fetch reports no upload progress, and a player
 * binary is tens of MiB. Rejects with the server's message and status.
 */
function post(values, binary, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/releases?${new URLSearchParams(values)}`);
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(Math.round((100 * e.loaded) / e.total));
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        resolve(body);
      } else {
        const error = new Error(body?.message ?? (xhr.statusText || String(xhr.status)));
        error.status = xhr.status;
        reject(error);
      }
    });
    // A refusal before the body was read (too large) can reach the browser
    // as a dropped connection rather than a response.
    xhr.addEventListener('error', () => reject(new Error(t('load_failed'))));
    xhr.send(binary);
  });
}

/** Parses the JSON line; null when it is not one of `player-release sign`. */
function parseLine(text) {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && FIELDS.some((k) => typeof parsed[k] === 'string')) return parsed;
  } catch { /* reported below */ }
  return null;
}

/** The form `form`; `uploaded(release)` is called after a release is stored. */
export function releaseUpload(form, { uploaded }) {
  const q = (id) => form.querySelector(`#${id}`);
  const file = q('release-file');
  const line = q('release-line');
  const fields = Object.fromEntries(FIELDS.map((k) => [k, q(`release-${k}`)]));
  const busy = q('upload-busy');
  const progress = q('upload-progress');
  const error = q('upload-error');
  const done = q('upload-done');
  const sendButton = q('upload-send');

  function clear() {
    error.textContent = '';
    done.textContent = '';
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  }

  function invalid(input, message) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    error.textContent = message;
  }

  /** Fills the fields from the line; false (and says so) when it does not parse. */
  function fromLine(report) {
    const text = line.value.trim();
    if (!text) return true;
    const parsed = parseLine(text);
    if (!parsed) {
      if (report) invalid(line, `${t('releases_bad_line')} ${text.slice(0, 80)}`);
      return false;
    }
    for (const k of FIELDS) if (typeof parsed[k] === 'string') fields[k].value = parsed[k];
    line.removeAttribute('aria-invalid');
    return true;
  }

  /** The field a refusal concerns, from its status and the API's words. */
  function concerned(status, message) {
    if (status === 413 || /SHA-256 is|empty/.test(message)) return file;
    if (/^signature/.test(message)) return fields.signature;
    if (/^sha256/.test(message)) return fields.sha256;
    if (status === 409 || /version/.test(message)) return fields.version;
    return null;
  }

  function setBusy(on) {
    form.setAttribute('aria-busy', String(on));
    sendButton.disabled = on;
    busy.hidden = !on;
    progress.value = 0;
    q('upload-busy-text').textContent = on ? t('releases_uploading') : '';
  }

  async function submit() {
    clear();
    if (!fromLine(true)) return;
    if (!file.files.length) {
      invalid(file, t('releases_need_file'));
      return;
    }
    const values = Object.fromEntries(FIELDS.map((k) => [k, fields[k].value.trim()]));
    const missing = FIELDS.find((k) => !values[k]);
    if (missing) {
      invalid(fields[missing], t('releases_need_fields'));
      return;
    }
    setBusy(true);
    try {
      const release = await post(values, file.files[0], (p) => { progress.value = p; });
      form.reset();
      done.textContent = filled('releases_uploaded', { version: release.version });
      uploaded(release);
    } catch (e) {
      const field = concerned(e.status, e.message);
      if (field) invalid(field, '');
      error.textContent = `${t('releases_refused')} ${e.message}`;
    } finally {
      setBusy(false);
    }
  }

  // Pasting fills the fields at once; a line that does not parse is named
  // when the field is left or the form sent, not while it is being typed.
  line.addEventListener('input', () => fromLine(false));
  line.addEventListener('change', () => { clear(); fromLine(true); });
  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
}
