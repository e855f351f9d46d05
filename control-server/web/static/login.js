// The login form: JSON to the API (the session cookie comes back), then on to
// where the user wanted to go.
import { t } from './common.js';

const form = document.getElementById('login');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  const body = { username: form.username.value.trim(), password: form.password.value };
  let response;
  try {
    response = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    error.textContent = `${t('login_failed')}: ${e.message}`;
    return;
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).message ?? message; } catch { /* not JSON */ }
    error.textContent = `${t('login_failed')}: ${message}`;
    form.password.value = '';
    form.password.focus();
    return;
  }
  const next = new URLSearchParams(location.search).get('next');
  // Only a path on this site: never an open redirect.
  location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/konsole');
});
