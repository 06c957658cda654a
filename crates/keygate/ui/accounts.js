// Accounts (admins only): people who sign in — name, role (admin, publisher, owner),
// password, disabled — and their scoped API tokens (kgtok_…, shown once); and the audit
// log of who changed what.

import { api, all, part } from './api.js';
import { h, put, field, table, heading, when, announce, showError, redrawKeeping } from './dom.js';
import { formDialog, confirmDialog, showKey } from './dialog.js';

const ROLES = {
  admin: 'admin — everything',
  publisher: 'publisher — its services, their plans and subscriptions',
  owner: 'owner — its applications and their keys; the portal',
};

async function newAccount() {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, Object.entries(ROLES).map(([value, text]) => h('option', { value, selected: value === 'owner' }, text)));
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password' });
  return formDialog({
    title: 'New account',
    fields: [field('Name', name), field('Role', role), field('Password', password, 'Optional: an account without one signs in with its tokens only.')],
    submit: 'Create',
    onSubmit: () => api('POST', '/accounts', { name: name.value.trim(), role: role.value, password: password.value || undefined }),
  });
}

async function setPassword(account) {
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true });
  return formDialog({
    title: `Password of ${account.name}`,
    fields: [field('New password', password)],
    submit: 'Save',
    onSubmit: () => api('PATCH', `/accounts/${part(account.name)}`, { password: password.value }),
  });
}

async function newToken(account) {
  const description = h('input', { name: 'description', autocomplete: 'off' });
  const made = await formDialog({
    title: `New token for ${account.name}`,
    fields: [field('Description', description, `The token acts as ${account.name}, with its role.`)],
    submit: 'Create',
    onSubmit: () => api('POST', `/accounts/${part(account.name)}/tokens`, { description: description.value.trim() || undefined }),
  });
  if (made) await showKey({ title: 'Token created', key: made.token, note: 'Copy the token now: keygate stores only its hash and will not show it again.' });
  return made;
}

/** Draws the screen. */
export async function render(main, { session }) {
  const [accounts, tokens, audit] = await Promise.all([
    all('/accounts'),
    all('/tokens'),
    api('GET', '/audit?limit=20').catch(() => ({ data: [] })),
  ]);
  const redraw = () => redrawKeeping(main, (section) => render(section, { session }));
  const after = (text) => async (done) => {
    if (done) {
      announce(text);
      await redraw();
    }
  };
  put(main, 
    heading('Accounts'),
    h('p', { class: 'lead' }, 'The people who sign in, their roles and their API tokens.'),
    h('p', {}, h('button', { type: 'button', class: 'primary', id: 'add-account', onclick: async () => after('Account created')(await newAccount()) }, 'New account')),
    table('Accounts', ['Account', 'Role', 'Password', 'Disabled', 'Created', 'Actions'],
      accounts.map((account) => [
        account.name,
        account.role,
        account.has_password ? 'set' : 'none',
        h('span', { class: 'check-cell' },
          h('input', {
            type: 'checkbox',
            id: `disabled-${account.name}`,
            checked: account.disabled,
            onchange: async (event) => {
              try {
                await api('PATCH', `/accounts/${part(account.name)}`, { disabled: event.target.checked });
                announce(`${account.name} ${event.target.checked ? 'disabled' : 'enabled'}`);
              } catch (error) {
                showError(error.message);
              }
              await redraw();
            },
          }),
          h('label', { for: `disabled-${account.name}`, class: 'visually-hidden' }, `Disabled: ${account.name}`)),
        when(account.created_at),
        h('span', { class: 'buttons' },
          h('button', { type: 'button', class: 'secondary', id: `password-${account.name}`, 'aria-label': `Set the password of ${account.name}`, onclick: async () => after('Password saved')(await setPassword(account)) }, 'Password'),
          h('button', { type: 'button', class: 'secondary', id: `token-${account.name}`, 'aria-label': `New token for ${account.name}`, onclick: async () => after('Token created')(await newToken(account)) }, 'New token'),
          h('button', {
            type: 'button',
            class: 'danger',
            id: `delete-${account.name}`,
            'aria-label': `Delete account ${account.name}`,
            onclick: async () => after(`${account.name} deleted`)(await confirmDialog({
              title: `Delete account ${account.name}?`,
              text: `${account.name} can no longer sign in, and its tokens stop working.`,
              action: 'Delete',
              onConfirm: () => api('DELETE', `/accounts/${part(account.name)}`),
            })),
          }, 'Delete')),
      ]), 'No accounts yet: the admin token is the only way in.'),
    h('h2', {}, 'API tokens'),
    table('API tokens', ['Token', 'Account', 'Description', 'Created', 'Expires', 'Revoked', 'Actions'],
      tokens.map((token) => [
        h('code', {}, `${token.prefix}…`),
        token.account,
        token.description || '—',
        when(token.created_at),
        when(token.expires_at),
        when(token.revoked_at),
        token.revoked_at ? '—' : h('button', {
          type: 'button',
          class: 'danger',
          id: `revoke-token-${token.id}`,
          'aria-label': `Revoke token ${token.prefix}… of ${token.account}`,
          onclick: async () => after('Token revoked')(await confirmDialog({
            title: `Revoke token ${token.prefix}…?`,
            text: `The token of ${token.account} stops working at once.`,
            action: 'Revoke',
            onConfirm: () => api('POST', `/tokens/${part(token.id)}/revoke`),
          })),
        }, 'Revoke'),
      ]), 'No tokens.'),
    h('h2', {}, 'Audit log (latest)'),
    table('Audit log', ['When', 'Who', 'Action', 'Entity'],
      (audit.data || []).map((entry) => [
        when(entry.at),
        entry.actor,
        entry.action,
        `${entry.entity_kind} ${entry.entity}`,
      ]), 'Nothing recorded yet.'));
}
