// The sign-in screen: an account and its password, or an API token (the admin token or
// an account's scoped token). POST /v1/session sets the session cookie.

import { api } from './api.js';
import { h, put, field, heading } from './dom.js';

/** Draws the form in `main`; `signedIn(session)` is called once the API accepts it. */
export function render(main, { signedIn }) {
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
  const account = h('input', { name: 'account', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const token = h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });

  const submit = (body) => async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const session = await api('POST', '/session', body());
      signedIn(session);
    } catch (failure) {
      error.textContent = failure.status === 429
        ? `${failure.message} (too many attempts: wait and try again)`
        : failure.message;
    }
  };

  const withPassword = h('form', { class: 'card', 'aria-labelledby': 'with-password', onsubmit: submit(() => ({ account: account.value.trim(), password: password.value })) },
    h('h2', { id: 'with-password' }, 'With your account'),
    field('Account', account),
    field('Password', password),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  const withToken = h('form', { class: 'card', 'aria-labelledby': 'with-token', onsubmit: submit(() => ({ token: token.value.trim() })) },
    h('h2', { id: 'with-token' }, 'With a token'),
    field('API token', token, 'The admin token, or a token made for your account (kgtok_…).'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in with the token'));

  put(main, 
    heading('Sign in to keygate'),
    error,
    h('div', { class: 'cards' }, withPassword, withToken));
}
