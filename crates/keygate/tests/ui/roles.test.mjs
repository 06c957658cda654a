// The console with accounts: signing in and out, the CSRF check, what each role sees,
// and Gravitee's flow across its people — an application owner subscribes from the
// portal, the publisher accepts in the console (once with a custom key), the calls go
// through, the publisher rejects a request saying why and may not renew the shared key;
// the owner reads the reason in the portal and renews the shared key with a custom key.
// (Each sign-in counts against the sign-in limit of 20 a window per address, which the
// two files share: the flows sign in as few times as they can.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gateway, admin, proxied, launch, openPage, accessible, screenshot, announced, signIn as signInWith } from './lib.mjs';

let browser;
const PASSWORD = 'correct horse battery staple';

before(async () => {
  browser = await launch();
  for (const [name, role] of [['pub-a', 'publisher'], ['pub-b', 'publisher'], ['owner-a', 'owner'], ['owner-b', 'owner']]) {
    const made = await admin('POST', '/accounts', { name, role, password: PASSWORD });
    assert.equal(made.status, 201, JSON.stringify(made.body));
  }
  for (const [name, owner] of [['forecast', 'pub-a'], ['ledger', 'pub-b']]) {
    const service = await admin('PUT', `/services/${name}`, {
      path_prefix: `/${name}`,
      upstream: process.env.KEYGATE_ECHO_URL,
      published: true,
      routes: [{ name: 'all', paths: ['/*'] }],
      plans: [{ name: 'gold', auto_approve: false, description: 'Approved by the publisher' }],
    });
    assert.ok([200, 201].includes(service.status), JSON.stringify(service.body));
    const owned = await admin('PUT', `/services/${name}/owner`, { account: owner });
    assert.equal(owned.status, 200, JSON.stringify(owned.body));
  }
});
after(async () => { await browser?.close(); });

/** Signs in with an account's password. */
function signIn(page, account) {
  return signInWith(page, { account, password: PASSWORD });
}

/** The session as the page's cookie has it: {status, body}. */
function session(page) {
  return page.evaluate(async () => {
    const response = await fetch('/v1/session');
    return { status: response.status, body: await response.json().catch(() => null) };
  });
}

/** A write from the page with its cookie; `csrf` is sent as X-CSRF-Token when given. */
function write(page, method, path, body, csrf) {
  return page.evaluate(async ({ method, path, body, csrf }) => {
    const headers = { 'Content-Type': 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    const response = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }, { method, path, body, csrf });
}

test('sign in with a password, a wrong password refused, sign out', async () => {
  const page = await openPage(browser);
  await page.goto(`${gateway.admin}/ui/`);
  await page.getByLabel('Account', { exact: true }).fill('pub-a');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#login-error').filter({ hasText: /./ }).waitFor();
  assert.equal((await session(page)).status, 401);

  await signIn(page, 'pub-a');
  assert.equal(await page.locator('#who-text').textContent(), 'pub-a (publisher)');
  const signedIn = await session(page);
  assert.equal(signedIn.status, 200);
  assert.equal(signedIn.body.role, 'publisher');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to keygate' }).waitFor();
  assert.equal((await session(page)).status, 401);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a write without the CSRF token is refused; with it, done', async () => {
  const page = await openPage(browser);
  await signIn(page, 'owner-a');
  const refused = await write(page, 'POST', '/consumers', { name: 'csrf-probe' });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal((await admin('GET', '/consumers/csrf-probe')).status, 404);
  const { body } = await session(page);
  const done = await write(page, 'POST', '/consumers', { name: 'csrf-probe' }, body.csrf_token);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  await page.context().close();
});

test('a publisher sees its services only', async () => {
  const page = await openPage(browser);
  await signIn(page, 'pub-a');
  await page.getByRole('link', { name: 'Services' }).click();
  await page.getByRole('link', { name: 'forecast' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'ledger' }).count(), 0);
  await accessible(page, 'the services screen of a publisher');
  await screenshot(page, 'services');
  await page.goto(`${gateway.admin}/ui/#/services/ledger`);
  await page.locator('#alert').filter({ hasText: 'not found' }).waitFor();
  await page.context().close();
});

test('an owner sees its own keys only', async () => {
  const page = await openPage(browser);
  await signIn(page, 'owner-b');
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('button', { name: 'Add new' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add new API key' });
  await dialog.getByLabel('Consumer', { exact: true }).fill('app-b');
  await dialog.getByLabel('Active').check();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('dialog', { name: 'API key created' }).getByRole('button', { name: 'Done' }).click();
  await page.getByRole('cell', { name: 'app-b' }).first().waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();

  await signIn(page, 'owner-a');
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'app-b' }).count(), 0);
  await page.getByRole('link', { name: 'Applications' }).click();
  await page.getByRole('heading', { level: 1, name: 'Applications' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'app-b' }).count(), 0);
  await page.context().close();
});

test('Gravitee: subscribe in the portal, accept in the console (with a custom key), call; a rejection\'s reason read in the portal; the shared key renewed by its owner only', async () => {
  const page = await openPage(browser);
  await signIn(page, 'owner-a');
  await page.getByRole('link', { name: 'Applications' }).click();
  await page.getByRole('button', { name: 'New application' }).click();
  const create = page.getByRole('dialog', { name: 'New application' });
  await create.getByLabel('Name').fill('app-a');
  await create.getByRole('button', { name: 'Create' }).click();
  await announced(page, 'app-a created');

  await page.getByRole('link', { name: 'Catalogue' }).click();
  await page.getByRole('heading', { level: 1, name: 'Catalogue' }).waitFor();
  await screenshot(page, 'catalogue');
  await accessible(page, 'the catalogue of an owner');
  await page.getByRole('button', { name: 'Subscribe to forecast, plan gold' }).click();
  const subscribe = page.getByRole('dialog', { name: 'Subscribe to forecast: plan gold' });
  await subscribe.getByLabel('Application', { exact: true }).selectOption('app-a');
  await subscribe.getByLabel(/shared key/).check();
  await subscribe.getByRole('button', { name: 'Subscribe' }).click();
  const requested = page.getByRole('dialog', { name: 'Subscription requested' });
  const key = await requested.getByLabel('API key').inputValue();
  await requested.getByRole('button', { name: 'Done' }).click();
  assert.equal((await proxied('/forecast/today', { apikey: key })).status, 403, 'not accepted yet');
  // Two more plans, each asked for with a key of its own: one to be accepted with a
  // custom key, one to be rejected.
  for (const name of ['silver', 'bronze']) {
    const plan = await admin('PUT', `/services/forecast/plans/${name}`, { auto_approve: false });
    assert.equal(plan.status, 201, JSON.stringify(plan.body));
  }
  const own = {};
  for (const name of ['silver', 'bronze']) {
    // Away and back: the catalogue is drawn again with the new plan.
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.getByRole('heading', { level: 1, name: 'Applications' }).waitFor();
    await page.getByRole('link', { name: 'Catalogue' }).click();
    await page.getByRole('button', { name: `Subscribe to forecast, plan ${name}` }).click();
    const dialog = page.getByRole('dialog', { name: `Subscribe to forecast: plan ${name}` });
    await dialog.getByLabel('Application', { exact: true }).selectOption('app-a');
    await dialog.getByRole('button', { name: 'Subscribe' }).click();
    const shown = page.getByRole('dialog', { name: 'Subscription requested' });
    own[name] = await shown.getByLabel('API key').inputValue();
    await shown.getByRole('button', { name: 'Done' }).click();
  }
  const ids = Object.fromEntries((await admin('GET', '/subscriptions?consumer=app-a')).body.data.map((s) => [s.plan, s.id]));
  await page.getByRole('button', { name: 'Sign out' }).click();

  await signIn(page, 'pub-a');
  await page.getByRole('link', { name: 'Subscriptions' }).click();
  await page.getByRole('button', { name: `Accept subscription ${ids.gold} of app-a` }).click();
  await page.getByRole('dialog', { name: /^Accept subscription/ }).getByRole('button', { name: 'Accept' }).click();
  await announced(page, 'accepted');
  assert.equal((await proxied('/forecast/today', { apikey: key })).status, 200);
  // Accepted with a custom key: the call goes through with it, the generated key stops.
  await page.getByRole('button', { name: `Accept subscription ${ids.silver} of app-a` }).click();
  const accept = page.getByRole('dialog', { name: `Accept subscription ${ids.silver}` });
  await accept.getByLabel('Custom key (optional)').fill('app-a-silver-2026');
  await accept.getByRole('button', { name: 'Accept' }).click();
  const accepted = page.getByRole('dialog', { name: 'Subscription accepted with the custom key' });
  assert.equal(await accepted.getByLabel('API key').inputValue(), 'app-a-silver-2026');
  await accepted.getByRole('button', { name: 'Done' }).click();
  await announced(page, 'accepted');
  assert.equal((await proxied('/forecast/today', { apikey: 'app-a-silver-2026' })).status, 200);
  assert.equal((await proxied('/forecast/today', { apikey: own.silver })).status, 401, 'replaced at once');
  // Rejected, saying why.
  await page.getByRole('button', { name: `Reject subscription ${ids.bronze} of app-a` }).click();
  const reject = page.getByRole('dialog', { name: `Reject subscription ${ids.bronze}?` });
  const reason = reject.getByLabel('Reason (optional)');
  await reason.waitFor();
  await accessible(page, 'the reject dialog');
  await reason.fill('Plan bronze is for partners under contract.\nWrite to sales@example.com.');
  await reject.getByRole('button', { name: 'Reject' }).click();
  await announced(page, 'rejected');
  assert.equal((await proxied('/forecast/today', { apikey: own.bronze })).status, 403);
  // The publisher reads the shared key, and may not renew it: no button, and the API says why.
  await page.getByText('Shared key: only its application’s owner can renew or revoke it.').waitFor();
  const shared = (await admin('GET', '/keys?consumer=app-a')).body.data.find((k) => k.shared);
  assert.equal(await page.getByRole('button', { name: `Renew key ${shared.prefix}…` }).count(), 0);
  const { body } = await session(page);
  const denied = await write(page, 'POST', `/keys/${shared.id}/renew`, {}, body.csrf_token);
  assert.equal(denied.status, 403);
  assert.match(denied.body.error ? denied.body.error.message : denied.body.message, /only the application's owner/);
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The owner reads the reason in the portal, and renews the shared key.
  await signIn(page, 'owner-a');
  await page.getByRole('link', { name: 'Subscriptions' }).click();
  const rejected = page.getByRole('row', { name: new RegExp(`^${ids.bronze} `) });
  await rejected.getByText('rejected', { exact: true }).waitFor();
  assert.equal(
    await rejected.locator('.reason').innerText(),
    'Reason: Plan bronze is for partners under contract.\nWrite to sales@example.com.',
  );
  await accessible(page, 'the subscriptions of an owner, with a rejection\'s reason');
  await page.getByRole('button', { name: `Renew key ${shared.prefix}…` }).click();
  const renew = page.getByRole('dialog', { name: /^Renew key/ });
  await renew.getByLabel('Grace period of the old key').selectOption('0s');
  await renew.getByLabel('Custom key (optional)').fill('app-a-shared-2027');
  await renew.getByRole('button', { name: 'Renew' }).click();
  await page.getByRole('dialog', { name: 'Key renewed' }).getByRole('button', { name: 'Done' }).click();
  assert.equal((await proxied('/forecast/today', { apikey: 'app-a-shared-2027' })).status, 200);
  assert.equal((await proxied('/forecast/today', { apikey: key })).status, 401);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
