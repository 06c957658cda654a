// The console under /ui/ in a real browser: the seed flows click by click, the
// accessibility check of each main screen, and keyboard use of the dialogs. Run by
// crates/keygate/tests/e2e/console.rs against a gateway it started.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gateway, admin, proxied, launch, openPage, accessible, screenshot, announced } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const asAdmin = { headers: { 'X-API-KEY': gateway.token } };

test('the Mia-Platform flow: Add new, Generate, client type, Active, Create; untick Active', async () => {
  const service = await admin('PUT', '/services/orders', {
    path_prefix: '/orders',
    upstream: process.env.KEYGATE_ECHO_URL,
    routes: [{ name: 'report', paths: ['/report'], allow: "clientType === 'A' || clientType === 'B'" }],
  });
  assert.ok([200, 201].includes(service.status), JSON.stringify(service.body));
  const page = await openPage(browser, asAdmin);
  await page.goto(`${gateway.admin}/ui/#/keys`);
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

test('the key creation dialog by keyboard alone: focus inside, Tab wraps, Escape closes', async () => {
  const page = await openPage(browser, asAdmin);
  await page.goto(`${gateway.admin}/ui/#/keys`);
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
