// Consumers (APISIX's consumers, Gravitee's applications — "Applications" in the
// portal): name, client type, groups, description; create, edit, delete with
// confirmation. An owner sees and makes only its own.

import { api, all, part } from './api.js';
import { h, put, field, table, heading, announce, redrawKeeping } from './dom.js';
import { formDialog, confirmDialog } from './dialog.js';

/** "a, b ,c" as ['a', 'b', 'c']. */
function groupsOf(text) {
  return text.split(',').map((g) => g.trim()).filter(Boolean);
}

/** The create or edit dialog; `consumer` is null to create. */
async function edit(consumer, noun) {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]+', value: consumer ? consumer.name : '', readonly: Boolean(consumer) });
  const clientType = h('input', { name: 'client_type', autocomplete: 'off', value: consumer ? consumer.client_type : '' });
  const groups = h('input', { name: 'groups', autocomplete: 'off', value: consumer ? consumer.groups.join(', ') : '' });
  const description = h('input', { name: 'description', autocomplete: 'off', value: consumer ? consumer.description || '' : '' });
  return formDialog({
    title: consumer ? `Edit ${noun} ${consumer.name}` : `New ${noun}`,
    fields: [
      field('Name', name, consumer ? null : 'Letters, digits, . _ and -.'),
      field('Client type', clientType, 'What “User Group Permission” expressions test (clientType); empty: the name.'),
      field('Groups', groups, 'Comma-separated; expressions test them as groups.NAME.'),
      field('Description', description),
    ],
    submit: consumer ? 'Save' : 'Create',
    onSubmit: () => {
      const body = {
        client_type: clientType.value.trim() || undefined,
        groups: groupsOf(groups.value),
        description: description.value.trim() || undefined,
      };
      if (consumer) return api('PATCH', `/consumers/${part(consumer.name)}`, body);
      return api('POST', '/consumers', { name: name.value.trim(), ...body });
    },
  });
}

/** Draws the screen. */
export async function render(main, { session }) {
  const noun = session.role === 'owner' ? 'application' : 'consumer';
  const title = session.role === 'owner' ? 'Applications' : 'Consumers';
  const [consumers, keys] = await Promise.all([all('/consumers'), all('/keys')]);
  const redraw = () => redrawKeeping(main, (section) => render(section, { session }));
  const count = (name) => keys.filter((k) => k.consumer === name && k.status !== 'revoked').length;
  const create = h('button', {
    type: 'button',
    class: 'primary',
    id: 'add-consumer',
    onclick: async () => {
      const made = await edit(null, noun);
      if (made) {
        announce(`${noun} ${made.name} created`);
        await redraw();
      }
    },
  }, `New ${noun}`);
  put(main, 
    heading(title),
    h('p', { class: 'lead' }, session.role === 'owner'
      ? 'Your applications: each holds the keys it calls APIs with, and its subscriptions.'
      : 'Who calls the APIs: each consumer holds keys; its client type and groups are what permission expressions test.'),
    session.role === 'publisher' ? null : h('p', {}, create),
    table(title, ['Name', 'Client type', 'Groups', 'Description', 'Keys', 'Actions'],
      consumers.map((consumer) => [
        h('a', { href: `#/usage/consumer/${encodeURIComponent(consumer.name)}`, 'aria-label': `Usage of ${consumer.name}` }, consumer.name),
        consumer.client_type,
        consumer.groups.length ? consumer.groups.join(', ') : '—',
        consumer.description || '—',
        h('a', { href: `#/keys` }, String(count(consumer.name))),
        consumer.origin === 'file' ? 'in the configuration file' : h('span', { class: 'buttons' },
          h('button', {
            type: 'button',
            class: 'secondary',
            id: `edit-${consumer.name}`,
            'aria-label': `Edit ${consumer.name}`,
            onclick: async () => {
              if (await edit(consumer, noun)) {
                announce(`${consumer.name} saved`);
                await redraw();
              }
            },
          }, 'Edit'),
          h('button', {
            type: 'button',
            class: 'danger',
            id: `delete-${consumer.name}`,
            'aria-label': `Delete ${consumer.name}`,
            onclick: async () => {
              const done = await confirmDialog({
                title: `Delete ${consumer.name}?`,
                text: `${consumer.name}, its keys and its subscriptions are deleted; calls with its keys are refused from now on.`,
                action: 'Delete',
                onConfirm: () => api('DELETE', `/consumers/${part(consumer.name)}?cascade=true`),
              });
              if (done) {
                announce(`${consumer.name} deleted`);
                await redraw();
              }
            },
          }, 'Delete')),
      ]), `No ${noun}s yet.`));
}
