// Subscriptions (Gravitee's): a consumer's subscription to a plan of a service, with the
// legal transitions — accept (optionally with a custom key), reject (optionally saying
// why: the application's owner reads it here), pause, resume, close — and the
// subscription's key, renewed or revoked here (a shared key by its application's owner
// only).

import { api, all, part } from './api.js';
import { h, put, field, table, heading, badge, announce, showError, redrawKeeping } from './dom.js';
import { formDialog, confirmDialog, showKey } from './dialog.js';
import { keyControls } from './keys.js';

/** The transitions each status allows, as [action, button text]. */
const ACTIONS = {
  pending: [['accept', 'Accept'], ['reject', 'Reject'], ['close', 'Close']],
  accepted: [['pause', 'Pause'], ['close', 'Close']],
  paused: [['resume', 'Resume'], ['close', 'Close']],
  rejected: [],
  closed: [],
};

/** Which actions a role may take (the API checks again). */
function allowed(session, action) {
  if (session.role === 'owner') return action === 'close';
  return true;
}

/** The keys a subscription is called with. */
function keysOf(subscription, keys) {
  return keys.filter((key) => key.consumer === subscription.consumer
    && (key.subscription === subscription.id || (subscription.key_mode === 'shared' && key.shared)));
}

/** Accepting, with an optional custom key for a subscription's own key: the key made
 *  when it was requested stops at once, and the answer holds the custom one, once. */
async function accept(subscription, keys) {
  const own = subscription.key_mode !== 'shared';
  const custom = h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', minlength: '8', maxlength: '64', disabled: !own });
  const made = keysOf(subscription, keys).some((key) => key.subscription === subscription.id && key.status !== 'revoked');
  return formDialog({
    title: `Accept subscription ${subscription.id}`,
    fields: [
      h('p', {}, `${subscription.consumer} may then call ${subscription.service} through plan ${subscription.plan}.`),
      field('Custom key (optional)', custom, own
        ? `${made ? 'Leave empty to keep the generated key the application received; a custom key replaces it at once.' : 'Leave empty to keep the subscription’s key as it is.'} 8 to 64 URL-safe characters, none of ^ # % @ \\ / ; = ? | ~ , or space.`
        : 'This subscription uses the application’s shared key, which only its owner renews: no custom key here.'),
    ],
    submit: 'Accept',
    onSubmit: () => {
      const value = custom.value.trim();
      return api('POST', `/subscriptions/${part(subscription.id)}/accept`, own && value ? { key: value } : undefined);
    },
  });
}

/** Rejecting, with an optional reason that the application's owner reads. */
function reject(subscription) {
  const reason = h('textarea', { name: 'reason', rows: '3', maxlength: '500', class: 'prose' });
  return formDialog({
    title: `Reject subscription ${subscription.id}?`,
    fields: [
      h('p', {}, `${subscription.consumer} is refused plan ${subscription.plan} of ${subscription.service}; this cannot be undone.`),
      field('Reason (optional)', reason, 'Shown to the application’s owner. Up to 500 characters.'),
    ],
    submit: 'Reject',
    danger: true,
    onSubmit: async () => {
      const text = reason.value.trim();
      await api('POST', `/subscriptions/${part(subscription.id)}/reject`, text ? { reason: text } : undefined);
      return true;
    },
  });
}

/** Runs `action` on the subscription, asking first where it cannot be undone. */
async function transition(subscription, action, keys, redraw) {
  if (action === 'accept') {
    const done = await accept(subscription, keys);
    if (!done) return;
    if (done.key && done.key.key) await showKey({ title: 'Subscription accepted with the custom key', key: done.key.key, note: 'Give this key to the application; keygate will not show it again.' });
    announce(`Subscription ${subscription.id} accepted`);
  } else if (action === 'reject') {
    if (!(await reject(subscription))) return;
    announce(`Subscription ${subscription.id} rejected`);
  } else if (action === 'close') {
    const done = await confirmDialog({
      title: `Close subscription ${subscription.id}?`,
      text: `${subscription.consumer} can no longer call ${subscription.service} through plan ${subscription.plan}; this cannot be undone.`,
      action: 'Close',
      onConfirm: () => api('POST', `/subscriptions/${part(subscription.id)}/close`),
    });
    if (!done) return;
    announce(`Subscription ${subscription.id} closed`);
  } else {
    try {
      await api('POST', `/subscriptions/${part(subscription.id)}/${action}`);
      announce(`Subscription ${subscription.id} ${action === 'pause' ? 'paused' : 'resumed'}`);
    } catch (error) {
      showError(error.message);
    }
  }
  await redraw();
}

/** A subscription's status, and the reason of a rejection when its publisher gave one. */
function status(subscription) {
  if (!subscription.reason) return badge(subscription.status);
  return [badge(subscription.status), h('p', { class: 'reason' }, h('strong', {}, 'Reason: '), subscription.reason)];
}

/** Draws the screen; `#/subscriptions/service/NAME` shows one service's. */
export async function render(main, { session, rest }) {
  const service = rest && rest[0] === 'service' ? rest[1] : null;
  const query = service ? `/subscriptions?service=${part(service)}` : '/subscriptions';
  const [subscriptions, keys] = await Promise.all([all(query), all('/keys')]);
  const redraw = () => redrawKeeping(main, (section) => render(section, { session, rest }));
  put(main, 
    heading(service ? `Subscriptions to ${service}` : 'Subscriptions'),
    h('p', { class: 'lead' }, session.role === 'owner'
      ? 'Your applications’ subscriptions to plans, and the keys they call with. A rejected request says why when its publisher did.'
      : 'Applications’ subscriptions to the plans of services: accept a request (with a custom key if you wish) or reject it (saying why); pause, resume or close a subscription; renew or revoke its keys.'),
    service ? h('p', {}, h('a', { href: '#/subscriptions' }, 'All subscriptions')) : null,
    table('Subscriptions', ['Subscription', 'Application', 'Service', 'Plan', 'Status', 'Key', 'Actions'],
      subscriptions.map((subscription) => {
        const subscriptionKeys = keysOf(subscription, keys);
        return [
          h('code', {}, subscription.id),
          subscription.consumer,
          subscription.service,
          subscription.plan,
          status(subscription),
          subscriptionKeys.length === 0 ? '—' : h('ul', { class: 'plain' }, subscriptionKeys.map((key) => h('li', {},
            h('code', {}, `${key.prefix || key.id}…`), ' ', badge(key.status),
            key.shared ? h('span', { class: 'tag' }, 'shared') : null, ' ',
            keyControls(key, session, redraw, `-${subscription.id}`)[1]))),
          h('span', { class: 'buttons' }, (ACTIONS[subscription.status] || [])
            .filter(([action]) => allowed(session, action))
            .map(([action, text]) => h('button', {
              type: 'button',
              class: action === 'accept' ? 'primary' : (action === 'reject' || action === 'close' ? 'danger' : 'secondary'),
              id: `${action}-${subscription.id}`,
              'aria-label': `${text} subscription ${subscription.id} of ${subscription.consumer}`,
              onclick: () => transition(subscription, action, keys, redraw),
            }, text))),
        ];
      }), 'No subscriptions yet.'));
}
