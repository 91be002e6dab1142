// Managing a workspace from the admin UI in headless Chromium: a scheduled webhook created with
// a preview of its next runs (in the workspace's zone) before saving, the saved webhook's next
// runs (its row, the REST preview) being the ones previewed, then edited and deleted, a failed
// save keeping what was typed; a workspace token, a poll key and an API key created (shown once,
// each opening what it should), the token and the poll key revoked (refused from then on); the run history filtered by plugin, start time and text, paged both
// ways, times in the zone with UTC as their title; a webhook's run re-run, and a route call's
// Re-run disabled with the reason; a fired one-time schedule showing its last run; and every
// page at 390 px wide without horizontal scrolling. Screenshots go to $PLUGHOST_ARTIFACTS/plughost-ui.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { artifact, clickAndLoad, horizontalOverflow, launchBrowser, signInBrowser, type Browser } from './helpers.ts';

const HOUR = 3_600_000;
// A virtual clock: nothing fires unless the test moves it. 2026-05-04 00:00 UTC is 02:00 in Rome.
const clock = createVirtualClock(Date.parse('2026-05-04T00:00:00Z'));
const fixture = path.join(import.meta.dirname, '../schedule/fixtures/fw-reminders');
let h: TestHost;
let browser: Browser;
let page: Page;

const go = (target: Parameters<typeof clickAndLoad>[1]) => clickAndLoad(page, target);
const flash = () => page.locator('.flash').first().innerText();
const rows = () => page.locator('tbody tr');
const at = (p: string) => page.goto(h.url + p);

before(async () => {
  h = await startHost({ clock });
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-ping', version: '1.0.0', namespace: 'ping', services: [{ route: 'ping', main: 'ping.js' }, { route: 'fail', main: 'fail.js' }], limits: { timeoutMs: 1000 } },
    'ping.js': 'exports.run = function (e) { e.response.json({ ok: true }); };',
    'fail.js': 'exports.run = function (e) { throw new Error("the <b>backend</b> is down"); };',
  })).status, 201);
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-other', version: '1.0.0', namespace: 'other', services: [{ route: 'hello', main: 'plugin.js' }], limits: { timeoutMs: 1000 } },
    'plugin.js': 'exports.run = function (e) { e.response.send("hello"); };',
  })).status, 201);
  const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
  assert.equal((await h.publish({ 'plugin.json': read('plugin.json'), 'server.js': read('server.js'), 'routes.js': read('routes.js') })).status, 201);
  for (const id of ['acme', 'logs']) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id, name: id === 'acme' ? 'Acme' : 'Logs', timezone: 'Europe/Rome' })).status, 201);
    for (const plugin of ['ui-ping', 'ui-other']) assert.equal((await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin })).status, 201);
  }
  assert.equal((await h.api('POST', '/api/v1/workspaces/acme/installations', { plugin: 'fw-reminders', iparams: { greeting: 'hi' } })).status, 201);
  // A Haplo plugin with an `/api` respond root, which an API key opens.
  assert.equal((await h.publish({
    'plugin.json': { pluginName: 'ui_api', pluginVersion: 1, apiVersion: 4, load: ['js/ui_api.js'], respond: ['/api/ui-api'] },
    'js/ui_api.js': 'P.respond("GET", "/api/ui-api/hello", [], function(E) { E.response.kind = "json"; E.response.body = {hello: true}; });',
  })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/acme/installations', { plugin: 'ui_api' })).status, 201);
  browser = await launchBrowser();
  page = browser.page;
  await signInBrowser(page, h.url, h.operatorToken);
});
after(async () => {
  await browser?.close();
  await h?.close();
});

const previewTimes = () => page.locator('#preview li').allInnerTexts();
/** The REST API's preview of a stored webhook: its next `count` fire times, in its own zone. */
const restPreview = async (id: string, count = 5) => {
  const res = await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${id}/preview?count=${count}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((d: { local: string }) => `${d.local} ${res.body.timezone}`) as string[];
};
const basic = (key: string) => `Basic ${Buffer.from(`haplo:${key}`).toString('base64')}`;

test('a scheduled webhook is created after a preview of its next runs, edited, and deleted', async () => {
  await at('/admin/workspaces/acme/schedules');
  await go(page.locator('a', { hasText: 'New scheduled webhook' }));
  assert.equal(await page.locator('#wh-timezone').inputValue(), 'Europe/Rome', 'the workspace zone is the default');

  // A failed save shows the form again as typed, with the error; nothing is saved.
  await page.fill('#wh-url', '/workspaces/acme/ping/ping');
  await page.fill('#wh-description', 'Morning <ping>');
  await page.selectOption('#wh-repeat', 'cron');
  await page.fill('#wh-cron', 'every monday');
  await page.fill('#wh-start', '2026-05-10T09:00');
  await go(page.locator('button', { hasText: 'Create webhook' }));
  assert.match(await flash(), /^INVALID_BODY: the body has 1 problem\(s\): cron: is not a valid cron expression$/);
  assert.equal(await page.locator('#wh-description').inputValue(), 'Morning <ping>');
  assert.equal(await page.locator('#wh-cron').inputValue(), 'every monday');
  assert.equal(await page.locator('#wh-repeat').inputValue(), 'cron');
  assert.equal(await page.locator('#wh-start').inputValue(), '2026-05-10T09:00');
  assert.equal((await h.api('GET', '/api/v1/workspaces/acme/scheduled-webhooks')).body.data.length, 0);

  // The preview: the next five runs in the workspace's zone, and still nothing saved.
  await page.selectOption('#wh-repeat', 'daily');
  await go(page.locator('button', { hasText: 'Preview next runs' }));
  const previewed = await previewTimes();
  assert.deepEqual(previewed, [10, 11, 12, 13, 14].map((d) => `2026-05-${d} 09:00:00 Europe/Rome`));
  assert.match(await page.locator('#preview').innerText(), /Nothing is saved yet\./);
  assert.equal((await h.api('GET', '/api/v1/workspaces/acme/scheduled-webhooks')).body.data.length, 0);
  assert.equal(await page.locator('#wh-description').inputValue(), 'Morning <ping>', 'the form keeps its values');
  await artifact(page, 'webhook-preview');

  await go(page.locator('button', { hasText: 'Create webhook' }));
  assert.equal(new URL(page.url()).pathname, '/admin/workspaces/acme/schedules');
  const [created] = (await h.api('GET', '/api/v1/workspaces/acme/scheduled-webhooks')).body.data;
  assert.equal(await flash(), `Webhook ${created.id} created.`);
  assert.deepEqual([created.url, created.frequency, created.start, created.timezone, created.description], ['/workspaces/acme/ping/ping', 'daily', '2026-05-10 09:00', 'Europe/Rome', 'Morning <ping>']);
  const row = () => page.locator('tr', { hasText: 'Morning <ping>' });
  assert.match(await row().innerText(), /2026-05-10 09:00:00 Europe\/Rome\s+2026-05-11 09:00:00 Europe\/Rome\s+2026-05-12 09:00:00 Europe\/Rome\s+never/, 'the next runs previewed');
  assert.deepEqual(await restPreview(created.id), previewed, 'the REST preview of the saved webhook: the times previewed');

  // On the edit page, a preview with nothing changed shows the stored next runs.
  await go(row().locator('a', { hasText: 'Edit' }));
  await go(page.locator('button', { hasText: 'Preview next runs' }));
  assert.deepEqual(await previewTimes(), previewed);
  await at('/admin/workspaces/acme/schedules');

  // Edit: a cron in another zone; the preview shows both zones, and the saved webhook runs at those times.
  await go(row().locator('a', { hasText: 'Edit' }));
  assert.equal(await page.locator('#wh-start').inputValue(), '2026-05-10T09:00');
  await page.selectOption('#wh-repeat', 'cron');
  await page.fill('#wh-cron', '30 6 * * 1');
  await page.fill('#wh-timezone', 'America/New_York');
  await go(page.locator('button', { hasText: 'Preview next runs' }));
  const times = await previewTimes();
  assert.equal(times.length, 5);
  assert.equal(times[0], '2026-05-11 12:30:00 Europe/Rome (2026-05-11 06:30:00 America/New_York)');
  assert.equal(times[1], '2026-05-18 12:30:00 Europe/Rome (2026-05-18 06:30:00 America/New_York)');
  await go(page.locator('button', { hasText: 'Save changes' }));
  assert.equal(await flash(), `Webhook ${created.id} saved.`);
  assert.deepEqual(await restPreview(created.id), times.map((t) => /\((.+)\)$/.exec(t)![1]!), 'saved: the times previewed, in its own zone');
  let stored = (await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.id}`)).body;
  assert.deepEqual([stored.frequency, stored.cron, stored.timezone, stored.nextRunAt], [null, '30 6 * * 1', 'America/New_York', '2026-05-11T10:30:00.000Z']);
  assert.match(await row().innerText(), /2026-05-11 12:30:00 Europe\/Rome\s+\(2026-05-11 06:30:00 America\/New_York\)\s+2026-05-18 12:30:00 Europe\/Rome/);

  // A change that fails keeps what was typed, and the stored webhook as it was.
  await go(row().locator('a', { hasText: 'Edit' }));
  await page.fill('#wh-cron', '61 * * * *');
  await page.fill('#wh-description', 'Renamed');
  await go(page.locator('button', { hasText: 'Save changes' }));
  assert.match(await flash(), /^INVALID_BODY: the body has 1 problem\(s\): cron: is not a valid cron expression$/);
  assert.equal(await page.locator('#wh-cron').inputValue(), '61 * * * *');
  assert.equal(await page.locator('#wh-description').inputValue(), 'Renamed');
  stored = (await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.id}`)).body;
  assert.deepEqual([stored.cron, stored.description], ['30 6 * * 1', 'Morning <ping>']);

  // Only the description changes: the timing, the next run and the secret stay.
  await page.fill('#wh-cron', '30 6 * * 1');
  await go(page.locator('button', { hasText: 'Save changes' }));
  const renamed = (await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.id}`)).body;
  assert.deepEqual([renamed.description, renamed.nextRunAt, renamed.secretKey], ['Renamed', stored.nextRunAt, stored.secretKey]);
  await artifact(page, 'schedules');

  await go(page.locator('tr', { hasText: 'Renamed' }).locator('a', { hasText: 'Edit' }));
  await page.check('input[name="confirm"]');
  await go(page.locator('button', { hasText: 'Delete webhook' }));
  assert.equal(await flash(), `Webhook ${created.id} deleted.`);
  assert.equal((await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.id}`)).status, 404);
  assert.match(await page.locator('main').innerText(), /No scheduled webhooks yet\./);
});

test('a workspace token, a poll key and an API key are shown once when made; the token and the poll key are revoked', async () => {
  await at('/admin/workspaces/acme');
  await go(page.locator('nav a', { hasText: 'Tokens and keys' }));
  await go(page.locator('button', { hasText: 'Create a workspace token' }));
  const token = await page.locator('#new-secret').innerText();
  assert.match(token, /^phw_[A-Za-z0-9_-]{32}$/);
  assert.equal((await h.api('GET', '/api/v1/workspaces/acme', undefined, token)).status, 200, 'the token works');
  const id = /Its id is (tok_\w+)/.exec(await page.locator('main').innerText())![1]!;
  await artifact(page, 'token-created');

  await at('/admin/workspaces/acme/tokens');
  assert.ok(!(await page.content()).includes(token), 'never shown again');
  await go(page.locator('tr', { hasText: id }).locator('button', { hasText: 'Revoke' }));
  assert.equal(await flash(), `Token ${id} revoked.`);
  assert.equal(await page.locator('tr', { hasText: id }).count(), 0);
  assert.equal((await h.api('GET', '/api/v1/workspaces/acme', undefined, token)).status, 401, 'refused once revoked');

  // A poll key: a bad queue name is reported with what was typed; a good one opens its queue's poll API.
  await page.fill('#pk-group', 'no spaces allowed');
  await go(page.locator('button', { hasText: 'Create a poll key' }));
  assert.match(await flash(), /^INVALID_BODY: group must be 1-100 letters/);
  assert.equal(await page.locator('#pk-group').inputValue(), 'no spaces allowed');
  await page.fill('#pk-group', 'student');
  await go(page.locator('button', { hasText: 'Create a poll key' }));
  const key = await page.locator('#new-secret').innerText();
  const keyId = /Its id is (key_\w+)/.exec(await page.locator('main').innerText())![1]!;
  const poll = () => fetch(`${h.url}/workspaces/acme/api/haplo-integration-messages/poll/student/fetch`, { headers: { authorization: basic(key) } });
  assert.equal((await poll()).status, 200);
  await artifact(page, 'poll-key-created');

  // Listed by id and queue (never the key); revoked, the poll API refuses it.
  await at('/admin/workspaces/acme/tokens');
  assert.ok(!(await page.content()).includes(key), 'never shown again');
  const keyRow = page.locator('tr', { hasText: keyId });
  assert.match(await keyRow.innerText(), /student\s+2026-05-04 02:00:00 Europe\/Rome/);
  await go(keyRow.locator('button', { hasText: 'Revoke' }));
  assert.equal(await flash(), `Poll key ${keyId} for student revoked: its poller is refused from now on.`);
  assert.equal(await page.locator('tr', { hasText: keyId }).count(), 0);
  assert.equal((await poll()).status, 401, 'refused once revoked');

  // An API key: a bad path is reported with what was typed; a good one opens its path, once shown.
  await page.fill('#ak-name', 'Reporting <sync>');
  await page.fill('#ak-path', '/api/ui-api/');
  await go(page.locator('button', { hasText: 'Create an API key' }));
  assert.match(await flash(), /^INVALID_BODY: the body has 1 problem\(s\): path: must be a path under \/api\//);
  assert.equal(await page.locator('#ak-name').inputValue(), 'Reporting <sync>');
  assert.equal(await page.locator('#ak-path').inputValue(), '/api/ui-api/');
  assert.equal(await page.locator('#new-secret').count(), 0);
  await page.fill('#ak-path', '/api/ui-api');
  await go(page.locator('button', { hasText: 'Create an API key' }));
  const apiKey = await page.locator('#new-secret').innerText();
  assert.match(apiKey, /^pha_[A-Za-z0-9_-]{32}$/);
  assert.match(await page.locator('[role=status]').innerText(), /New API key Reporting <sync>/);
  await artifact(page, 'api-key-created');
  const hello = await fetch(`${h.url}/workspaces/acme/api/ui-api/hello`, { headers: { authorization: basic(apiKey) } });
  assert.equal(hello.status, 200, await hello.clone().text());
  assert.deepEqual(await hello.json(), { hello: true });
  assert.equal((await fetch(`${h.url}/workspaces/acme/api/ui-api/hello`, { headers: { authorization: basic(key) } })).status, 401, 'a poll key opens no /api path');
  await at('/admin/workspaces/acme/tokens');
  assert.ok(!(await page.content()).includes(apiKey), 'never shown again');
  assert.match(await page.locator('tr', { hasText: 'Reporting <sync>' }).innerText(), /\/api\/ui-api\s+2026-05-04 02:00:00 Europe\/Rome\s+active/);

  const audit = (await h.api('GET', '/api/v1/workspaces/acme/integration-messages/audit')).body.data.map((a: { action: string }) => a.action);
  assert.deepEqual(audit.slice(0, 5), ['create-api-key', 'revoke-poll-key', 'create-poll-key', 'revoke-token', 'create-token']);
});

test('the run history: filtered by plugin, start time and text, paged both ways, zoned times with UTC titles', async () => {
  // Five route calls an hour apart, from 02:00 to 06:00 in Rome.
  for (const route of ['ping/ping', 'ping/fail', 'other/hello', 'ping/ping', 'ping/fail']) {
    await fetch(`${h.url}/workspaces/logs/${route}`);
    await clock.advance(HOUR);
  }
  await at('/admin/workspaces/logs/runs');
  assert.equal(await rows().count(), 5);
  const first = page.locator('tbody tr').first().locator('time');
  assert.equal(await first.innerText(), '2026-05-04 06:00:00');
  assert.equal(await first.getAttribute('title'), '2026-05-04T04:00:00.000Z');
  assert.match(await rows().first().innerText(), /^2026-05-04 06:00:00 Europe\/Rome\s+ui-ping\s+route\s+http\s+GET \/workspaces\/logs\/ping\/fail\s+failed\s+\d+ ms\s+PLUGIN_ERROR Error: the <b>backend<\/b> is down\s+Re-run$/);

  const filterBy = async (fields: Record<string, string>) => {
    for (const [id, value] of Object.entries(fields)) {
      if (id === 'f-installation') await page.selectOption(`#${id}`, { label: value });
      else await page.fill(`#${id}`, value);
    }
    await go(page.locator('button', { hasText: 'Filter' }));
    return (await rows().allInnerTexts()).map((r) => /GET (\S+)/.exec(r)?.[1] ?? r);
  };
  assert.deepEqual(await filterBy({ 'f-installation': 'ui-other (other)' }), ['/workspaces/logs/other/hello']);
  assert.deepEqual(await filterBy({ 'f-installation': 'ui-ping (ping)', 'f-q': 'BACKEND' }), ['/workspaces/logs/ping/fail', '/workspaces/logs/ping/fail'], 'the error message, any case');
  await page.selectOption('#f-installation', '');
  assert.deepEqual(await filterBy({ 'f-q': 'other/hel' }), ['/workspaces/logs/other/hello'], 'the target');
  assert.deepEqual(await filterBy({ 'f-q': '%' }), ['No runs match.'], 'a wildcard is text');
  assert.deepEqual(await filterBy({ 'f-q': '', 'f-from': '2026-05-04T03:00', 'f-to': '2026-05-04T05:00' }),
    ['/workspaces/logs/ping/ping', '/workspaces/logs/other/hello', '/workspaces/logs/ping/fail'], 'from and to in Rome, to holding its minute');
  assert.equal(await page.locator('#f-from').inputValue(), '2026-05-04T03:00', 'the filter keeps its values');
  await artifact(page, 'runs-filtered');
  await go(page.locator('a', { hasText: 'Clear filters' }));
  assert.equal(await rows().count(), 5);

  // Two a page: Older, Older, then Newer back.
  const times = async () => page.locator('tbody tr time').allInnerTexts();
  const links = async () => page.locator('main a', { hasText: /Newer runs|Older runs/ }).allInnerTexts();
  await at('/admin/workspaces/logs/runs?limit=2');
  assert.deepEqual([await times(), await links()], [['2026-05-04 06:00:00', '2026-05-04 05:00:00'], ['Older runs →']]);
  await go(page.locator('a', { hasText: 'Older runs' }));
  assert.deepEqual([await times(), await links()], [['2026-05-04 04:00:00', '2026-05-04 03:00:00'], ['← Newer runs', 'Older runs →']]);
  await go(page.locator('a', { hasText: 'Older runs' }));
  assert.deepEqual([await times(), await links()], [['2026-05-04 02:00:00'], ['← Newer runs']]);
  await go(page.locator('a', { hasText: 'Newer runs' }));
  assert.deepEqual([await times(), await links()], [['2026-05-04 04:00:00', '2026-05-04 03:00:00'], ['← Newer runs', 'Older runs →']]);
  await go(page.locator('a', { hasText: 'Newer runs' }));
  assert.deepEqual([await times(), await links()], [['2026-05-04 06:00:00', '2026-05-04 05:00:00'], ['Older runs →']]);
});

test('a webhook\'s run is re-run; a route call\'s Re-run is disabled with the reason', async () => {
  const hook = (await h.api('POST', '/api/v1/workspaces/acme/scheduled-webhooks', { url: '/workspaces/acme/ping/ping', frequency: 'daily', start: '2099-01-01 09:00', description: 'Nightly' })).body;
  await at('/admin/workspaces/acme/schedules');
  await go(page.locator('tr', { hasText: 'Nightly' }).locator('button', { hasText: 'Run now' }));
  const firstRun = new URL(page.url()).pathname;
  assert.match(firstRun, /^\/admin\/workspaces\/acme\/runs\/run_/);
  await go(page.locator('main button', { hasText: 'Re-run' }));
  assert.equal(await flash(), `Ran webhook ${hook.id} now: succeeded.`);
  assert.notEqual(new URL(page.url()).pathname, firstRun, 'a new run');
  assert.match(await page.locator('main').innerText(), /webhook \(manual\)/);

  // From the list too, where each run of the webhook has its button.
  await at(`/admin/workspaces/acme/runs?schedule=${hook.id}`);
  assert.equal(await rows().count(), 2);
  await go(rows().first().locator('button', { hasText: 'Re-run' }));
  assert.equal(await flash(), `Ran webhook ${hook.id} now: succeeded.`);
  await at(`/admin/workspaces/acme/runs?schedule=${hook.id}`);
  assert.equal(await rows().count(), 3);

  await fetch(`${h.url}/workspaces/acme/ping/ping`);
  await at('/admin/workspaces/acme/runs?kind=route');
  const disabled = rows().first().locator('button', { hasText: 'Re-run' });
  assert.equal(await disabled.isDisabled(), true);
  assert.match(await disabled.getAttribute('title') ?? '', /An HTTP route call cannot be re-run/);
  await go(rows().first().locator('a').first());
  assert.equal(await page.locator('main button', { hasText: 'Re-run' }).isDisabled(), true);
  assert.match(await page.locator('main').innerText(), /An HTTP route call cannot be re-run: the host does not keep the request it answered\./);
});

test('a fired one-time plugin schedule shows its last run on the schedules page', async () => {
  const res = await fetch(`${h.url}/workspaces/acme/fw/sched`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'create', args: { name: 'once', schedule_at: new Date(clock.now() + 10 * 60_000).toISOString(), data: { n: 1 } } }),
  });
  assert.equal(res.status, 200);
  await at('/admin/workspaces/acme/schedules');
  assert.match(await page.locator('tr', { hasText: 'once' }).innerText(), /^once\s+plugin schedule\s+fw-reminders\s+2026-05-04 07:10:00 Europe\/Rome\s+\(2026-05-04 05:10:00 UTC\)\s+never/);
  await clock.advance(10 * 60_000);
  await h.host.scheduler.idle();
  await at('/admin/workspaces/acme/schedules');
  const row = page.locator('tr', { hasText: 'once' });
  assert.match(await row.innerText(), /^once\s+plugin schedule\s+fw-reminders\s+none\s+2026-05-04 07:10:00 Europe\/Rome succeeded/);
  await go(row.locator('td').nth(4).locator('a'));
  assert.match(await page.locator('main').innerText(), /PAYLOAD/);
});

test('at 390 px wide no page scrolls sideways; the runs page is kept as a screenshot', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  const installation = (await h.api('GET', '/api/v1/workspaces/acme/installations')).body.data[0].id;
  const pages = ['/admin/workspaces', '/admin/workspaces/acme', '/admin/workspaces/acme/schedules', '/admin/workspaces/acme/webhooks/new',
    '/admin/workspaces/logs/runs', '/admin/workspaces/acme/runs', '/admin/workspaces/acme/tokens', '/admin/workspaces/acme/queues',
    '/admin/workspaces/acme/install?plugin=fw-reminders', `/admin/workspaces/acme/installations/${installation}`];
  for (const p of pages) {
    await at(p);
    assert.equal(await horizontalOverflow(page), 0, p);
  }
  await at('/admin/workspaces/logs/runs');
  await go(rows().first().locator('a').first());
  assert.equal(await horizontalOverflow(page), 0, 'a run');
  await at('/admin/workspaces/logs/runs');
  // Each cell is labelled with its column once the table stacks.
  const label = await rows().first().locator('td').nth(3).evaluate((td) => (globalThis as unknown as { getComputedStyle(e: unknown, p: string): { content: string } }).getComputedStyle(td, '::before').content);
  assert.equal(label, '"Target"');
  const file = await artifact(page, 'runs-390');
  assert.ok(fs.statSync(file).size > 0);
  await page.setViewportSize({ width: 1280, height: 900 });
});
