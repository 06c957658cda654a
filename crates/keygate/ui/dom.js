// Building the page from elements and text nodes, never from HTML text: every text from the API stays text.

/** An element: `h('button', {type: 'button', onclick: f}, 'Save')`. Attributes named
 *  `on…` become listeners, `class` and `for` their properties, `true` booleans bare
 *  attributes; `null`, `undefined` and `false` children and attributes are left out. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name === 'for') {
      element.htmlFor = value;
    } else if (name === 'value') {
      element.value = value;
    } else if (name === 'checked') {
      element.checked = Boolean(value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** Removes every child of `element`. */
export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}

let unique = 0;
/** A new id for label/aria links. */
export function newId(stem) {
  unique += 1;
  return `${stem}-${unique}`;
}

/** A labelled control: `field('Client type', h('input', {name: 'client_type'}), hint)`. */
export function field(label, control, hint) {
  const id = control.id || newId(control.name || 'field');
  control.id = id;
  let hintNode = null;
  if (hint) {
    hintNode = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintNode.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintNode);
}

/** A checkbox with its label after it. */
export function checkbox(label, attrs) {
  const id = attrs.id || newId(attrs.name || 'check');
  return h('div', { class: 'field check' },
    h('input', { type: 'checkbox', ...attrs, id }), h('label', { for: id }, label));
}

/** Says `text` in the polite live region (screen readers read it; nothing moves). */
export function announce(text) {
  const region = document.getElementById('status');
  region.textContent = '';
  window.setTimeout(() => { region.textContent = text; }, 50);
}

/** Shows `text` in the alert region at the top; empty text hides it. */
export function showError(text) {
  const region = document.getElementById('alert');
  region.textContent = text || '';
  region.classList.toggle('shown', Boolean(text));
}

/** A table with a caption; `columns` are header texts, `rows` arrays of cells. */
export function table(caption, columns, rows, empty = 'None yet.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) =>
      (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', {}, cell)))))));
}

/** An RFC 3339 time as the reader's local date and time; '—' for none. */
export function when(text) {
  if (!text) return '—';
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A screen's heading, focused when the screen is drawn (so that readers hear it). */
export function heading(text) {
  return h('h1', { tabindex: '-1', id: 'screen-title' }, text);
}

/** A status word as a badge. */
export function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

/** Draws a screen again with `draw(main)` (which appends to `main`, its handlers bound
 *  to it), then takes the old content away; the focus stays on the control of the same
 *  id when there is one, else goes to the heading. */
export async function redrawKeeping(main, draw) {
  const focused = document.activeElement && document.activeElement.id;
  const old = [...main.childNodes];
  try {
    await draw(main);
  } catch (error) {
    for (const node of [...main.childNodes]) if (!old.includes(node)) node.remove();
    showError(error.message);
    return;
  }
  for (const node of old) node.remove();
  const again = focused && document.getElementById(focused);
  if (again) again.focus();
  else if (main.querySelector('h1')) main.querySelector('h1').focus();
}

/** Appends `children` to `main` as h() does: lists flattened, null and false left out. */
export function put(main, ...children) {
  const holder = h('div', {}, ...children);
  main.append(...holder.childNodes);
}
