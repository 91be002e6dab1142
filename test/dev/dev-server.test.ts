// The dev host behind `plughost dev` (runtime/dev-server.ts), in-process on a temporary copy
// of a small plugin folder: it serves the plugin in the `dev` workspace as `<version>-dev.<n>`
// with the given iparams and prints its URL, token, reloads and every run with its log; a
// save is served in under a second as the next -dev version; a syntax error (with its line),
// code that throws while loading, a bad manifest or iparams the new manifest refuses are
// reported and the previous version keeps serving; `POST /api/v1/dev/clock` (operator only,
// forward only) steps the virtual clock through every due `$schedule` occurrence; the clock
// follows real time; a plugin breaking the time limit, `$schedule`'s 4 KB `data` bound or its
// permitted hosts fails exactly as on a production host; a renamed namespace replaces the
// installation; the registry orders -dev.10 after -dev.9; plugin code reads the virtual time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDevServer, type DevServer, type ReloadResult } from '../../runtime/dev-server.ts';
import type { Run } from '../../runtime/store/runs.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/sample');
const MIN = 60_000;
const START = Date.parse('2026-06-10T06:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const pgOptions = () => (process.env.PLUGHOST_TEST_DATABASE_URL
  ? { databaseUrl: process.env.PLUGHOST_TEST_DATABASE_URL, schema: `t_dev_${randomBytes(8).toString('hex')}` }
  : {});

let dir: string;
let dev: DevServer;
let prod: TestHost;
const printed: string[] = [];

const original = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const edition = (n: number) => original('routes.js').replace('var EDITION = 1;', `var EDITION = ${n};`);

/** The next reload that is not `unchanged` (or any, with `any`); listen before saving. */
function nextReload(any = false): Promise<ReloadResult> {
  return new Promise((resolve) => {
    const on = (r: ReloadResult) => {
      if (!any && r.status === 'unchanged') return;
      dev.events.off('reload', on);
      resolve(r);
    };
    dev.events.on('reload', on);
  });
}

/** Writes a file of the plugin folder and resolves with the reload it causes. */
async function save(file: string, content: string, expect: 'change' | 'unchanged' = 'change'): Promise<ReloadResult> {
  const reloaded = nextReload(expect === 'unchanged');
  fs.writeFileSync(path.join(dir, file), content);
  return reloaded;
}

async function api(method: string, p: string, body?: unknown, token: string | null = dev.operatorToken): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(dev.url + p, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function route(base: string, p: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p, init);
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, body };
}

const hello = () => route(dev.url, '/workspaces/dev/sample/hello');

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-dev-plugin-'));
  fs.cpSync(fixture, dir, { recursive: true });
  dev = await startDevServer({
    dir, port: 0, startAt: START, tickMs: 0, timezone: 'Europe/Rome', iparams: { greeting: 'hello dev' },
    print: (line) => printed.push(line), ...pgOptions(),
  });
  prod = await startHost();
  const files = Object.fromEntries(fs.readdirSync(fixture).map((f) => [f, original(f)]));
  assert.equal((await prod.publish(files)).status, 201);
  assert.equal((await prod.api('POST', '/api/v1/workspaces', { id: 'prod', name: 'prod' })).status, 201);
  assert.equal((await prod.api('POST', '/api/v1/workspaces/prod/installations', { plugin: 'dev-sample', iparams: { greeting: 'hi' } })).status, 201);
});
after(async () => {
  await dev?.close();
  await prod?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  if (dev) assert.equal(fs.existsSync(dev.dataDir), false, 'the temporary data directory is removed');
});

test('serves the plugin in the dev workspace as <version>-dev.1 and prints its URLs, token and runs', async () => {
  assert.equal(dev.running, 'dev-sample@1.0.0-dev.1');
  assert.match(dev.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const ran = once(dev.events, 'run') as Promise<[Run]>;
  assert.deepEqual(await hello(), { status: 200, body: { edition: 1 } });
  const [run] = await ran;
  assert.equal(run.kind, 'route');
  assert.equal(run.status, 'succeeded');

  const inst = await api('GET', `/api/v1/workspaces/dev/installations/${dev.installationId}`);
  assert.equal(inst.status, 200);
  assert.equal(inst.body.version, '1.0.0-dev.1');
  assert.equal(inst.body.active, true);
  assert.deepEqual(inst.body.iparams, { greeting: 'hello dev' });
  assert.equal((await api('GET', '/api/v1/workspaces/dev')).body.timezone, 'Europe/Rome');

  assert.ok(printed.includes(`listening on ${dev.url} (data in ${process.env.PLUGHOST_TEST_DATABASE_URL ? 'PostgreSQL' : dev.dataDir}, removed on exit)`), printed.join('\n'));
  assert.ok(printed.includes(`operator token: ${dev.operatorToken}`));
  assert.ok(printed.includes('workspace dev (Europe/Rome); virtual clock at 2026-06-10T08:00:00+02:00, following real time'), 'times in the workspace zone');
  assert.ok(printed.some((l) => l.startsWith(`loaded dev-sample@1.0.0-dev.1 (installation ${dev.installationId}) in `)));
  for (const r of ['hello', 'sched', 'limits']) assert.ok(printed.includes(`  ${dev.url}/workspaces/dev/sample/${r}`), r);
  assert.ok(printed.includes(`  onScheduledEvent: onScheduledEventHandler (plughost trigger event ${dev.installationId})`));
  assert.ok(printed.includes(`  hook hScheduleDailyEarly (plughost trigger hook ${dev.installationId} hScheduleDailyEarly)`));
  assert.ok(printed.includes(`watching ${fs.realpathSync(dir)} for changes`) || printed.includes(`watching ${dir} for changes`));
  const runLine = printed.find((l) => l.includes(`[${run.id}]`));
  assert.ok(runLine, 'the run was printed');
  assert.match(runLine, new RegExp(`^2026-06-10T08:00:00\\+02:00 route GET /workspaces/dev/sample/hello \\(http\\): succeeded HTTP 200 in \\d+ ms  \\[${run.id}\\]\\n  \\| \\S+ \\[log\\] hello from edition 1$`));
});

test('a save is served within a second as the next -dev version of the same installation', async () => {
  const started = performance.now();
  const r = await save('routes.js', edition(2));
  const elapsed = performance.now() - started;
  assert.equal(r.status, 'reloaded', JSON.stringify(r));
  assert.ok(elapsed < 1000, `the reload took ${Math.round(elapsed)} ms`);
  if (r.status !== 'reloaded') return;
  assert.equal(r.version, '1.0.0-dev.2');
  assert.equal(r.installationId, dev.installationId);
  assert.deepEqual(r.urls.map((u) => u.slice(dev.url.length)), ['/workspaces/dev/sample/hello', '/workspaces/dev/sample/sched', '/workspaces/dev/sample/limits']);
  assert.deepEqual(await hello(), { status: 200, body: { edition: 2 } });
  const versions = await api('GET', '/api/v1/plugins/dev-sample');
  assert.deepEqual(versions.body.versions.map((v: { version: string }) => v.version).sort(), ['1.0.0-dev.1', '1.0.0-dev.2']);
  // The published manifest carries the dev version, like the installation.
  assert.equal(versions.body.versions.find((v: { version: string }) => v.version === '1.0.0-dev.2').manifest.version, '1.0.0-dev.2');
});

test('a syntax error is reported with its file and line; the previous version keeps serving', async () => {
  const broken = edition(99).replace("status(200).json({ edition: EDITION });", 'status(200).json({ edition: EDITION );');
  const r = await save('routes.js', broken);
  assert.equal(r.status, 'failed');
  if (r.status !== 'failed') return;
  assert.equal(r.error.code, 'PLUGIN_LOAD_ERROR');
  assert.match(r.error.message, /^routes\.js:5: SyntaxError: /);
  assert.equal(r.running, 'dev-sample@1.0.0-dev.2');
  assert.deepEqual(await hello(), { status: 200, body: { edition: 2 } });
  assert.ok(printed.some((l) => l.startsWith('reload failed: PLUGIN_LOAD_ERROR: routes.js:5: SyntaxError: ')), printed.slice(-5).join('\n'));
  assert.ok(printed.includes('still running dev-sample@1.0.0-dev.2; fix the problem and save again'));
  assert.equal((await api('GET', '/api/v1/plugins/dev-sample')).body.versions.length, 2, 'nothing was published');

  const fixed = await save('routes.js', edition(3));
  assert.equal(fixed.status, 'reloaded');
  assert.equal(fixed.status === 'reloaded' && fixed.version, '1.0.0-dev.3', 'only good saves take a version');
  assert.deepEqual(await hello(), { status: 200, body: { edition: 3 } });
});

test('code that throws while loading, a bad manifest and refused iparams keep the previous version', async () => {
  const throwing = await save('server.js', original('server.js') + "\nthrow new Error('boom while loading');\n");
  assert.equal(throwing.status, 'failed');
  if (throwing.status === 'failed') {
    assert.equal(throwing.error.code, 'PLUGIN_LOAD_ERROR');
    assert.match(throwing.error.message, /boom while loading/);
    assert.equal(throwing.running, 'dev-sample@1.0.0-dev.3');
  }
  assert.deepEqual(await hello(), { status: 200, body: { edition: 3 } });
  assert.equal((await save('server.js', original('server.js'), 'unchanged')).status, 'unchanged', 'back to the running code: nothing to publish');

  const manifest = JSON.parse(original('plugin.json'));
  const bad = await save('plugin.json', JSON.stringify({ ...manifest, namespace: 'api', limits: { timeoutMs: 5 } }));
  assert.equal(bad.status, 'failed');
  if (bad.status === 'failed') {
    assert.equal(bad.error.code, 'INVALID_MANIFEST');
    const paths = (bad.error.details as Array<{ path: string }>).map((d) => d.path).sort();
    assert.deepEqual(paths, ['limits.timeoutMs', 'namespace']);
  }
  assert.ok(printed.some((l) => l.startsWith('  namespace: ')), 'each manifest problem is printed by path');
  const notJson = await save('plugin.json', '{"name": "dev-sample",');
  assert.equal(notJson.status === 'failed' && notJson.error.code, 'INVALID_MANIFEST');

  const needsKey = await save('plugin.json', JSON.stringify({ ...manifest, iparams: { ...manifest.iparams, apiKey: { type: 'text', required: true } } }));
  assert.equal(needsKey.status === 'failed' && needsKey.error.code, 'INVALID_IPARAMS');
  assert.deepEqual(await hello(), { status: 200, body: { edition: 3 } });
  assert.equal((await save('plugin.json', original('plugin.json'), 'unchanged')).status, 'unchanged');
  assert.equal(dev.running, 'dev-sample@1.0.0-dev.3');
});

test('POST /api/v1/dev/clock steps through every due $schedule occurrence', async () => {
  const sched = async (op: string, args: unknown) => (await route(dev.url, '/workspaces/dev/sample/sched', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op, args }),
  })).body;
  assert.equal((await sched('create', { name: 'once', data: { n: 1 }, schedule_at: iso(START + 10 * MIN) })).ok, true);
  assert.equal((await sched('create', { name: 'every5', data: { n: 2 }, schedule_at: iso(START + 5 * MIN), repeat: { time_unit: 'minutes', frequency: 5 } })).ok, true);

  const moved = once(dev.events, 'clock');
  const res = await api('POST', '/api/v1/dev/clock', { advance: 30 * MIN });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.now, iso(START + 30 * MIN));
  assert.equal(dev.clock.now(), START + 30 * MIN);
  assert.deepEqual(await moved, [{ now: START + 30 * MIN }]);
  const events = (res.body.runs as Run[]).filter((r) => r.kind === 'event');
  assert.equal(events.length, res.body.runs.length, 'only the schedules ran');
  const times = (name: string) => events.filter((r) => r.target === `onScheduledEvent ${name}`).map((r) => r.startedAt - START);
  assert.deepEqual(times('once'), [10 * MIN], 'the one-time schedule fired once, at its time');
  assert.deepEqual(times('every5'), [5, 10, 15, 20, 25, 30].map((m) => m * MIN), 'each 5-minute occurrence fired at its own time, none coalesced');
  for (const r of events) {
    assert.equal(r.trigger, 'schedule');
    assert.equal(r.status, 'succeeded');
    const line = r.log.split('\n').find((l) => l.includes('PAYLOAD '))!;
    const payload = JSON.parse(line.slice(line.indexOf('PAYLOAD ') + 8));
    assert.equal(payload.timestamp, r.startedAt);
    assert.deepEqual(payload.iparams, { greeting: 'hello dev' });
    assert.ok(printed.some((l) => l.includes(`[${r.id}]`)), 'each run is printed as it happens');
  }

  const set = await api('POST', '/api/v1/dev/clock', { set: '2026-06-10T08:30:00+02:00' });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.now, iso(START + 30 * MIN), 'an offset is an instant: 08:30+02:00 is where the clock stands');
  assert.deepEqual(set.body.runs, []);
  const later = await api('POST', '/api/v1/dev/clock', { set: iso(START + 60 * MIN) });
  assert.deepEqual(later.body.runs.map((r: Run) => r.startedAt - START), [35, 40, 45, 50, 55, 60].map((m) => m * MIN));
  assert.deepEqual((await api('GET', '/api/v1/dev/clock')).body, { now: iso(START + 60 * MIN), timezone: 'Europe/Rome' });
});

test('plugin code reads the virtual time: "in 10 minutes" is 10 minutes after the dev clock', async () => {
  const res = await route(dev.url, '/workspaces/dev/sample/sched', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'create', args: { name: 'in-ten', data: { n: 3 } }, inMinutes: 10 }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.body.ok, true, JSON.stringify(res.body));
  const wanted = dev.clock.now() + 10 * MIN;
  const scheduledAt = Date.parse(res.body.schedule_at);
  assert.ok(Math.abs(scheduledAt - wanted) < 1000, `the plugin's Date.now() is ${iso(scheduledAt - 10 * MIN)}, the dev clock ${iso(dev.clock.now())}`);
  const moved = await api('POST', '/api/v1/dev/clock', { advance: 10 * MIN + 1000 });
  assert.deepEqual(moved.body.runs.filter((r: Run) => r.target === 'onScheduledEvent in-ten').length, 1, 'it fires within the next 10 virtual minutes');
});

test('the dev clock endpoint is the operator\'s, moves forward only and takes one of advance or set', async () => {
  const wsToken = (await api('POST', '/api/v1/workspaces/dev/tokens')).body.token as string;
  const forbidden = await api('POST', '/api/v1/dev/clock', { advance: MIN }, wsToken);
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, 'FORBIDDEN');
  const anonymous = await api('POST', '/api/v1/dev/clock', { advance: MIN }, null);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error.code, 'UNAUTHORIZED');
  const before = dev.clock.now();
  for (const body of [{ advance: 0 }, { advance: -MIN }, { advance: 1.5 }, { advance: '1h' }, {}, { advance: MIN, set: iso(before + MIN) }, { set: 'tomorrow' }, { set: iso(before - 1) }, { jump: 1 }]) {
    const res = await api('POST', '/api/v1/dev/clock', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'INVALID_BODY', JSON.stringify(body));
  }
  const back = await api('POST', '/api/v1/dev/clock', { set: iso(before - 1) });
  assert.match(back.body.error.message, /only moves forward/);
  assert.equal(dev.clock.now(), before, 'no refused call moved the clock');
  assert.equal((await api('DELETE', '/api/v1/dev/clock')).body.error.code, 'METHOD_NOT_ALLOWED');
  const unknown = await api('GET', '/api/v1/dev/nothing');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'NOT_FOUND');
});

test('the manual triggers of the admin API work on the dev host with its iparams and zone', async () => {
  const event = await api('POST', `/api/v1/workspaces/dev/installations/${dev.installationId}/events/onScheduledEvent`, { data: { from: 'dev' } });
  assert.equal(event.status, 200, JSON.stringify(event.body));
  assert.equal(event.body.run.status, 'succeeded');
  assert.match(event.body.run.log, /"account_id":"dev".*"data":\{"from":"dev"\}.*"iparams":\{"greeting":"hello dev"\}/);
  // 04:00Z is 06:00 in Rome: the early hook's own hour.
  const hook = await api('POST', `/api/v1/workspaces/dev/installations/${dev.installationId}/hooks/hScheduleDailyEarly`, { at: '2026-06-11T04:00:00Z' });
  assert.equal(hook.status, 200, JSON.stringify(hook.body));
  assert.match(hook.body.run.log, /"args":\[2026,5,11,6,4\]/);
});

test('a limit broken under dev fails with the same error as in production', async () => {
  const call = (base: string, ws: string, what: string) => route(base, `/workspaces/${ws}/sample/limits?do=${what}`);
  const [devLoop, prodLoop] = [await call(dev.url, 'dev', 'loop'), await call(prod.url, 'prod', 'loop')];
  assert.equal(devLoop.status, 504);
  assert.equal(devLoop.body.error.code, 'PLUGIN_TIMEOUT');
  assert.equal(prodLoop.status, devLoop.status);
  assert.equal(prodLoop.body.error.code, devLoop.body.error.code);

  const [devData, prodData] = [await call(dev.url, 'dev', 'bigdata'), await call(prod.url, 'prod', 'bigdata')];
  assert.equal(devData.status, 200);
  assert.equal(devData.body.ok, false);
  assert.equal(devData.body.error.status, 400);
  assert.match(devData.body.error.message, /4 KB/);
  assert.deepEqual(devData.body, prodData.body);

  const [devEgress, prodEgress] = [await call(dev.url, 'dev', 'egress'), await call(prod.url, 'prod', 'egress')];
  assert.equal(devEgress.body.ok, false);
  assert.equal(devEgress.body.code, 'EGRESS_DENIED');
  assert.equal(devEgress.body.status, 403);
  assert.match(devEgress.body.message, /not-permitted\.example\.org.*permissions\.hosts/);
  assert.deepEqual(devEgress.body, prodEgress.body);
});

test('a renamed namespace replaces the installation under its new path', async () => {
  const manifest = JSON.parse(original('plugin.json'));
  const before = dev.installationId;
  const r = await save('plugin.json', JSON.stringify({ ...manifest, namespace: 'sample2' }, null, 2));
  assert.equal(r.status, 'reloaded', JSON.stringify(r));
  assert.notEqual(dev.installationId, before);
  assert.deepEqual(await route(dev.url, '/workspaces/dev/sample2/hello'), { status: 200, body: { edition: 3 } });
  assert.equal((await hello()).status, 404);
  const list = await api('GET', '/api/v1/workspaces/dev/installations');
  assert.deepEqual(list.body.data.map((i: { id: string; namespace: string }) => [i.id, i.namespace]), [[dev.installationId, 'sample2']]);
  assert.equal((await save('plugin.json', original('plugin.json'))).status, 'reloaded');
  assert.deepEqual(await hello(), { status: 200, body: { edition: 3 } });
});

test('the registry orders -dev.10 after -dev.9 (numeric pre-release identifiers)', async () => {
  let n = 3;
  while (!dev.running!.endsWith('-dev.10')) {
    const r = await save('routes.js', edition(++n));
    assert.equal(r.status, 'reloaded', JSON.stringify(r));
  }
  assert.deepEqual(await hello(), { status: 200, body: { edition: n } });
  const versions = await api('GET', '/api/v1/plugins/dev-sample');
  assert.equal(versions.body.versions.length, 10);
  assert.equal(versions.body.latestVersion, '1.0.0-dev.10', `newest first: ${versions.body.versions.map((v: { version: string }) => v.version).join(', ')}`);
});

test('the virtual clock follows real time; the folder must exist, data stay outside it, zone and token be valid', async () => {
  const startAt = Date.parse('2030-01-01T00:00:00Z');
  const realStart = Date.now();
  const ticking = await startDevServer({ dir, port: 0, startAt, tickMs: 20, watch: false, iparams: { greeting: 'x' }, ...pgOptions() });
  try {
    const [{ now }] = (await once(ticking.events, 'clock')) as [{ now: number }];
    assert.ok(now > startAt, 'the clock moved by itself');
    assert.ok(now - startAt <= Date.now() - realStart + 50, `it moved by the real time elapsed (${now - startAt} ms)`);
  } finally {
    await ticking.close();
  }
  assert.equal(fs.existsSync(ticking.dataDir), false);
  await assert.rejects(startDevServer({ dir: path.join(dir, 'missing'), port: 0 }), (err: Error & { code?: string }) => err.code === 'INVALID_ARCHIVE' && /plugin\.json/.test(err.message));
  await assert.rejects(startDevServer({ dir, port: 0, dataDir: path.join(dir, 'data') }), (err: Error & { code?: string }) => err.code === 'INVALID_BODY' && /inside the plugin folder/.test(err.message));
  assert.equal(fs.existsSync(path.join(dir, 'data')), false);
  // os.tmpdir() follows TMPDIR: a private one shows whether a refused start leaves a directory behind.
  const privateTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-devtmp-'));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  try {
    await assert.rejects(startDevServer({ dir, port: 0, operatorToken: 'short' }), (err: Error & { code?: string }) => err.code === 'INVALID_BODY' && /--operator-token/.test(err.message));
    assert.deepEqual(fs.readdirSync(privateTmp), [], 'no temporary directory is left behind');
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    fs.rmSync(privateTmp, { recursive: true, force: true });
  }
  await assert.rejects(startDevServer({ dir, port: 0, timezone: 'Mars/Olympus' }), (err: Error & { code?: string }) => err.code === 'INVALID_BODY' && /IANA time zone/.test(err.message));
});
