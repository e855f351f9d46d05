// The content library: uploads with progress (file picker or drag and drop),
// the assets with thumbnails, the items filtered by tag, and the announcement
// form with its live card preview.
import { el, formatDate, t } from './common.js';
import { csrf, getJson, role, send } from './staff.js';

const status = document.getElementById('status');
const done = document.getElementById('done');
const dropzone = document.getElementById('dropzone');
const picker = document.getElementById('files');
const uploads = document.getElementById('uploads');
const assetList = document.getElementById('assets');
const itemRows = document.getElementById('items');
const tagSelect = document.getElementById('tag');
const form = document.getElementById('announcement');
const imageSelect = document.getElementById('a-image');
const approvalSwitch = document.getElementById('approval-required');
const mayApprove = role === 'publisher' || role === 'admin';

function say(ok, text) {
  status.textContent = ok ? '' : text;
  done.textContent = ok ? text : '';
}

/** One file up, with a progress bar (fetch has no upload progress; XHR does). */
function upload(file) {
  const bar = el('progress', { max: 100, value: 0, 'aria-label': `${t('library_progress')}: ${file.name}` });
  const note = el('span', {}, t('library_uploading'));
  uploads.append(el('li', { 'data-file': file.name }, el('span', { class: 'file' }, file.name), bar, note));
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/assets?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        note.textContent = t('library_uploaded');
      } else {
        let message = xhr.statusText;
        try { message = JSON.parse(xhr.responseText).message ?? message; } catch { /* not JSON */ }
        note.textContent = `${t('library_failed')}: ${message}`;
        note.className = 'problem';
      }
      resolve();
    });
    xhr.addEventListener('error', () => {
      note.textContent = `${t('library_failed')}: ${t('load_failed')}`;
      note.className = 'problem';
      resolve();
    });
    xhr.send(file);
  });
}

async function uploadAll(files) {
  for (const file of files) await upload(file);
  await refresh();
}

picker.addEventListener('change', () => { uploadAll([...picker.files]); picker.value = ''; });
dropzone.addEventListener('dragover', (e) => { e.preventDefault(); dropzone.classList.add('over'); });
dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
dropzone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropzone.classList.remove('over');
  uploadAll([...e.dataTransfer.files]);
});

function validity(item) {
  if (!item.valid_from && !item.expires_at) return t('library_always');
  return [item.valid_from ? `${t('library_from')} ${formatDate(item.valid_from)}` : null,
    item.expires_at ? `${t('library_until')} ${formatDate(item.expires_at)}` : null].filter(Boolean).join(' ');
}

async function refresh() {
  try {
    const [assets, items, approvals, approval] = await Promise.all([
      getJson('/api/assets'), getJson('/api/items'), getJson('/api/items/approvals'), getJson('/api/content/approval'),
    ]);
    const approvalOf = new Map(approvals.map((a) => [a.item, a]));
    approvalSwitch.checked = approval.approval_required;
    approvalSwitch.disabled = role !== 'admin';
    assetList.replaceChildren(...assets.map((a) => el('li', { 'data-sha': a.sha256 },
      a.thumbnail ? el('img', { src: `/api/assets/${a.sha256}/thumbnail`, alt: `${t('library_thumb_of')} ${a.filename}`, loading: 'lazy' }) : null,
      el('span', { class: 'file' }, a.filename),
      el('span', { class: 'where' }, [a.mime, a.width ? `${a.width}×${a.height}` : null, `${Math.ceil(a.size / 1024)} KiB`].filter(Boolean).join(' · ')))));
    const chosen = imageSelect.value;
    imageSelect.replaceChildren(imageSelect.options[0],
      ...assets.filter((a) => a.mime.startsWith('image/')).map((a) => el('option', { value: a.sha256 }, a.filename)));
    imageSelect.value = [...imageSelect.options].some((o) => o.value === chosen) ? chosen : '';
    imageSelect.assets = assets;
    const tags = [...new Set(items.flatMap((i) => i.tags || []))].sort();
    const tag = tagSelect.value;
    tagSelect.replaceChildren(tagSelect.options[0], ...tags.map((x) => el('option', { value: x }, x)));
    tagSelect.value = tags.includes(tag) ? tag : '';
    const shown = items.filter((i) => !tagSelect.value || (i.tags || []).includes(tagSelect.value));
    itemRows.replaceChildren(...shown.map((i) => el('tr', { 'data-item': i.id },
      el('th', { scope: 'row' }, i.name),
      el('td', {}, i.content.type),
      el('td', {}, el('ul', { class: 'tags' }, (i.tags || []).map((x) => el('li', {}, x)))),
      el('td', {}, validity(i)),
      el('td', { class: 'approval' }, approvalCell(i, approvalOf.get(i.id), approval.approval_required)))));
    if (!shown.length) itemRows.append(el('tr', {}, el('td', { colspan: 5 }, t('library_no_items'))));
  } catch (e) {
    say(false, `${t('load_failed')} (${e.message})`);
  }
}

function approvalCell(item, a, required) {
  if (a?.approved) return `${t('library_approved')} ${a.approved_by}`;
  if (!required) return t('library_not_needed');
  return [el('span', { class: 'problem' }, t('library_waiting')), ' ',
    mayApprove ? el('button', {
      type: 'button', class: 'secondary', 'aria-label': `${t('library_approve')}: ${item.name}`,
      onclick: async () => {
        try {
          await send('POST', `/api/items/${item.id}/approve`);
          say(true, t('library_saved'));
        } catch (e) {
          say(false, e.message);
        }
        await refresh();
      },
    }, t('library_approve')) : null];
}

approvalSwitch.addEventListener('change', async () => {
  try {
    await send('PUT', '/api/content/approval', { approval_required: approvalSwitch.checked });
    say(true, approvalSwitch.checked ? t('library_approval_on') : t('library_approval_off'));
  } catch (e) {
    say(false, e.message);
  }
  await refresh();
});

// The card follows the form as it is typed.
function preview() {
  document.getElementById('card-title').textContent = form.title.value;
  document.getElementById('card-body').textContent = form.body.value;
  const img = document.getElementById('card-image');
  const sha = imageSelect.value;
  img.hidden = !sha;
  if (sha) img.src = `/api/assets/${sha}/thumbnail`;
}
form.addEventListener('input', preview);

/** A datetime-local value (the browser's local time) as RFC 3339, or nothing. */
function instant(value) {
  return value ? new Date(value).toISOString() : undefined;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const sha = imageSelect.value;
  const asset = imageSelect.assets?.find((a) => a.sha256 === sha)?.asset;
  const item = {
    name: form.name.value.trim(),
    duration_s: Number(form.duration_s.value),
    tags: form.tags.value.split(',').map((x) => x.trim()).filter(Boolean),
    valid_from: instant(form.valid_from.value),
    expires_at: instant(form.expires_at.value),
    content: { type: 'announcement', title: form.title.value.trim(), body: form.body.value.trim(), image: asset },
  };
  try {
    await send('POST', '/api/items', item);
    form.reset();
    preview();
    say(true, t('library_saved'));
  } catch (e) {
    say(false, e.message);
  }
  await refresh();
});

tagSelect.addEventListener('change', refresh);
refresh();
