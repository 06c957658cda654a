// Helpers of the console's browser tests: the gateway's addresses (from the Rust test
// that started it), the admin API called directly, a browser on the system Chromium,
// the axe-core check and the screenshots.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: crates/keygate/tests/e2e/console.rs sets it`);
  return value;
}

/** Where the gateway under test listens, and its admin token. */
export const gateway = {
  admin: need('KEYGATE_ADMIN_URL'),
  proxy: need('KEYGATE_PROXY_URL'),
  token: need('KEYGATE_ADMIN_TOKEN'),
};

/**
 * Node's `fetch`, whose failure names its cause (a refused or reset connection, a
 * timeout): Node's own message is only "fetch failed".
 */
async function call(url, options) {
  try {
    return await fetch(url, options);
  } catch (error) {
    const cause = error.cause ? `${error.cause.code ?? ''} ${error.cause.message ?? error.cause}` : 'no cause';
    throw new Error(`${options?.method ?? 'GET'} ${url}: ${error.message} (${cause.trim()})`);
  }
}

/** Calls the admin API with the admin token; answers {status, body}. */
export async function admin(method, path, body, headers = {}) {
  const response = await call(`${gateway.admin}/v1${path}`, {
    method,
    headers: { 'X-API-KEY': gateway.token, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Calls `path` through the gateway's proxy listener. */
export async function proxied(path, headers = {}) {
  const response = await call(`${gateway.proxy}${path}`, { headers });
  return { status: response.status, body: await response.text() };
}

/** The system Chromium, headless. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.KEYGATE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A page in a new context; every console error or CSP violation fails the test that
 *  looks at `page.problems`. `headers` go with every request (the token, before
 *  sessions). */
export async function openPage(browser, { headers } = {}) {
  const context = await browser.newContext({
    extraHTTPHeaders: headers,
    viewport: { width: 1280, height: 800 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.admin });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (message) => {
    // Refused calls (401, 403, 422) are part of the flows; the browser logs each.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      page.problems.push(message.text());
    }
  });
  page.on('pageerror', (error) => page.problems.push(error.message));
  return page;
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page as it is now; fails with the violations. */
export async function accessible(page, what) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) {
    // Evaluated through the DevTools protocol: the page's CSP (no inline script) holds.
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const text = await page.evaluate(() => document.body.innerText);
  assert.doesNotMatch(text, /\bnull\b|\bundefined\b|\[object |NaN/, `${what} shows a value the page failed to draw`);
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, [], `axe-core on ${what}`);
}

/** Saves a PNG of the page as docs/img/console-<name>.png when KEYGATE_SCREENSHOTS
 *  names the folder. */
export async function screenshot(page, name) {
  const folder = process.env.KEYGATE_SCREENSHOTS;
  if (!folder) return;
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: join(folder, `console-${name}.png`), fullPage: false });
}

/** The text the polite live region ends up saying. */
export async function announced(page, text) {
  await page.locator('#status').filter({ hasText: text }).waitFor();
}

/** Signs in on the sign-in screen: with `{token}`, or `{account, password}`. */
export async function signIn(page, { token, account, password }) {
  await page.goto(`${gateway.admin}/ui/`);
  if (token) {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in with the token' }).click();
  } else {
    await page.getByLabel('Account', { exact: true }).fill(account);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  await page.locator('#who-text').filter({ hasText: account || 'admin token' }).waitFor();
}

/** A page signed in with the admin token, showing `screen` (such as `keys`). */
export async function asAdmin(browser, screen) {
  const page = await openPage(browser);
  await signIn(page, { token: gateway.token });
  await page.goto(`${gateway.admin}/ui/#/${screen}`);
  return page;
}
