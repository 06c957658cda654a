// Usage: the calls the gateway counted per hour (the last day) or per day (the last
// week), for everything, one consumer or one key — let through, and refused by reason —
// as a bar chart drawn here in SVG, and the same figures as a table.

import { api, all, part } from './api.js';
import { h, put, field, table, heading } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element. */
function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** The buckets of the period, oldest first: [{start, allowed, refused: {reason: n}}]. */
function buckets(data, granularity, since, count) {
  const step = granularity === 'hour' ? 3600e3 : 86400e3;
  const first = Math.floor(since.getTime() / step) * step;
  const slots = Array.from({ length: count }, (_, i) => ({ start: new Date(first + i * step), allowed: 0, refused: {} }));
  for (const row of data) {
    const index = Math.round((new Date(row.start).getTime() - first) / step);
    const slot = slots[index];
    if (!slot) continue;
    slot.allowed += row.allowed;
    for (const [reason, n] of Object.entries(row.refused || {})) {
      slot.refused[reason] = (slot.refused[reason] || 0) + n;
    }
  }
  return slots;
}

const refusedOf = (slot) => Object.values(slot.refused).reduce((a, b) => a + b, 0);

/** The bar chart: allowed (below) and refused (above) per bucket. */
function chart(slots, granularity, title) {
  const width = 720;
  const height = 220;
  const left = 44;
  const bottom = 28;
  const top = 10;
  const most = Math.max(1, ...slots.map((slot) => slot.allowed + refusedOf(slot)));
  const band = (width - left - 8) / slots.length;
  const y = (n) => top + (height - top - bottom) * (1 - n / most);
  const label = (date) => (granularity === 'hour'
    ? `${String(date.getHours()).padStart(2, '0')}h`
    : date.toLocaleDateString(undefined, { weekday: 'short' }));
  const titleId = `chart-title-${granularity}`;
  const bars = slots.map((slot, i) => {
    const x = left + i * band + band * 0.15;
    const w = band * 0.7;
    const refused = refusedOf(slot);
    const tip = `${slot.start.toLocaleString()}: ${slot.allowed} allowed, ${refused} refused`;
    return s('g', {},
      s('title', {}, tip),
      slot.allowed ? s('rect', { x, y: y(slot.allowed), width: w, height: y(0) - y(slot.allowed), class: 'bar-allowed' }) : null,
      refused ? s('rect', { x, y: y(slot.allowed + refused), width: w, height: y(slot.allowed) - y(slot.allowed + refused), class: 'bar-refused' }) : null,
      (granularity === 'day' || i % 3 === 0)
        ? s('text', { x: x + w / 2, y: height - 10, 'text-anchor': 'middle', class: 'axis' }, label(slot.start))
        : null);
  });
  return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId, class: 'chart' },
    s('title', { id: titleId }, title),
    s('line', { x1: left, x2: width - 8, y1: y(0), y2: y(0), class: 'baseline' }),
    s('text', { x: left - 6, y: y(most) + 4, 'text-anchor': 'end', class: 'axis' }, String(most)),
    s('text', { x: left - 6, y: y(0) + 4, 'text-anchor': 'end', class: 'axis' }, '0'),
    bars);
}

/** Draws the screen: `#/usage`, `#/usage/consumer/NAME` or `#/usage/key/ID`, with
 *  `?week` as a last segment for the last 7 days. */
export async function render(main, { rest }) {
  const [kind, name, period] = rest || [];
  const week = period === 'week' || (kind === 'week' && !name);
  const granularity = week ? 'day' : 'hour';
  const count = week ? 7 : 24;
  const step = week ? 86400e3 : 3600e3;
  const since = new Date(Math.floor((Date.now() - (count - 1) * step) / step) * step);
  const filter = kind === 'consumer' ? `&consumer=${part(name)}` : kind === 'key' ? `&key_id=${part(name)}` : '';
  const [usage, consumers] = await Promise.all([
    api('GET', `/usage?granularity=${granularity}&since=${since.toISOString().replace(/\.\d{3}Z$/, 'Z')}&group=${kind === 'key' ? 'key' : 'consumer'}${filter}`),
    all('/consumers'),
  ]);
  const slots = buckets(usage.data, granularity, since, count);
  const of = kind === 'consumer' ? `consumer ${name}` : kind === 'key' ? `key ${name}` : 'all consumers';
  const title = `Calls of ${of}, ${week ? 'per day over the last week' : 'per hour over the last day'}`;

  const choose = h('select', { name: 'of' },
    h('option', { value: '' }, 'All consumers'),
    consumers.map((c) => h('option', { value: `consumer/${c.name}`, selected: kind === 'consumer' && name === c.name }, c.name)),
    kind === 'key' ? h('option', { value: `key/${name}`, selected: true }, `key ${name}`) : null);
  const span = h('select', { name: 'period' },
    h('option', { value: 'day', selected: !week }, 'Last day (per hour)'),
    h('option', { value: 'week', selected: week }, 'Last week (per day)'));
  const go = () => {
    const target = choose.value ? `${choose.value}/${span.value}` : span.value;
    window.location.hash = `#/usage/${target}`;
  };
  choose.addEventListener('change', go);
  span.addEventListener('change', go);

  const totals = new Map();
  for (const row of usage.data) {
    const id = kind === 'key' ? row.key_id || '(no key)' : row.consumer || '(no consumer)';
    const sum = totals.get(id) || { requests: 0, allowed: 0, refused: {} };
    sum.requests += row.requests;
    sum.allowed += row.allowed;
    for (const [reason, n] of Object.entries(row.refused || {})) sum.refused[reason] = (sum.refused[reason] || 0) + n;
    totals.set(id, sum);
  }
  put(main, 
    heading('Usage'),
    h('p', { class: 'lead' }, 'Calls the gateway counted, let through or refused (by reason). Counts reach the store every few seconds.'),
    h('div', { class: 'toolbar' }, field('Of', choose), field('Period', span)),
    h('figure', { class: 'chart-figure' },
      chart(slots, granularity, title),
      h('figcaption', {}, title, ' — ',
        h('span', { class: 'legend allowed' }, 'allowed'), ' ',
        h('span', { class: 'legend refused' }, 'refused'))),
    table(`Totals of ${of}`, [kind === 'key' ? 'Key' : 'Consumer', 'Requests', 'Allowed', 'Refused (by reason)'],
      [...totals.entries()].map(([id, sum]) => [
        id,
        String(sum.requests),
        String(sum.allowed),
        Object.keys(sum.refused).length
          ? Object.entries(sum.refused).map(([reason, n]) => `${reason}: ${n}`).join(', ')
          : '0',
      ]), 'No calls in this period.'));
}
