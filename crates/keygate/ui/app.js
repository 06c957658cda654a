// The page: finds the session, draws the sign-in screen or the navigation for the
// caller's role, and draws the screen the address names (#/keys, #/services/orders, …).

import { api, useSession, ApiError } from './api.js';
import { h, clear, showError, announce } from './dom.js';
import * as login from './login.js';
import * as keys from './keys.js';
import * as consumers from './consumers.js';
import * as services from './services.js';
import * as subscriptions from './subscriptions.js';
import * as catalogue from './catalogue.js';
import * as accounts from './accounts.js';
import * as usage from './usage.js';

/** The screens each role has, in navigation order: [path, label, module]. */
const SCREENS = {
  admin: [
    ['services', 'Services', services],
    ['consumers', 'Consumers', consumers],
    ['keys', 'API keys', keys],
    ['subscriptions', 'Subscriptions', subscriptions],
    ['usage', 'Usage', usage],
    ['catalogue', 'Catalogue', catalogue],
    ['accounts', 'Accounts', accounts],
  ],
  publisher: [
    ['services', 'Services', services],
    ['subscriptions', 'Subscriptions', subscriptions],
    ['keys', 'API keys', keys],
    ['usage', 'Usage', usage],
  ],
  owner: [
    ['catalogue', 'Catalogue', catalogue],
    ['consumers', 'Applications', consumers],
    ['subscriptions', 'Subscriptions', subscriptions],
    ['keys', 'API keys', keys],
    ['usage', 'Usage', usage],
  ],
};

let session = null;

/** The session, or null when signed out. */
async function currentSession() {
  try {
    return await api('GET', '/session');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

function drawHeader() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const list = clear(document.getElementById('nav-list'));
  if (!session) {
    nav.hidden = true;
    who.hidden = true;
    return;
  }
  for (const [path, label] of SCREENS[session.role] || []) {
    list.append(h('li', {}, h('a', { href: `#/${path}`, 'data-screen': path }, label)));
  }
  nav.hidden = false;
  const name = session.account || 'admin token';
  document.getElementById('who-text').textContent = `${name} (${session.role})`;
  who.hidden = false;
}

/** Draws the screen of the address. */
async function route() {
  const main = document.getElementById('main');
  showError('');
  if (!session) {
    clear(main);
    login.render(main, { signedIn });
    return;
  }
  const screens = SCREENS[session.role] || [];
  const [name, ...rest] = (window.location.hash.replace(/^#\/?/, '') || '').split('/');
  const screen = screens.find(([path]) => path === name) || screens[0];
  if (!screen) {
    clear(main).append(h('p', {}, `No screens for the role ${session.role}.`));
    return;
  }
  for (const link of document.querySelectorAll('#nav-list a')) {
    if (link.dataset.screen === screen[0]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${screen[1]} · keygate`;
  clear(main).append(h('p', {}, 'Loading…'));
  const section = h('div', {});
  try {
    await screen[2].render(section, { session, rest: rest.map(decodeURIComponent), reload: route });
    clear(main).append(section);
  } catch (error) {
    clear(main).append(section);
    showError(error.message);
  }
  const title = main.querySelector('h1');
  if (title) title.focus();
}

function signedIn(newSession) {
  session = newSession;
  useSession(session);
  drawHeader();
  announce(`Signed in as ${session.account || 'admin token'}`);
  route();
}

async function signOut() {
  try {
    await api('DELETE', '/session');
  } catch (error) {
    showError(error.message);
  }
  session = null;
  useSession(null);
  drawHeader();
  window.location.hash = '';
  announce('Signed out');
  route();
}

async function start() {
  document.getElementById('logout').addEventListener('click', signOut);
  document.getElementById('skip').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  window.addEventListener('hashchange', () => {
    if (window.location.hash === '' || window.location.hash.startsWith('#/')) route();
  });
  window.addEventListener('keygate:signed-out', () => {
    if (!session) return;
    session = null;
    useSession(null);
    drawHeader();
    route();
    showError('Your session ended; sign in again.');
  });
  try {
    session = await currentSession();
  } catch (error) {
    showError(error.message);
  }
  useSession(session);
  drawHeader();
  route();
}

start();
