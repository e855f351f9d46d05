// Shared by the staff console's pages: the session's CSRF token (rendered into
// the page by the server) on every request that changes something, and logout.
import { getJson } from './common.js';

const session = document.getElementById('session');
export const csrf = session?.dataset.csrf ?? '';
export const role = session?.dataset.role ?? '';

/** A state-changing API call; throws with the server's message. */
export async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).message ?? message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response.json().catch(() => null);
}

export { getJson };

document.getElementById('logout')?.addEventListener('click', async () => {
  try { await send('POST', '/api/auth/logout'); } finally { location.assign('/konsole/anmelden'); }
});

// The console's language is the user's own setting: switching stores it.
document.getElementById('console-lang')?.addEventListener('click', async (event) => {
  try {
    await send('PUT', '/api/me', { language: event.currentTarget.dataset.lang });
    location.reload();
  } catch (e) {
    document.getElementById('status')?.replaceChildren(e.message);
  }
});
