// Services and their routes (Mia-Platform's "Endpoints", Gravitee's APIs): each route's
// paths, methods, auth mode ("API Key required") and allow expression ("User Group
// Permission"), edited with the API's checked errors shown under the expression, at
// their position; and each service's plans.

import { api, apiText, all, part } from './api.js';
import { h, put, field, table, heading, announce, redrawKeeping } from './dom.js';
import { formDialog } from './dialog.js';
import * as callers from './callers.js';

const AUTH = {
  required: 'API key required',
  optional: 'optional (anonymous without a key)',
  none: 'none (open)',
};

/** A list as "a, b", or the `none` text. */
function listed(items, none = '—') {
  return items && items.length ? items.join(', ') : none;
}

/** The upstream's targets as text. */
function upstreamText(upstream) {
  if (!upstream) return '—';
  if (typeof upstream === 'string') return upstream;
  if (Array.isArray(upstream)) return upstream.join(', ');
  return listed(upstream.targets || (upstream.url ? [upstream.url] : []));
}

const MARK = '__keygate_allow_expression__';

/** The service body with `allow` of route `index` set to `expression`, written so that
 *  the expression's string starts line 2 of the body: the API reports an error in it at
 *  line `1 + its line in the expression`, column `1 + its column` on the first line and
 *  its column on the others (admin/services.rs checks the body as sent). */
function bodyWithAllow(service, index, expression) {
  const copy = structuredClone(service);
  delete copy.origin;
  if (expression) copy.routes[index].allow = MARK;
  else delete copy.routes[index].allow;
  return JSON.stringify(copy).replace(`"${MARK}"`, () => `\n${JSON.stringify(expression)}`);
}

/** Where the first error `LINE:COLUMN: in expression: …` of the API falls in
 *  `expression` (an index), or null when it is not in the expression. */
export function positionInExpression(message, expression) {
  const found = /^(\d+):(\d+): in expression: ([^\n]*)/.exec(message);
  if (!found || Number(found[1]) < 2) return null;
  const line = Number(found[1]) - 1;
  const column = line === 1 ? Number(found[2]) - 1 : Number(found[2]);
  const lines = expression.split('\n');
  if (line > lines.length) return null;
  let index = 0;
  for (let i = 0; i < line - 1; i += 1) index += lines[i].length + 1;
  index += Math.min(Math.max(column - 1, 0), lines[line - 1].length);
  return { index, message: found[3] };
}

/** The expression with a caret under `index` (its line only). */
function caret(expression, index) {
  const before = expression.slice(0, index);
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = expression.indexOf('\n', index);
  const line = expression.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  const row = before.split('\n').length;
  const column = index - lineStart + 1;
  return { text: `${line}\n${' '.repeat(index - lineStart)}^`, row, column };
}

/** The dialog editing one route's auth mode and allow expression. */
async function editRoute(service, index) {
  const route = service.routes[index];
  const auth = h('select', { name: 'auth' },
    Object.entries(AUTH).map(([value, label]) =>
      h('option', { value, selected: (route.auth || 'required') === value }, label)));
  const allow = h('textarea', { name: 'allow', rows: '3', spellcheck: 'false', autocomplete: 'off' });
  allow.value = route.allow || '';
  const where = h('pre', { class: 'position', hidden: true, 'aria-label': 'Where the error is' });
  return formDialog({
    title: `Route ${route.name} of ${service.name}`,
    fields: [
      field('Authentication', auth),
      field('User Group Permission (allow)', allow, 'An expression over clientType, groups, consumer, key, request…, such as clientType === \'A\' || clientType === \'B\'. Empty: any valid key.'),
      where,
    ],
    submit: 'Save',
    onSubmit: async () => {
      where.hidden = true;
      allow.removeAttribute('aria-invalid');
      const edited = structuredClone(service);
      edited.routes[index].auth = auth.value;
      const expression = allow.value.trim();
      const body = bodyWithAllow(edited, index, expression);
      const response = await fetchRaw('PUT', `/services/${part(service.name)}`, body);
      if (response.ok) return response.data;
      const position = positionInExpression(response.message, expression);
      if (!position) throw new Error(response.message);
      const shown = caret(expression, position.index);
      where.textContent = shown.text;
      where.hidden = false;
      allow.setAttribute('aria-invalid', 'true');
      allow.focus();
      allow.setSelectionRange(position.index, position.index + 1);
      throw new Error(`Line ${shown.row}, column ${shown.column}: ${position.message}`);
    },
  });
}

/** PUT with a body already written as text (api() writes its own). */
async function fetchRaw(method, path, text) {
  try {
    return { ok: true, data: await apiText(method, path, text) };
  } catch (error) {
    return { ok: false, message: error.message, status: error.status };
  }
}

/** One service: its routes and its plans. */
async function renderService(main, { session, name }) {
  const service = await api('GET', `/services/${part(name)}`);
  let plans = [];
  try {
    plans = (await api('GET', `/services/${part(name)}/plans`)).data;
  } catch {
    plans = [];
  }
  const redraw = () => redrawKeeping(main, (section) => renderService(section, { session, name }));
  const fromFile = service.origin === 'file';
  const routes = service.routes || [];
  put(main, 
    h('p', {}, h('a', { href: '#/services' }, '← All services')),
    heading(`Service ${service.name}`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Hosts'), h('dd', {}, listed(service.hosts, 'any')),
      h('dt', {}, 'Path prefix'), h('dd', {}, service.path_prefix || '—'),
      h('dt', {}, 'Upstream'), h('dd', {}, upstreamText(service.upstream)),
      service.owner ? [h('dt', {}, 'Owner'), h('dd', {}, service.owner)] : null,
      h('dt', {}, 'Defined in'), h('dd', {}, fromFile ? 'the configuration file (read-only here)' : 'the admin API')),
    h('h2', {}, 'Routes'),
    table(`Routes of ${service.name}`,
      ['Route', 'Paths', 'Methods', 'Authentication', 'User Group Permission (allow)', 'Who can call', 'Edit'],
      routes.map((route, index) => [
        route.name,
        h('code', {}, listed(route.paths)),
        listed(route.methods, 'all'),
        AUTH[route.auth || 'required'],
        route.allow ? h('code', {}, route.allow) : 'any valid key',
        h('a', { href: `#/services/${encodeURIComponent(service.name)}/callers/${encodeURIComponent(route.name)}`, 'aria-label': `Who can call route ${route.name}` }, 'Who can call'),
        fromFile ? '—' : h('button', {
          type: 'button',
          class: 'secondary',
          id: `edit-${route.name}`,
          'aria-label': `Edit route ${route.name}`,
          onclick: async () => {
            if (await editRoute(service, index)) {
              announce(`Route ${route.name} saved`);
              await redraw();
            }
          },
        }, 'Edit'),
      ]), 'No routes.'),
    h('h2', {}, 'Plans'),
    table(`Plans of ${service.name}`,
      ['Plan', 'Selection rule', 'Approval', 'Description'],
      plans.map((plan) => [
        plan.name,
        plan.selection_rule ? h('code', {}, plan.selection_rule) : '—',
        plan.auto_approve === false ? 'by the publisher' : 'automatic',
        plan.description || '—',
      ]), 'No plans: any valid key may call its routes (as their allow expressions say).'),
    h('p', {}, h('a', { href: `#/subscriptions/service/${encodeURIComponent(service.name)}` }, `Subscriptions to ${service.name}`)));
}

/** Draws the list, or one service (`#/services/NAME`). */
export async function render(main, { session, rest }) {
  if (rest && rest[0] && rest[1] === 'callers') return callers.render(main, { service: rest[0], route: rest[2] });
  if (rest && rest[0]) return renderService(main, { session, name: rest[0] });
  const services = await all('/services');
  put(main, 
    heading('Services'),
    h('p', { class: 'lead' }, 'The APIs keygate stands in front of. Open one to see and edit its routes’ authentication and permission expressions, and its plans.'),
    table('Services', ['Service', 'Hosts', 'Path prefix', 'Upstream', 'Routes', 'Plans'],
      services.map((service) => [
        h('a', { href: `#/services/${encodeURIComponent(service.name)}` }, service.name),
        listed(service.hosts, 'any'),
        service.path_prefix || '—',
        upstreamText(service.upstream),
        String((service.routes || []).length),
        String((service.plans || []).length),
      ]), 'No services yet.'));
  return undefined;
}
