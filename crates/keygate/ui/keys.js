// API keys (Mia-Platform's "API Key" screen, Gravitee's keys): list, "Add new" (a
// generated or custom key, the consumer and its client type, Active, description,
// expiry; the key shown once), Active on or off, renew with a grace period, revoke.

import { api, all, part } from './api.js';
import { h, put, field, checkbox, table, when, heading, badge, announce, showError, newId, redrawKeeping } from './dom.js';
import { formDialog, confirmDialog, showKey } from './dialog.js';

/** `datetime-local` text as RFC 3339 (UTC), or undefined when empty. */
export function expiry(text) {
  if (!text) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new Error(`${text} is not a date and time`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a key is called on buttons: its prefix, else its id. */
function named(key) {
  return key.prefix ? `${key.prefix}…` : key.id;
}

/** The renew dialog; shows the new key once. */
export async function renew(key, onDone) {
  const grace = h('select', { name: 'grace' },
    h('option', { value: '0s' }, 'none: the old key stops now'),
    h('option', { value: '5m' }, '5 minutes'),
    h('option', { value: '1h' }, '1 hour'),
    h('option', { value: '2h', selected: true }, '2 hours'),
    h('option', { value: '24h' }, '24 hours'),
    h('option', { value: '168h' }, '7 days'));
  const custom = h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', minlength: '8', maxlength: '64' });
  const renewed = await formDialog({
    title: `Renew key ${named(key)}`,
    fields: [
      h('p', {}, 'A new key is made for the same consumer; the old one keeps working for the grace period, then expires.'),
      field('Grace period of the old key', grace),
      field('Custom key (optional)', custom, 'Leave empty to generate one. 8 to 64 URL-safe characters, none of ^ # % @ \\ / ; = ? | ~ , or space.'),
    ],
    submit: 'Renew',
    onSubmit: () => api('POST', `/keys/${part(key.id)}/renew`, {
      grace: grace.value,
      key: custom.value.trim() || undefined,
    }),
  });
  if (renewed) {
    await showKey({ title: 'Key renewed', key: renewed.key });
    announce(`Key ${named(key)} renewed`);
    await onDone();
  }
}

/** The revoke confirmation. */
export async function revoke(key, onDone) {
  const done = await confirmDialog({
    title: `Revoke key ${named(key)}?`,
    text: `Key ${named(key)} of ${key.consumer} stops working at once, and cannot be made active again.`,
    action: 'Revoke',
    onConfirm: () => api('POST', `/keys/${part(key.id)}/revoke`),
  });
  if (done) {
    announce(`Key ${named(key)} revoked`);
    await onDone();
  }
}

/** Turns a key's Active on or off. */
async function setActive(key, active, onDone) {
  try {
    await api('PATCH', `/keys/${part(key.id)}`, { active });
    announce(`Key ${named(key)} ${active ? 'enabled' : 'disabled'}`);
  } catch (error) {
    showError(error.message);
  }
  await onDone();
}

/** The cells a key's row ends with: Active, and the Renew and Revoke buttons (or why
 *  not). Shared keys are renewed and revoked by their application's owner only. */
export function keyControls(key, session, onDone, scope = '') {
  const live = key.status === 'active' || key.status === 'disabled';
  const active = h('input', {
    type: 'checkbox',
    id: `active-${key.id}${scope}`,
    checked: key.active,
    disabled: !live,
    onchange: (event) => setActive(key, event.target.checked, onDone),
  });
  const activeCell = h('span', { class: 'check-cell' }, active,
    h('label', { for: active.id, class: 'visually-hidden' }, `Active: key ${named(key)}`));
  let actions;
  if (!live) {
    actions = '—';
  } else if (key.shared && session.role === 'publisher') {
    actions = h('span', { class: 'hint' }, 'Shared key: only its application’s owner can renew or revoke it.');
  } else {
    actions = h('span', { class: 'buttons' },
      h('button', { type: 'button', class: 'secondary', id: `renew-${key.id}${scope}`, 'aria-label': `Renew key ${named(key)}`, onclick: () => renew(key, onDone) }, 'Renew'),
      h('button', { type: 'button', class: 'danger', id: `revoke-${key.id}${scope}`, 'aria-label': `Revoke key ${named(key)}`, onclick: () => revoke(key, onDone) }, 'Revoke'));
  }
  return [activeCell, actions];
}

/** A table of keys. */
export function keysTable(caption, keys, consumers, session, onDone) {
  const typeOf = new Map(consumers.map((c) => [c.name, c.client_type]));
  return table(caption,
    ['Key', 'Consumer', 'Client type', 'Status', 'Description', 'Expires', 'Last used', 'Active', 'Actions'],
    keys.map((key) => [
      h('a', { href: `#/usage/key/${encodeURIComponent(key.id)}`, 'aria-label': `Usage of key ${named(key)}` }, h('code', {}, named(key))),
      key.consumer,
      typeOf.get(key.consumer) || '—',
      [badge(key.status), key.shared ? h('span', { class: 'tag' }, 'shared') : null,
        key.subscription ? h('span', { class: 'tag' }, `subscription ${key.subscription}`) : null],
      key.description || '—',
      when(key.expires_at),
      when(key.last_used_at),
      ...keyControls(key, session, onDone),
    ]), 'No keys yet.');
}

/** The "Add new" dialog (Mia-Platform's): resolves with the created key, or null. */
async function addKey(consumers) {
  const listId = newId('consumers');
  const generate = h('input', { type: 'radio', name: 'kind', value: 'generate', id: newId('generate'), checked: true });
  const custom = h('input', { type: 'radio', name: 'kind', value: 'custom', id: newId('custom') });
  const value = h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', disabled: true, minlength: '8', maxlength: '64' });
  const toggle = () => {
    value.disabled = !custom.checked;
    if (custom.checked) value.focus();
  };
  generate.addEventListener('change', toggle);
  custom.addEventListener('change', toggle);
  const consumer = h('input', { name: 'consumer', list: listId, required: true, autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]+' });
  const clientType = h('input', { name: 'client_type', autocomplete: 'off' });
  // An existing consumer's client type shows as the placeholder: left empty, it stays.
  consumer.addEventListener('input', () => {
    const known = consumers.find((c) => c.name === consumer.value.trim());
    clientType.placeholder = known ? known.client_type : '';
  });
  const active = checkbox('Active', { name: 'active' });
  const description = h('input', { name: 'description', autocomplete: 'off' });
  const expires = h('input', { name: 'expires_at', type: 'datetime-local' });
  return formDialog({
    title: 'Add new API key',
    fields: [
      h('fieldset', {},
        h('legend', {}, 'Key'),
        h('div', { class: 'field check' }, generate, h('label', { for: generate.id }, 'Generate (a random kg_… key)')),
        h('div', { class: 'field check' }, custom, h('label', { for: custom.id }, 'Custom value')),
        field('Custom key', value, '8 to 64 URL-safe characters, none of ^ # % @ \\ / ; = ? | ~ , or space; not starting with kg_.')),
      field('Consumer', consumer, 'An existing consumer, or a new name (letters, digits, . _ -): it is created.'),
      h('datalist', { id: listId }, consumers.map((c) => h('option', { value: c.name }))),
      field('Client type', clientType, 'The consumer’s client type, what “User Group Permission” expressions test (clientType === \'A\'). Left empty, a new consumer’s is its name and an existing one’s stays; changing it changes it for all its keys.'),
      active,
      field('Description', description),
      field('Expires (optional)', expires),
    ],
    submit: 'Create',
    onSubmit: async () => {
      const name = consumer.value.trim();
      const type = clientType.value.trim();
      if (!name) throw new Error('Consumer: a name is needed.');
      if (custom.checked && !value.value.trim()) throw new Error('Custom key: enter the key, or choose Generate.');
      const known = consumers.find((c) => c.name === name);
      if (!known) {
        await api('POST', '/consumers', { name, client_type: type || undefined });
      } else if (type && type !== known.client_type) {
        await api('PATCH', `/consumers/${part(name)}`, { client_type: type });
      }
      return api('POST', `/consumers/${part(name)}/keys`, {
        key: custom.checked ? value.value.trim() : undefined,
        active: active.querySelector('input').checked,
        description: description.value.trim() || undefined,
        expires_at: expiry(expires.value),
      });
    },
  });
}

/** Draws the screen. */
export async function render(main, { session }) {
  const [keys, consumers] = await Promise.all([all('/keys'), all('/consumers')]);
  const redraw = () => redrawKeeping(main, (section) => render(section, { session }));
  const add = h('button', {
    type: 'button',
    class: 'primary',
    id: 'add-key',
    onclick: async () => {
      const created = await addKey(consumers);
      if (created) {
        await showKey({ title: 'API key created', key: created.key });
        announce(`Key ${named(created)} created for ${created.consumer}`);
        await redraw();
      }
    },
  }, 'Add new');
  put(main, 
    heading('API keys'),
    h('p', { class: 'lead' }, 'Each key belongs to a consumer; calls through the gateway carry it in the apikey, client-key or secret header (or the mia_client_key cookie).'),
    session.role === 'publisher' ? null : h('p', {}, add),
    keysTable('API keys', keys, consumers, session, redraw));
}
