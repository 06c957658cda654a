// Modal dialogs: a <dialog> opened with showModal (the page behind is inert), focus kept
// inside (Tab and Shift+Tab wrap), Escape or Cancel closes it, and focus goes back to
// the control that opened it. Errors from the API show inside the dialog, read out.

import { h, newId } from './dom.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Keeps Tab inside `dialog`. */
function trapFocus(dialog) {
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)]
      .filter((item) => item.offsetParent !== null || item === document.activeElement);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
}

/** Opens a dialog of a form.
 *  - `title`: its heading; `fields`: nodes in the form; `submit`: the button's text;
 *  - `onSubmit(form)`: async; what it answers resolves the promise and closes the dialog;
 *    what it throws is shown in the dialog, which stays open;
 *  - `danger`: the submit button is drawn as destructive.
 *  Resolves with `onSubmit`'s answer, or null when cancelled. */
export function formDialog({ title, fields, submit, onSubmit, danger = false, cancel = 'Cancel' }) {
  const opener = document.activeElement;
  const titleId = newId('dialog-title');
  const error = h('p', { class: 'dialog-error', role: 'alert' });
  const submitButton = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submit);
  const form = h('form', { novalidate: false },
    h('h2', { id: titleId }, title),
    fields,
    error,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', value: 'cancel', onclick: () => dialog.close() }, cancel),
      submitButton));
  const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
  trapFocus(dialog);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let answer = null;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      submitButton.disabled = true;
      try {
        answer = await onSubmit(form);
        dialog.close();
      } catch (failure) {
        error.textContent = failure.message;
        submitButton.disabled = false;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && document.contains(opener)) opener.focus();
      resolve(answer);
    });
    dialog.showModal();
    const first = form.querySelector('input:not([type=hidden]):not([disabled]), select, textarea');
    (first || submitButton).focus();
  });
}

/** Asks to confirm `text`; resolves true when confirmed with `action`. */
export async function confirmDialog({ title, text, action, onConfirm }) {
  const done = await formDialog({
    title,
    fields: [h('p', {}, text)],
    submit: action,
    danger: true,
    onSubmit: async () => { await onConfirm(); return true; },
  });
  return done === true;
}

/** Shows a key once, with a copy button; resolves when closed. */
export function showKey({ title, key, note }) {
  const opener = document.activeElement;
  const titleId = newId('dialog-title');
  const input = h('input', { type: 'text', readonly: true, value: key, id: newId('new-key'), class: 'secret', spellcheck: 'false', autocomplete: 'off' });
  const copied = h('p', { class: 'hint', role: 'status' });
  const copy = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(key);
        copied.textContent = 'Copied to the clipboard.';
      } catch {
        copied.textContent = 'Press Ctrl+C (⌘C) to copy the selected key.';
      }
    },
  }, 'Copy');
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'key-shown' },
    h('h2', { id: titleId }, title),
    h('p', {}, note || 'Copy the key now: keygate stores only its hash and will not show it again.'),
    h('div', { class: 'field' }, h('label', { for: input.id }, 'API key'), h('div', { class: 'row' }, input, copy)),
    copied,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'Done')));
  trapFocus(dialog);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && document.contains(opener)) opener.focus();
      resolve();
    });
    dialog.showModal();
    input.focus();
    input.select();
  });
}
