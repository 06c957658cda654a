// The developer portal's catalogue (Gravitee's): the services and plans published to the
// portal, and "Subscribe" — one of your applications, own or shared key, an optional
// custom key; the key is shown once.

import { api, all, part } from './api.js';
import { h, put, field, heading, announce, newId } from './dom.js';
import { formDialog, showKey } from './dialog.js';

/** The subscribe dialog for `plan` of `service`. */
async function subscribe(service, plan, applications) {
  const application = h('select', { name: 'consumer', required: true },
    applications.map((a) => h('option', { value: a.name }, a.name)));
  const own = h('input', { type: 'radio', name: 'key_mode', value: 'own', id: newId('own'), checked: true });
  const shared = h('input', { type: 'radio', name: 'key_mode', value: 'shared', id: newId('shared') });
  const custom = h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', minlength: '8', maxlength: '64' });
  return formDialog({
    title: `Subscribe to ${service.name}: plan ${plan.name}`,
    fields: [
      plan.description ? h('p', {}, plan.description) : null,
      field('Application', application),
      h('fieldset', {},
        h('legend', {}, 'API key'),
        h('div', { class: 'field check' }, own, h('label', { for: own.id }, 'A key for this subscription')),
        h('div', { class: 'field check' }, shared, h('label', { for: shared.id }, 'The application’s shared key (one key across services)'))),
      field('Custom key (optional)', custom, 'Leave empty to generate one. 8 to 64 URL-safe characters, none of ^ # % @ \\ / ; = ? | ~ , or space.'),
    ],
    submit: 'Subscribe',
    onSubmit: () => api('POST', '/subscriptions', {
      consumer: application.value,
      service: service.name,
      plan: plan.name,
      key_mode: shared.checked ? 'shared' : 'own',
      key: custom.value.trim() || undefined,
    }),
  });
}

/** Draws the screen. */
export async function render(main, { session }) {
  const [services, applications] = await Promise.all([all('/services'), all('/consumers')]);
  const withPlans = await Promise.all(services.map(async (service) => {
    try {
      return { service, plans: (await api('GET', `/services/${part(service.name)}/plans`)).data };
    } catch {
      return { service, plans: [] };
    }
  }));
  // Owners are shown the published services only (by the API); the others see here
  // what owners see.
  const offered = withPlans.filter(({ service, plans }) => service.published === true && plans.length > 0);
  put(main, 
    heading('Catalogue'),
    h('p', { class: 'lead' }, 'The APIs published to this portal and their plans. Subscribe one of your applications to a plan to receive its key.'),
    applications.length === 0 && session.role === 'owner'
      ? h('p', {}, 'You have no application yet: ', h('a', { href: '#/consumers' }, 'create one'), ' first.')
      : null,
    offered.length === 0 ? h('p', { class: 'empty' }, 'No API is published yet.') : null,
    h('div', { class: 'cards' }, offered.map(({ service, plans }) => h('section', { class: 'card', 'aria-labelledby': `api-${service.name}` },
      h('h2', { id: `api-${service.name}` }, service.name),
      service.description ? h('p', {}, service.description) : null,
      h('p', { class: 'hint' }, `Base path ${service.path_prefix || '/'}`),
      h('ul', { class: 'plain' }, plans.map((plan) => h('li', {},
        h('strong', {}, plan.name),
        plan.auto_approve === false ? ' (needs approval) ' : ' ',
        h('button', {
          type: 'button',
          class: 'primary',
          id: `subscribe-${service.name}-${plan.name}`,
          'aria-label': `Subscribe to ${service.name}, plan ${plan.name}`,
          disabled: applications.length === 0,
          onclick: async () => {
            const made = await subscribe(service, plan, applications);
            if (!made) return;
            if (made.key && made.key.key) {
              await showKey({
                title: made.status === 'pending' ? 'Subscription requested' : 'Subscribed',
                key: made.key.key,
                note: made.status === 'pending'
                  ? 'Copy the key now: it works once the publisher accepts the subscription. keygate will not show it again.'
                  : undefined,
              });
            }
            announce(`Subscription ${made.id} ${made.status}`);
          },
        }, 'Subscribe'))))))));
}
