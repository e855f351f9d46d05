// User management (admin): every account with its role, language and state,
// changed in place; new accounts by form. Refusals (the last admin, a short
// password) are shown in the server's words.
import { el, t } from './common.js';
import { getJson, send } from './staff.js';

const body = document.getElementById('users');
const status = document.getElementById('status');
const done = document.getElementById('done');
const form = document.getElementById('new-user');
const roleOptions = document.getElementById('role-names').content;
const languageOptions = document.getElementById('new-language');

function say(ok, text) {
  status.textContent = ok ? '' : text;
  done.textContent = ok ? text : '';
}

async function change(user, update) {
  try {
    await send('PUT', `/api/users/${user.id}`, update);
    say(true, t('users_saved'));
  } catch (e) {
    say(false, e.message);
  }
  await refresh();
}

function row(user) {
  const role = el('select', { 'aria-label': `${t('users_role_of')} ${user.username}` });
  role.append(roleOptions.cloneNode(true));
  role.value = user.role;
  role.addEventListener('change', () => change(user, { role: role.value }));
  const language = el('select', { 'aria-label': `${languageOptions.labels[0]?.textContent ?? ''} ${user.username}` },
    [...languageOptions.options].map((o) => el('option', { value: o.value }, o.textContent)));
  language.value = user.language;
  language.addEventListener('change', () => change(user, { language: language.value }));
  return el('tr', { class: user.disabled ? 'offline' : null, 'data-user': user.username },
    el('th', { scope: 'row' }, user.username),
    el('td', {}, role),
    el('td', {}, language),
    el('td', {}, el('span', { class: 'where' }, user.disabled ? t('users_disabled') : t('users_active')),
      el('button', {
        type: 'button', class: 'secondary',
        'aria-label': `${user.disabled ? t('users_enable') : t('users_disable')}: ${user.username}`,
        onclick: () => change(user, { disabled: !user.disabled }),
      }, user.disabled ? t('users_enable') : t('users_disable'))));
}

async function refresh() {
  try {
    const users = await getJson('/api/users');
    body.replaceChildren(...users.map(row));
  } catch (e) {
    say(false, e.message);
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await send('POST', '/api/users', {
      username: form.username.value.trim(),
      password: form.password.value,
      role: form.role.value,
      language: form.language.value,
    });
    form.reset();
    say(true, t('users_created'));
  } catch (e) {
    say(false, e.message);
  }
  await refresh();
});

refresh();
