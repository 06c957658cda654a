// The console under /ui/ in a real browser: the seed flows click by click, the
// accessibility check of each main screen, and keyboard use of the dialogs. Run by
// crates/keygate/tests/e2e/console.rs against a gateway it started.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gateway, admin, proxied, launch, openPage, accessible, screenshot, announced, asAdmin } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });


test('the sign-in screen', async () => {
  const page = await openPage(browser);
  await page.goto(`${gateway.admin}/ui/`);
  await page.getByRole('heading', { level: 1, name: 'Sign in to keygate' }).waitFor();
  await page.getByLabel('Account', { exact: true }).waitFor();
  await page.getByLabel('Password').waitFor();
  await page.getByLabel('API token').waitFor();
  await screenshot(page, 'sign-in');
  await accessible(page, 'the sign-in screen');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the Mia-Platform flow: Add new, Generate, client type, Active, Create; untick Active', async () => {
  const service = await admin('PUT', '/services/orders', {
    path_prefix: '/orders',
    upstream: process.env.KEYGATE_ECHO_URL,
    routes: [{ name: 'report', paths: ['/report'], allow: "clientType === 'A' || clientType === 'B'" }],
  });
  assert.ok([200, 201].includes(service.status), JSON.stringify(service.body));
  const page = await asAdmin(browser, 'keys');
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();

  await page.getByRole('button', { name: 'Add new' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add new API key' });
  await dialog.getByLabel('Generate').check();
  await dialog.getByLabel('Consumer', { exact: true }).fill('mia-client');
  await dialog.getByLabel('Client type').fill('A');
  await dialog.getByLabel('Active').check();
  await dialog.getByLabel('Description').fill('the Mia-Platform tutorial');
  await screenshot(page, 'add-key');
  await dialog.getByRole('button', { name: 'Create' }).click();

  const shown = page.getByRole('dialog', { name: 'API key created' });
  const key = await shown.getByLabel('API key').inputValue();
  assert.match(key, /^kg_[A-Za-z0-9]{38}$/);
  await shown.getByRole('button', { name: 'Copy' }).click();
  await shown.getByText('Copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  await shown.getByRole('button', { name: 'Done' }).click();
  await announced(page, 'created for mia-client');

  const allowed = await proxied('/orders/report', { 'client-key': key });
  assert.equal(allowed.status, 200, allowed.body);
  assert.equal(JSON.parse(allowed.body).headers['client-type'], 'A');

  const prefix = key.slice(0, 8);
  const active = page.getByRole('checkbox', { name: new RegExp(`Active: key ${prefix}`) });
  assert.equal(await active.isChecked(), true);
  await screenshot(page, 'keys');
  await accessible(page, 'the keys screen');
  await active.uncheck();
  await announced(page, 'disabled');
  const refused = await proxied('/orders/report', { 'client-key': key });
  assert.equal(refused.status, 401, refused.body);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('usage of a consumer: the calls of the Mia-Platform flow, as a chart and a table', async () => {
  // The gateway adds its counts to the store every second (usage.flush_interval).
  const deadline = Date.now() + 15000;
  let rows = [];
  while (Date.now() < deadline) {
    rows = (await admin('GET', '/usage?consumer=mia-client&group=consumer')).body.data;
    if (rows.reduce((n, row) => n + row.requests, 0) >= 2) break;
    await new Promise((resolve) => { setTimeout(resolve, 250); });
  }
  const page = await asAdmin(browser, 'consumers');
  await page.getByRole('link', { name: 'Usage of mia-client' }).click();
  await page.getByRole('heading', { level: 1, name: 'Usage' }).waitFor();
  const chart = page.getByRole('img', { name: 'Calls of consumer mia-client, per hour over the last day' });
  await chart.waitFor();
  assert.equal(await chart.locator('rect.bar-allowed').count(), 1);
  assert.equal(await chart.locator('rect.bar-refused').count(), 1);
  const row = page.getByRole('row', { name: /mia-client/ });
  assert.equal(await row.getByRole('cell').nth(1).textContent(), '1');
  assert.match(await row.getByRole('cell').nth(2).textContent(), /key_disabled: 1/);
  await screenshot(page, 'usage');
  await accessible(page, 'the usage screen');
  await page.getByLabel('Period').selectOption('week');
  await page.getByRole('img', { name: 'Calls of consumer mia-client, per day over the last week' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the key creation dialog by keyboard alone: focus inside, Tab wraps, Escape closes', async () => {
  const page = await asAdmin(browser, 'keys');
  const add = page.getByRole('button', { name: 'Add new' });
  await add.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Add new API key' });
  await dialog.waitFor();
  await accessible(page, 'the Add new dialog');
  const inDialog = () => page.evaluate(() => Boolean(document.activeElement?.closest('dialog')));
  assert.equal(await inDialog(), true, 'focus moves into the dialog');
  const seen = new Set();
  for (let step = 0; step < 20; step += 1) {
    await page.keyboard.press('Tab');
    assert.equal(await inDialog(), true, `focus left the dialog after ${step + 1} Tabs`);
    seen.add(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent));
  }
  assert.ok(seen.has('Create') && seen.has('Cancel'), [...seen].join(', '));
  for (let step = 0; step < 20; step += 1) {
    await page.keyboard.press('Shift+Tab');
    assert.equal(await inDialog(), true, `focus left the dialog after ${step + 1} Shift+Tabs`);
  }
  // The custom value by keyboard: Arrow keys move between the radio buttons.
  await dialog.getByLabel('Generate').focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await dialog.getByLabel('Custom value').isChecked(), true);
  assert.equal(await dialog.getByLabel('Custom key').isEnabled(), true);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Add new');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a route\'s permission expression: edited, and a wrong one shown at its position', async () => {
  const page = await asAdmin(browser, 'services');
  await page.getByRole('link', { name: 'orders' }).click();
  await page.getByRole('heading', { level: 1, name: 'Service orders' }).waitFor();
  await screenshot(page, 'service');
  await accessible(page, 'a service');
  await page.getByRole('button', { name: 'Edit route report' }).click();
  const dialog = page.getByRole('dialog', { name: 'Route report of orders' });
  const allow = dialog.getByLabel('User Group Permission (allow)');
  await allow.fill("clientType === 'A' ||\n  clientTyp === 'B'");
  await dialog.getByRole('button', { name: 'Save' }).click();
  const error = dialog.getByRole('alert');
  await error.filter({ hasText: 'Line 2, column 3' }).waitFor();
  assert.match(await error.textContent(), /unknown variable `clientTyp`/);
  assert.equal(await dialog.getByLabel('Where the error is').textContent(), "  clientTyp === 'B'\n  ^");
  assert.equal(await allow.getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'expression-error');
  await allow.fill("clientType === 'B'");
  await dialog.getByRole('button', { name: 'Save' }).click();
  await announced(page, 'Route report saved');
  await page.getByRole('cell', { name: "clientType === 'B'" }).waitFor();
  const stored = await admin('GET', '/services/orders');
  assert.equal(stored.body.routes[0].allow, "clientType === 'B'");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('who can call a route: the client types and consumers its expression lets through', async () => {
  // The route's allow is clientType === 'B' now (the test above); bee is of type B.
  assert.equal((await admin('POST', '/consumers', { name: 'bee', client_type: 'B' })).status, 201);
  assert.equal((await admin('POST', '/consumers/bee/keys', {})).status, 201);
  const page = await asAdmin(browser, 'services/orders');
  await page.getByRole('link', { name: 'Who can call route report' }).click();
  await page.getByRole('heading', { level: 1, name: 'Who can call orders / report' }).waitFor();
  const consumers = page.getByRole('table', { name: 'Consumers that can call report' });
  const bee = consumers.getByRole('row', { name: /^bee B/ });
  assert.match(await bee.textContent(), /yes, whatever the request/);
  assert.equal(await consumers.getByRole('row', { name: /mia-client/ }).filter({ hasText: 'yes' }).count(), 0);
  const types = page.getByRole('table', { name: 'Client types that can call report' });
  assert.match(await types.getByRole('row', { name: /^B / }).textContent(), /yes/);
  await screenshot(page, 'callers');
  await accessible(page, 'who can call a route');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the Gravitee flow as the admin: subscribe from the catalogue, accept with a custom key, call, renew', async () => {
  const service = await admin('PUT', '/services/weather', {
    path_prefix: '/weather',
    upstream: process.env.KEYGATE_ECHO_URL,
    published: true,
    routes: [{ name: 'all', paths: ['/*'] }],
    plans: [{ name: 'gold', auto_approve: false, description: 'Approved by the publisher' }],
  });
  assert.ok([200, 201].includes(service.status), JSON.stringify(service.body));
  const page = await asAdmin(browser, 'consumers');
  await page.getByRole('button', { name: 'New consumer' }).click();
  const create = page.getByRole('dialog', { name: 'New consumer' });
  await create.getByLabel('Name').fill('weather-app');
  await create.getByRole('button', { name: 'Create' }).click();
  await announced(page, 'weather-app created');
  await accessible(page, 'the consumers screen');

  await page.getByRole('link', { name: 'Catalogue' }).click();
  await page.getByRole('heading', { level: 1, name: 'Catalogue' }).waitFor();
  await screenshot(page, 'catalogue');
  await accessible(page, 'the catalogue');
  await page.getByRole('button', { name: 'Subscribe to weather, plan gold' }).click();
  const subscribe = page.getByRole('dialog', { name: 'Subscribe to weather: plan gold' });
  await subscribe.getByLabel('Application', { exact: true }).selectOption('weather-app');
  await subscribe.getByRole('button', { name: 'Subscribe' }).click();
  const requested = page.getByRole('dialog', { name: 'Subscription requested' });
  const first = await requested.getByLabel('API key').inputValue();
  await requested.getByRole('button', { name: 'Done' }).click();
  assert.equal((await proxied('/weather/now', { apikey: first })).status, 403, 'pending: not yet');

  // Another application's request, rejected with a reason: the screen shows it.
  assert.equal((await admin('POST', '/consumers', { name: 'storm-app' })).status, 201);
  const other = await admin('POST', '/subscriptions', { consumer: 'storm-app', service: 'weather', plan: 'gold' });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  const why = 'Plan gold is for partners under contract: write to sales@example.com.';
  const rejected = await admin('POST', `/subscriptions/${other.body.id}/reject`, { reason: why });
  assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
  await page.getByRole('link', { name: 'Subscriptions' }).click();
  await page.getByRole('heading', { level: 1, name: 'Subscriptions' }).waitFor();
  await page.getByRole('row', { name: /storm-app/ }).getByText(`Reason: ${why}`).waitFor();
  await screenshot(page, 'subscriptions');
  await accessible(page, 'the subscriptions screen');
  await page.getByRole('button', { name: /^Accept subscription .* of weather-app$/ }).click();
  const accept = page.getByRole('dialog', { name: /^Accept subscription/ });
  await accept.getByLabel('Custom key (optional)').fill('weather-app-key-2026');
  await accept.getByRole('button', { name: 'Accept' }).click();
  const accepted = page.getByRole('dialog', { name: 'Subscription accepted with the custom key' });
  assert.equal(await accepted.getByLabel('API key').inputValue(), 'weather-app-key-2026');
  await accepted.getByRole('button', { name: 'Done' }).click();
  await announced(page, 'accepted');
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2026' })).status, 200);
  assert.equal((await proxied('/weather/now', { apikey: first })).status, 401, 'the generated key was replaced');

  // Renew with a custom key and no grace: the new key works, the old one stops.
  await page.getByRole('button', { name: /^Renew key weath…/ }).click();
  const renew = page.getByRole('dialog', { name: /^Renew key/ });
  await renew.getByLabel('Grace period of the old key').selectOption('0s');
  await renew.getByLabel('Custom key (optional)').fill('weather-app-key-2027');
  await renew.getByRole('button', { name: 'Renew' }).click();
  const renewed = page.getByRole('dialog', { name: 'Key renewed' });
  assert.equal(await renewed.getByLabel('API key').inputValue(), 'weather-app-key-2027');
  await renewed.getByRole('button', { name: 'Done' }).click();
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2027' })).status, 200);
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2026' })).status, 401);

  // Pause, resume, then revoke with confirmation.
  await page.getByRole('button', { name: /^Pause subscription/ }).click();
  await announced(page, 'paused');
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2027' })).status, 403);
  await page.getByRole('button', { name: /^Resume subscription/ }).click();
  await announced(page, 'resumed');
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2027' })).status, 200);
  await page.getByRole('button', { name: /^Revoke key weath…/ }).click();
  const revoke = page.getByRole('dialog', { name: /^Revoke key/ });
  await revoke.getByRole('button', { name: 'Revoke' }).click();
  await announced(page, 'revoked');
  assert.equal((await proxied('/weather/now', { apikey: 'weather-app-key-2027' })).status, 401);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the accounts screen: an account made, a token shown once', async () => {
  const page = await asAdmin(browser, 'accounts');
  await page.getByRole('button', { name: 'New account' }).click();
  const dialog = page.getByRole('dialog', { name: 'New account' });
  await dialog.getByLabel('Name').fill('carol');
  await dialog.getByLabel('Role').selectOption('publisher');
  await dialog.getByLabel('Password').fill('a long enough password');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await announced(page, 'Account created');
  await page.getByRole('button', { name: 'New token for carol' }).click();
  await page.getByRole('dialog', { name: 'New token for carol' }).getByRole('button', { name: 'Create' }).click();
  const shown = page.getByRole('dialog', { name: 'Token created' });
  const token = await shown.getByLabel('API key').inputValue();
  assert.match(token, /^kgtok_/);
  await shown.getByRole('button', { name: 'Done' }).click();
  await screenshot(page, 'accounts');
  await accessible(page, 'the accounts screen');
  // The token signs in as carol.
  const other = await openPage(browser);
  await other.goto(`${gateway.admin}/ui/`);
  await other.getByLabel('API token').fill(token);
  await other.getByRole('button', { name: 'Sign in with the token' }).click();
  await other.locator('#who-text').filter({ hasText: 'carol (publisher)' }).waitFor();
  await other.context().close();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
