// "Who can call this endpoint": for one route, the consumers and client types its
// authentication, allow expression and the service's plans let through, as keygate
// computes them from the state it serves — yes, no, or depends on request facts.

import { api, part } from './api.js';
import { h, put, table, heading } from './dom.js';

const VERDICT = {
  yes: 'yes, whatever the request',
  no: 'no',
  depends: 'depends on the request',
};

/** A verdict as a badge and its words. */
function verdict(value) {
  return h('span', { class: `badge verdict-${value}` }, VERDICT[value] || value);
}

/** What a `depends` key waits on: the facts and the parts of the expressions. */
function dependsOn(key) {
  if (key.verdict !== 'depends') return null;
  return h('div', { class: 'hint' },
    key.on && key.on.length ? ['on ', key.on.map((fact, i) => [i ? ', ' : '', h('code', {}, fact)])] : null,
    key.rest ? [': ', h('code', {}, key.rest)] : null);
}

/** Draws the route's callers in `main`. */
export async function render(main, { service, route }) {
  const answer = await api('GET', `/services/${part(service)}/routes/${part(route)}/callers`);
  put(main, 
    h('p', {}, h('a', { href: `#/services/${encodeURIComponent(service)}` }, `← Service ${service}`)),
    heading(`Who can call ${service} / ${route}`),
    h('p', { class: 'lead' }, 'Computed from the state the gateway serves now: the route’s authentication, its permission expression and the service’s plans and subscriptions.'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Authentication'), h('dd', {}, answer.auth),
      h('dt', {}, 'Permission (allow)'), h('dd', {}, answer.allow ? h('code', {}, answer.allow) : 'any valid key'),
      h('dt', {}, 'Plans'), h('dd', {}, answer.plans && answer.plans.length ? answer.plans.map((p) => (typeof p === 'string' ? p : p.name)).join(', ') : 'none'),
      h('dt', {}, 'Calls without a key'), h('dd', {}, verdict(answer.anonymous ? answer.anonymous.verdict : 'no')),
      h('dt', {}, 'Keys checked'), h('dd', {}, `${answer.keys_checked}${answer.truncated ? ' (more consumers than listed)' : ''}`)),
    h('h2', {}, 'Client types'),
    table(`Client types that can call ${route}`, ['Client type', 'Can call'],
      (answer.client_types || []).map((c) => [c.client_type, verdict(c.verdict)]), 'No client type can call it.'),
    h('h2', {}, 'Consumers'),
    table(`Consumers that can call ${route}`, ['Consumer', 'Client type', 'Can call', 'Keys'],
      (answer.consumers || []).map((c) => [
        c.name,
        c.client_type,
        verdict(c.verdict),
        h('ul', { class: 'plain' }, (c.keys || []).map((key) => h('li', {},
          h('code', {}, key.id), ' ', verdict(key.verdict),
          key.plans && key.plans.length ? h('span', { class: 'tag' }, `plans ${key.plans.join(', ')}`) : null,
          dependsOn(key)))),
      ]), 'No consumer can call it.'));
}
