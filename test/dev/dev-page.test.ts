// The dev host's page (`plughost dev` prints `dev page: <url>/dev/<key>`), in a real Chromium:
// it shows the plugin and the virtual clock, fires an event and moves the clock through its
// forms (no JavaScript on the page), lists the runs in the workspace's zone; a wrong key is 404
// and a cross-origin form post is refused. Each form goes through the REST endpoints that
// `plughost trigger` uses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDevServer, type DevServer } from '../../runtime/dev-server.ts';
import { artifact, launchBrowser, type Browser } from '../ui/helpers.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/sample');
const START = Date.parse('2026-06-10T06:00:00Z');
let dir: string;
let dev: DevServer;
let pageUrl: string;
let browser: Browser;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-devpage-'));
  fs.cpSync(fixture, dir, { recursive: true });
  const printed: string[] = [];
  dev = await startDevServer({
    dir, port: 0, startAt: START, tickMs: 0, watch: false, timezone: 'Europe/Rome', iparams: { greeting: 'hello page' },
    print: (line) => printed.push(line),
    ...(process.env.PLUGHOST_TEST_DATABASE_URL ? { databaseUrl: process.env.PLUGHOST_TEST_DATABASE_URL, schema: `t_devpage_${randomBytes(8).toString('hex')}` } : {}),
  });
  const line = printed.find((l) => l.startsWith('dev page: '));
  assert.ok(line, printed.join('\n'));
  pageUrl = /dev page: (\S+)/.exec(line)![1]!;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await dev?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the page shows the plugin, the clock in the workspace zone, and fires an event from its form', async () => {
  const { page } = browser;
  await page.goto(pageUrl);
  const intro = await page.locator('body > p').first().textContent();
  assert.match(intro!, /dev-sample@1\.0\.0-dev\.1/);
  assert.match(intro!, /Europe\/Rome.*2026-06-10T08:00:00\+02:00/);
  await page.locator('textarea[name=data]').fill('{"text": "from the page"}');
  await page.getByRole('button', { name: 'Fire' }).click();
  await page.waitForURL(/ran=/);
  assert.match((await page.locator('.ok').textContent())!, /ran onScheduledEvent \(run_\w+\): succeeded/);
  const rows = await page.locator('table tr').allTextContents();
  assert.ok(rows.some((r) => /event.*onScheduledEvent.*succeeded/s.test(r)), rows.join('\n'));
  await artifact(page, 'dev-page');
});

test('the clock form moves the virtual clock; a bad move is shown, not thrown', async () => {
  const { page } = browser;
  await page.goto(pageUrl);
  await page.locator('input[name=advance]').fill('2h');
  await page.getByRole('button', { name: 'Move' }).click();
  await page.waitForURL(/ran=/);
  assert.match((await page.locator('.ok').textContent())!, /the clock to 2026-06-10T08:00:00\.000Z/);
  assert.equal(dev.clock.now(), START + 2 * 3_600_000);
  await page.locator('input[name=advance]').fill('soon');
  await page.getByRole('button', { name: 'Move' }).click();
  await page.waitForURL(/error=/);
  assert.match((await page.locator('.error').textContent())!, /"soon" is not a duration/);
});

test('a wrong key is 404; a form post from another origin is refused', async () => {
  const wrong = pageUrl.replace(/\/dev\/\w+$/, '/dev/0123456789abcdef01234567');
  assert.equal((await fetch(wrong)).status, 404);
  const cross = await fetch(`${pageUrl}/clock`, { method: 'POST', redirect: 'manual', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'advance=1h' });
  assert.equal(cross.status, 403);
  assert.equal(dev.clock.now(), START + 2 * 3_600_000, 'nothing moved');
  const page = await fetch(pageUrl);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
});
