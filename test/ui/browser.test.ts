// The admin UI end to end in headless Chromium (SPEC §7): sign in with the operator token (a
// wrong token is refused) and create a workspace; install the todo-digest example and a plugin
// with iparams (secure ones write-only, kept when left blank), change its settings, upgrade,
// deactivate, uninstall; run a scheduled webhook now from the schedules page (next fire times
// in the workspace zone) and find the run with its log and error, filter the history, run a
// plugin's Haplo hook now, pause and resume; add messages to a queue by hand, send it to a
// stand-in endpoint and mark one unsent; sign out. A screenshot of each page is kept under
// test-artifacts/ui/<store>/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { createVirtualClock } from '../../runtime/clock.ts';
import { readPackageDirectory } from '../../runtime/packages/pack.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { launchBrowser, screenshot, signInBrowser, type Browser } from './helpers.ts';

// A virtual clock: nothing fires on its own while the test runs; times are 02:00 in Rome.
const clock = createVirtualClock(Date.parse('2026-05-04T00:00:00Z'));
const WS = 'acme';
const SECRET = 's3cret-api-key-value';
let h: TestHost;
let chat: StubServer;
let sis: StubServer;
let browser: Browser;
let page: Page;
let formId: number;

const settingsPlugin = (version: string) => ({
  'plugin.json': {
    name: 'ui-settings', version, namespace: 'settings', displayName: 'Settings demo', services: [{ route: 'ping', main: 'plugin.js' }],
    limits: { timeoutMs: 1000 },
    iparams: {
      channel: { type: 'text', required: true, displayName: 'Channel' },
      apiKey: { type: 'password', secure: true, required: true, displayName: 'API key' },
      mode: { type: 'dropdown', options: ['fast', 'careful'], default: 'careful' },
      retries: { type: 'number' },
      notify: { type: 'checkbox' },
    },
  },
  'plugin.js': 'exports.run = function (e) { e.response.json({ ok: true }); };',
});

/** Clicks and waits for the page the click leads to (after any redirect) to load. */
async function go(target: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}
const flash = () => page.locator('.flash').first().innerText();
const main = () => page.locator('main').innerText();

before(async () => {
  chat = await startStub();
  sis = await startStub();
  h = await startHost({ clock, egressMap: { 'api.hipchat.com': chat.url, 'sis.example.com': sis.url } });
  const example = await readPackageDirectory(path.join(import.meta.dirname, '../../examples/todo-digest'));
  await h.host.registry.publishFiles(example.manifest, example.files);
  for (const v of ['1.0.0', '1.1.0']) assert.equal((await h.publish(settingsPlugin(v))).status, 201);
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-sync', version: '1.0.0', namespace: 'sync', main: 'main.js', permissions: { hosts: ['sis.example.com'] }, limits: { timeoutMs: 2000 } },
    'main.js': `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "student", method: "send", title: "Student records updates", description: "Sent to the student records system" });
});
P.implementService("haplo:integration-message:setup-http-request:student", function (http) {
  http.url("https://sis.example.com/import");
});
P.hook("hScheduleDailyEarly", function (response, year, month, day, hour) {
  console.log("early hook ran for " + year + "-" + (month + 1) + "-" + day + " " + hour + ":00");
});`,
  })).status, 201);
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-echo', version: '1.0.0', namespace: 'echo', services: [{ route: 'fail', main: 'plugin.js' }], limits: { timeoutMs: 1000 } },
    'plugin.js': `exports.run = function (e) { console.log('checking <script>window.__pwned = 1</script>'); throw new Error('the target is unreachable'); };`,
  })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: WS, name: 'Acme', timezone: 'Europe/Rome' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'globex', name: 'Globex' })).status, 201);
  formId = (await h.api('POST', `/api/v1/workspaces/${WS}/forms`, { name: 'To do' })).body.data.id;
  for (const name of ['Frontend', 'Backend']) await h.api('POST', `/api/v1/workspaces/${WS}/forms/${formId}/records`, { name });
  for (const plugin of ['ui-sync', 'ui-echo']) assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin })).status, 201);
  browser = await launchBrowser();
  page = browser.page;
});
after(async () => {
  await browser?.close();
  await h?.close();
  await chat?.close();
  await sis?.close();
});

test('signing in with the operator token shows every workspace', async () => {
  const res = await page.goto(`${h.url}/admin`);
  assert.equal(res!.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/admin/login');
  assert.equal(await page.locator('#token').getAttribute('type'), 'password');
  await screenshot(page, '01-sign-in');

  await page.fill('#token', 'not-a-token-of-this-host');
  await go(page.locator('button', { hasText: 'Sign in' }));
  assert.match(await flash(), /That token is not valid on this host\./);

  await signInBrowser(page, h.url, h.operatorToken);
  assert.equal(new URL(page.url()).pathname, '/admin/workspaces');
  assert.match(await page.locator('header').innerText(), /signed in as operator/);
  const rows = await page.locator('tbody tr').allInnerTexts();
  assert.deepEqual(rows.map((r) => r.split('\t')[0]), ['Acme', 'Globex']);
  const cookies = await browser.context.cookies(h.url + '/admin');
  const session = cookies.find((c) => c.name === 'plughost_admin')!;
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/admin');
  assert.ok(!session.value.includes(h.operatorToken), 'the cookie never holds the token');
  await screenshot(page, '02-workspaces');

  // The operator creates a workspace from the same page; a bad zone is reported, not stored.
  await page.fill('#ws-name', 'Initech');
  await page.fill('#ws-id', 'initech');
  await page.fill('#ws-tz', 'Mars/Olympus_Mons');
  await go(page.locator('button', { hasText: 'Create' }));
  assert.match(await flash(), /^INVALID_BODY: the body has 1 problem\(s\): timezone: must be an IANA time zone/);
  assert.equal((await h.api('GET', '/api/v1/workspaces/initech')).status, 404);
  await page.fill('#ws-name', 'Initech');
  await page.fill('#ws-id', 'initech');
  await page.fill('#ws-tz', 'Asia/Tokyo');
  await go(page.locator('button', { hasText: 'Create' }));
  assert.equal(new URL(page.url()).pathname, '/admin/workspaces/initech');
  assert.equal(await flash(), 'Workspace Initech created.');
  assert.equal((await h.api('GET', '/api/v1/workspaces/initech')).body.timezone, 'Asia/Tokyo');
  await page.goto(`${h.url}/admin/workspaces`);
});

test('the todo-digest example is installed from the install page', async () => {
  await go(page.locator('a', { hasText: 'Acme' }));
  assert.equal(new URL(page.url()).pathname, `/admin/workspaces/${WS}`);
  await go(page.locator('a', { hasText: 'Install a plugin' }));
  await page.selectOption('#plugin', 'todo-digest');
  await go(page.locator('button', { hasText: 'Choose' }));
  assert.match(await main(), /Daily to-do digest 1\.0\.0/);
  assert.match(await main(), /no installation parameters/);
  await screenshot(page, '03-install');
  await go(page.locator('button', { hasText: 'Install' }));
  assert.match(new URL(page.url()).pathname, new RegExp(`^/admin/workspaces/${WS}/installations/inst_`));
  assert.equal(await flash(), 'Daily to-do digest 1.0.0 installed.');
  assert.match(await main(), /\/workspaces\/acme\/todo\/digest/);

  const list = await h.api('GET', `/api/v1/workspaces/${WS}/installations`);
  const digest = list.body.data.find((i: { plugin: string }) => i.plugin === 'todo-digest');
  assert.deepEqual([digest.version, digest.active, digest.namespace], ['1.0.0', true, 'todo']);
  await screenshot(page, '04-installation');
});

test('installation parameters: secure ones are write-only; settings, upgrade, deactivate, uninstall', async () => {
  await page.goto(`${h.url}/admin/workspaces/${WS}/install?plugin=ui-settings&version=1.0.0`);
  assert.equal(await page.locator('#ip-apiKey').getAttribute('type'), 'password');
  assert.equal(await page.locator('#ip-mode').inputValue(), 'careful', 'the default is preselected');
  await page.fill('#ip-channel', '#ops <b>');
  await page.fill('#ip-retries', '3');
  await page.fill('#ip-apiKey', SECRET);
  await page.check('#ip-notify');
  await go(page.locator('button', { hasText: 'Install' }));
  assert.equal(await flash(), 'Settings demo 1.0.0 installed.');
  const id = new URL(page.url()).pathname.split('/').pop()!;

  // The secret is never sent back: an empty password field and a "set" badge.
  assert.equal(await page.locator('#ip-apiKey').inputValue(), '');
  assert.match(await page.locator('label[for="ip-apiKey"]').innerText(), /API key \*\s*set/);
  assert.ok(!(await page.content()).includes(SECRET));
  assert.equal(await page.locator('#ip-channel').inputValue(), '#ops <b>');
  assert.equal(await page.locator('#ip-retries').inputValue(), '3');
  assert.equal(await page.locator('#ip-notify').isChecked(), true);
  let view = (await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body;
  assert.deepEqual(view.iparams, { channel: '#ops <b>', mode: 'careful', retries: 3, notify: true });
  assert.deepEqual(view.secureIparamsSet, ['apiKey']);

  // Saving with the password field blank keeps the secret; other fields change.
  await page.fill('#ip-channel', '#alerts');
  await page.fill('#ip-retries', '');
  await page.uncheck('#ip-notify');
  await page.selectOption('#ip-mode', 'fast');
  await go(page.locator('button', { hasText: 'Save settings' }));
  assert.equal(await flash(), 'Settings of Settings demo saved.');
  view = (await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body;
  assert.deepEqual(view.iparams, { channel: '#alerts', mode: 'fast', retries: null, notify: false });
  assert.deepEqual(view.secureIparamsSet, ['apiKey']);

  // An error from the host is shown on the page, as its message.
  await page.locator('#ip-retries').evaluate((el) => el.setAttribute('type', 'text')); // what a browser without number inputs sends
  await page.fill('#ip-retries', 'three');
  await go(page.locator('button', { hasText: 'Save settings' }));
  assert.match(await flash(), /^INVALID_IPARAMS: The installation parameters have 1 problem: iparams\.retries: must be a number\.$/);
  await screenshot(page, '05-installation-settings');

  await page.selectOption('#version', '1.1.0');
  await go(page.locator('button', { hasText: 'Change version' }));
  assert.equal(await flash(), 'Settings demo runs version 1.1.0 now.');
  view = (await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body;
  assert.equal(view.version, '1.1.0');
  assert.deepEqual(view.secureIparamsSet, ['apiKey'], 'an upgrade keeps the secret');

  await go(page.locator('main button', { hasText: 'Deactivate' }));
  assert.equal(await flash(), 'Settings demo is inactive now.');
  assert.equal((await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body.active, false);
  assert.equal((await fetch(`${h.url}/workspaces/${WS}/settings/ping`)).status, 404);
  await go(page.locator('main button', { hasText: 'Activate' }));
  assert.equal((await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body.active, true);
  assert.equal((await fetch(`${h.url}/workspaces/${WS}/settings/ping`)).status, 200);

  await page.check('input[name="confirm"]');
  await go(page.locator('button', { hasText: 'Uninstall' }));
  assert.equal(await flash(), 'ui-settings was uninstalled.');
  assert.equal(new URL(page.url()).pathname, `/admin/workspaces/${WS}`);
  assert.equal((await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).status, 404);
  assert.deepEqual((await page.locator('tbody tr td:first-child a').allInnerTexts()).sort(), ['Daily to-do digest', 'ui-echo', 'ui-sync']);
  await screenshot(page, '06-workspace');
});

test('a scheduled webhook runs now from the schedules page; its run is found with its log', async () => {
  const digest = await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, {
    url: `/workspaces/${WS}/todo/digest?formId=${formId}&folderId=0&hipchatRoom=42&hipchatToken=x`, frequency: 'daily', start: '2099-01-01 09:00', description: 'Daily digest',
  });
  assert.equal(digest.status, 201, JSON.stringify(digest.body));
  const echo = await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, {
    url: `/workspaces/${WS}/echo/fail`, cron: '30 6 * * 1', start: '2099-01-01 00:00', timezone: 'America/New_York', description: 'Echo check', retries: 0,
  });
  assert.equal(echo.status, 201, JSON.stringify(echo.body));

  await go(page.locator('nav a', { hasText: 'Schedules' }));
  const digestRow = page.locator('tr', { hasText: 'Daily digest' });
  assert.match(await digestRow.innerText(), /2099-01-01 09:00:00 Europe\/Rome\s+2099-01-02 09:00:00 Europe\/Rome\s+2099-01-03 09:00:00 Europe\/Rome/);
  // Monday 2099-01-05 06:30 in New York is 12:30 in Rome; both zones are shown.
  assert.match(await page.locator('tr', { hasText: 'Echo check' }).innerText(), /2099-01-05 12:30:00 Europe\/Rome\s+\(2099-01-05 06:30:00 America\/New_York\)/);
  assert.match(await page.locator('tr', { hasText: 'Daily digest' }).innerText(), /active/);
  await screenshot(page, '07-schedules');

  await go(digestRow.locator('button', { hasText: 'Run now' }));
  assert.equal(await flash(), 'Ran webhook ' + digest.body.id + ' now: succeeded.');
  assert.match(new URL(page.url()).pathname, new RegExp(`^/admin/workspaces/${WS}/runs/run_`));
  assert.match(await main(), /succeeded HTTP 200/);
  const [posted] = await chat.waitForRequests(1);
  assert.equal(posted!.url, '/v2/room/42/message?auth_token=x');
  assert.match(JSON.parse(posted!.body).message, /Frontend\n.*Backend/s);

  await page.goto(`${h.url}/admin/workspaces/${WS}/schedules`);
  await go(page.locator('tr', { hasText: 'Echo check' }).locator('button', { hasText: 'Run now' }));
  assert.equal(await flash(), 'Ran webhook ' + echo.body.id + ' now: failed.');
  assert.match(await page.locator('main .flash.error').last().innerText(), /^PLUGIN_ERROR: Error: the target is unreachable/);
  const log = await page.locator('pre.log').innerText();
  assert.match(log, /\[log\] checking <script>window\.__pwned = 1<\/script>/);
  assert.match(log, /\[host\] PLUGIN_ERROR: Error: the target is unreachable/);
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'the logged script never ran');
  await screenshot(page, '08-run');

  // The history, filtered by status and kind; each run links to its page with the log.
  await go(page.locator('nav a', { hasText: 'Run history' }));
  // Three runs: the two webhooks and the settings plugin's route, called above.
  assert.equal(await page.locator('tbody tr').count(), 3);
  await page.selectOption('#f-status', 'failed');
  await go(page.locator('button', { hasText: 'Filter' }));
  assert.equal(new URL(page.url()).search, '?status=failed&kind=&installation=&from=&to=&q=');
  assert.equal(await page.locator('tbody tr').count(), 1);
  assert.match(await page.locator('tbody tr').innerText(), /webhook\s+manual\s+POST \/workspaces\/acme\/echo\/fail\s+failed/);
  await page.selectOption('#f-kind', 'route');
  await go(page.locator('button', { hasText: 'Filter' }));
  assert.match(await page.locator('tbody').innerText(), /No runs match\./);
  await page.selectOption('#f-status', '');
  await go(page.locator('button', { hasText: 'Filter' }));
  assert.match(await page.locator('tbody').innerText(), /^\S.*route\s+http\s+GET \/workspaces\/acme\/settings\/ping\s+succeeded HTTP 200/);
  await page.selectOption('#f-kind', 'webhook');
  await go(page.locator('button', { hasText: 'Filter' }));
  assert.equal(await page.locator('tbody tr').count(), 2);
  await screenshot(page, '09-runs');
  await go(page.locator('tbody tr', { hasText: 'digest' }).locator('a').first());
  assert.match(await main(), /The run wrote nothing to its log\./);
  assert.match(await main(), new RegExp(`${digest.body.id}@manual-occ_`));

  // A plugin's Haplo hook: its next time in the workspace zone, and run now.
  await page.goto(`${h.url}/admin/workspaces/${WS}/schedules`);
  const hookRow = page.locator('tr', { hasText: 'hScheduleDailyEarly' });
  assert.match(await hookRow.innerText(), /^hScheduleDailyEarly\s+Haplo hook\s+ui-sync\s+2026-05-04 06:00:00 Europe\/Rome\s+2026-05-05 06:00:00 Europe\/Rome/);
  await go(hookRow.locator('button', { hasText: 'Run now' }));
  assert.equal(await flash(), 'Ran hScheduleDailyEarly now: succeeded.');
  assert.match(await page.locator('pre.log').innerText(), /\[log\] early hook ran for 2026-5-4 2:00/);

  // Pause and resume.
  await page.goto(`${h.url}/admin/workspaces/${WS}/schedules`);
  await go(page.locator('tr', { hasText: 'Daily digest' }).locator('button', { hasText: 'Pause' }));
  assert.equal(await flash(), `Webhook ${digest.body.id} paused.`);
  assert.match(await page.locator('tr', { hasText: 'Daily digest' }).innerText(), /paused/);
  assert.equal((await h.api('GET', `/api/v1/workspaces/${WS}/scheduled-webhooks/${digest.body.id}`)).body.isActive, false);
  await go(page.locator('tr', { hasText: 'Daily digest' }).locator('button', { hasText: 'Resume' }));
  assert.equal((await h.api('GET', `/api/v1/workspaces/${WS}/scheduled-webhooks/${digest.body.id}`)).body.isActive, true);
});

test('a message queue: add by hand, send now, mark unsent', async () => {
  await go(page.locator('nav a', { hasText: 'Message queues' }));
  const row = () => page.locator('tr', { hasText: 'Student records updates' });
  assert.match(await row().innerText(), /unsent 0\s+sent 0/);
  await go(row().locator('a', { hasText: 'Student records updates' }));
  assert.equal(new URL(page.url()).pathname, `/admin/workspaces/${WS}/queues/student`);

  await page.fill('#data', '{"name": "ada",');
  await go(page.locator('button', { hasText: 'Add message' }));
  assert.match(await flash(), /^INVALID_JSON: the message data is not valid JSON/);
  assert.equal(await page.locator('#data').inputValue(), '{"name": "ada",', 'what was typed is kept');
  for (const name of ['ada', 'bob']) {
    await page.fill('#data', JSON.stringify({ name }));
    await go(page.locator('button', { hasText: 'Add message' }));
    assert.match(await flash(), /^Message \d+ added to student\.$/);
  }
  assert.equal(await page.locator('tbody tr').count(), 2);

  await page.goto(`${h.url}/admin/workspaces/${WS}/queues`);
  assert.match(await row().innerText(), /unsent 2\s+sent 0/);
  await go(row().locator('button', { hasText: 'Send now' }));
  assert.equal(await flash(), 'Sent 2 message(s) of student.');
  assert.equal(new URL(page.url()).pathname, `/admin/workspaces/${WS}/queues`);
  const [req] = await sis.waitForRequests(1);
  assert.equal(req!.url, '/import');
  assert.deepEqual(JSON.parse(req!.body).messages.map((m: { name: string }) => m.name), ['ada', 'bob']);
  assert.match(await row().innerText(), /unsent 0\s+sent 2/);
  await screenshot(page, '10-queues');

  await go(row().locator('a', { hasText: 'Student records updates' }));
  await go(page.locator('tbody tr', { hasText: '"bob"' }).locator('button', { hasText: 'Mark unsent' }));
  assert.match(await flash(), /^Message \d+ is unsent again; the next send delivers it\.$/);
  assert.match(await page.locator('tbody tr', { hasText: '"bob"' }).innerText(), /unsent/);
  await go(page.locator('a', { hasText: /^unsent$/ }));
  assert.equal(await page.locator('tbody tr').count(), 1);
  await screenshot(page, '11-queue');
  const queues = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages`);
  assert.deepEqual([queues.body.data[0].unsent, queues.body.data[0].sent], [1, 1]);
  const audit = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages/audit`);
  assert.deepEqual(audit.body.data.map((a: { action: string }) => a.action), ['mark-unsent', 'send', 'add', 'add']);
  assert.match(audit.body.data[0].actor, /^operator:tok_/);
});

test('signing out ends the session in the browser', async () => {
  await go(page.locator('header button', { hasText: 'Sign out' }));
  assert.equal(new URL(page.url()).pathname, '/admin/login');
  assert.equal(await flash(), 'Signed out.');
  await page.goto(`${h.url}/admin/workspaces`);
  assert.equal(new URL(page.url()).pathname, '/admin/login');
});
