// The dev host's times and its streamed clock moves. Runs print in their workspace's zone
// (a Rome workspace's 06:00 hook shows 06:00+02:00, its log lines too; UTC shows Z; winter
// +01:00). `POST /api/v1/dev/clock` asked for NDJSON answers each run as it finishes, progress
// lines and a final summary while the move is still going: a run that holds on to an outside
// call keeps the move from ending, and the lines before it have arrived all the same.
// `plughost trigger clock` prints each run as its line arrives and progress on stderr. No
// sleeps: the virtual clock moves time, and the held call is released by the test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDevServer, type DevServer } from '../../runtime/dev-server.ts';
import { formatInstant, formatRun } from '../../runtime/dev/dev-tools.ts';
import type { Run } from '../../runtime/store/runs.ts';
import { cliPath, plughost, repoRoot } from '../helpers/plughost-cli.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/sample');
const MIN = 60_000;
const START = Date.parse('2026-06-10T06:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const pgOptions = () => (process.env.PLUGHOST_TEST_DATABASE_URL
  ? { databaseUrl: process.env.PLUGHOST_TEST_DATABASE_URL, schema: `t_stream_${randomBytes(8).toString('hex')}` }
  : {});

// onScheduledEvent with data.hold calls api.example.com (mapped to the stub) and ends when it answers.
const SERVER_JS = `
exports = {
  onScheduledEventHandler: function (payload) {
    console.log('FIRED ' + payload.schedule.name);
    if (!payload.data.hold) return;
    return fetch('https://api.example.com/hold').then(function (r) { return r.text(); }).then(function (t) { console.log('HELD ' + t); });
  }
};
P.hook('hScheduleDailyEarly', function (response, year, month, dayOfMonth, hour) {
  console.log('HOOK ' + JSON.stringify([year, month, dayOfMonth, hour]));
});
`;

let dir: string;
let dev: DevServer;
let stub: StubServer;
const held: http.ServerResponse[] = [];
const printed: string[] = [];
let env: Record<string, string>;

async function api(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(dev.url + p, {
    method, headers: { authorization: `Bearer ${dev.operatorToken}`, 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Makes a one-time $schedule through the plugin's sched route, `minutes` after the virtual now. */
async function schedule(name: string, minutes: number, data: Record<string, unknown> = {}): Promise<number> {
  const at = Math.ceil(dev.clock.now() / MIN) * MIN + minutes * MIN;
  const res = await fetch(`${dev.url}/workspaces/dev/sample/sched`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'create', args: { name, data, schedule_at: iso(at) } }),
  });
  const body = await res.json() as { ok: boolean };
  assert.equal(body.ok, true, JSON.stringify(body));
  return at;
}

/** The lines of an NDJSON body, awaited one at a time as they arrive; undefined at its end. */
function lineReader(res: Response): () => Promise<any> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const ready: string[] = [];
  let partial = '';
  return async () => {
    while (ready.length === 0) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      const parts = (partial + decoder.decode(value, { stream: true })).split('\n');
      partial = parts.pop()!;
      ready.push(...parts.filter((l) => l.trim()));
    }
    return JSON.parse(ready.shift()!);
  };
}

before(async () => {
  stub = await startStub((_req, res) => void held.push(res));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-stream-'));
  fs.cpSync(fixture, dir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(fixture, 'plugin.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ ...manifest, limits: { timeoutMs: 20_000 } }));
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS);
  dev = await startDevServer({
    dir, port: 0, startAt: START, tickMs: 0, progressMs: 0, watch: false, timezone: 'Europe/Rome', iparams: { greeting: 'ciao' },
    egressMap: { 'api.example.com': stub.url }, print: (line) => printed.push(line), ...pgOptions(),
  });
  env = { PLUGHOST_URL: dev.url, PLUGHOST_TOKEN: dev.operatorToken };
});
after(async () => {
  for (const res of held.splice(0)) res.end('after');
  await dev?.close();
  await stub?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('times are shown in the workspace zone: offsets, winter and summer, UTC as Z', () => {
  assert.equal(formatInstant(Date.parse('2026-06-11T04:00:00Z'), 'Europe/Rome'), '2026-06-11T06:00:00+02:00');
  assert.equal(formatInstant(Date.parse('2026-01-11T04:00:00.250Z'), 'Europe/Rome', true), '2026-01-11T05:00:00.250+01:00');
  assert.equal(formatInstant(Date.parse('2026-01-11T04:00:00Z'), 'UTC'), '2026-01-11T04:00:00Z');
  assert.equal(formatInstant(Date.parse('2026-01-11T04:00:00Z'), 'America/St_Johns'), '2026-01-11T00:30:00-03:30');
  for (const at of ['2026-03-29T00:59:59Z', '2026-03-29T01:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z']) {
    assert.equal(Date.parse(formatInstant(Date.parse(at), 'Europe/Rome')), Date.parse(at), `${at} reads back as the same instant`);
  }
  const run = { id: 'run_x', kind: 'hook', trigger: 'schedule', target: 'hScheduleDailyEarly', status: 'succeeded', startedAt: Date.parse('2026-06-11T04:00:00Z'), durationMs: 2, httpStatus: null, error: null, log: '2026-06-11T04:00:00.003Z [log] hi\nsecond line' } as const;
  assert.equal(formatRun(run, 'UTC'), '2026-06-11T04:00:00Z hook hScheduleDailyEarly (schedule): succeeded in 2 ms  [run_x]\n  | 2026-06-11T04:00:00.003Z [log] hi\n  | second line');
});

test('the dev host prints a Rome workspace\'s hook at 06:00 Rome time, with its log lines, and the clock\'s progress', async () => {
  assert.ok(printed.includes('workspace dev (Europe/Rome); virtual clock at 2026-06-10T08:00:00+02:00, following real time'), printed.join('\n'));
  const res = await api('POST', '/api/v1/dev/clock', { set: '2026-06-11T04:30:00Z' });
  assert.equal(res.status, 200);
  const body = await res.json() as { now: string; timezone: string; runs: Run[] };
  assert.equal(body.timezone, 'Europe/Rome');
  const hook = body.runs.find((r) => r.kind === 'hook');
  assert.ok(hook, JSON.stringify(body.runs));
  assert.equal(hook.startedAt, Date.parse('2026-06-11T04:00:00Z'));
  const line = printed.find((l) => l.includes(`[${hook.id}]`));
  assert.ok(line, 'the hook run was printed before the move answered');
  assert.match(line, /^2026-06-11T06:00:00\+02:00 hook hScheduleDailyEarly \(schedule\): succeeded in \d+ ms {2}\[run_\w+\]\n {2}\| 2026-06-11T06:00:00\.\d{3}\+02:00 \[log\] HOOK \[2026,5,11,6\]$/);
  assert.ok(printed.includes('advanced to 2026-06-11 06:00 (Europe/Rome), 1 run so far…'), printed.slice(-5).join('\n'));

  // What plughost trigger prints, it prints in the zone too.
  const r = await plughost(['trigger', 'event', dev.installationId!, '--data', '{"n": 1}'], env);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^2026-06-11T06:30:00\+02:00 event onScheduledEvent manual \(manual\): succeeded/);
  const read = await plughost(['trigger', 'clock'], env);
  assert.equal(read.stdout, 'virtual clock: 2026-06-11T06:30:00+02:00 (Europe/Rome)\n');
});

// A host that held the lines back until the end would never answer here (the held run waits on
// the test): such a failure shows as these tests' timeout.
test('POST /api/v1/dev/clock as NDJSON: each run\'s line arrives while the move is still going, then the summary', { timeout: 60_000 }, async () => {
  const from = dev.clock.now();
  const quick = await schedule('quick', 5);
  const slow = await schedule('held', 10, { hold: true });
  const res = await api('POST', '/api/v1/dev/clock', { advance: 60 * MIN }, { accept: 'application/x-ndjson' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const next = lineReader(res);

  const first = await next();
  assert.equal(first.type, 'run', JSON.stringify(first));
  assert.equal(first.run.target, 'onScheduledEvent quick');
  assert.equal(first.run.startedAt, quick);
  assert.equal(first.timezone, 'Europe/Rome');
  assert.match(first.run.log, /FIRED quick/);
  assert.deepEqual(await next(), { type: 'progress', now: iso(quick), target: iso(from + 60 * MIN), timezone: 'Europe/Rome', runs: 1 });
  // The held run is calling out: the move cannot end before it does, and its lines came anyway.
  await stub.waitForRequests(1);
  assert.equal(dev.clock.now(), slow, 'the clock waits at the held occurrence');
  held.shift()!.end('released');

  const second = await next();
  assert.equal(second.type, 'run');
  assert.equal(second.run.target, 'onScheduledEvent held');
  assert.equal(second.run.status, 'succeeded');
  assert.match(second.run.log, /HELD released/);
  assert.deepEqual(await next(), { type: 'progress', now: iso(slow), target: iso(from + 60 * MIN), timezone: 'Europe/Rome', runs: 2 });
  assert.deepEqual(await next(), { type: 'done', now: iso(from + 60 * MIN), timezone: 'Europe/Rome', runs: 2 });
  assert.equal(await next(), undefined, 'the answer ends after the summary');

  // A refused move is an ordinary error answer, not a stream.
  const back = await api('POST', '/api/v1/dev/clock', { set: iso(from) }, { accept: 'application/x-ndjson' });
  assert.equal(back.status, 400);
  assert.equal(((await back.json()) as { error: { code: string } }).error.code, 'INVALID_BODY');
});

test('plughost trigger clock prints each run as it finishes, progress on stderr, and the summary last', { timeout: 60_000 }, async () => {
  const quick = await schedule('quick2', 5);
  await schedule('held2', 10, { hold: true });
  const before = stub.requests.length;
  const child = spawn(process.execPath, ['--no-node-snapshot', cliPath, 'trigger', 'clock', '--advance', '1h'], {
    cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const printedLine = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      if (/onScheduledEvent quick2 \(schedule\): succeeded/.test(stdout)) resolve();
    });
    void exited.then((code) => reject(new Error(`trigger clock exited (${code}) first:\n${stdout}${stderr}`)));
  });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });

  await printedLine;
  await stub.waitForRequests(before + 1);
  assert.equal(child.exitCode, null, 'the command is still waiting for the held run');
  assert.doesNotMatch(stdout, /virtual clock:/);
  assert.match(stdout, new RegExp(`^${formatInstant(quick, 'Europe/Rome').replace('+', '\\+')} event onScheduledEvent quick2 \\(schedule\\): succeeded in \\d+ ms  \\[run_\\w+\\]\\n  \\| \\S+\\+02:00 \\[log\\] FIRED quick2$`, 'm'));
  held.shift()!.end('released again');

  assert.equal(await exited, 0, stderr + stdout);
  assert.match(stdout, /event onScheduledEvent held2 \(schedule\): succeeded[^\n]*\n {2}\| \S+ \[log\] FIRED held2\n {2}\| \S+ \[log\] HELD released again\n/);
  assert.match(stdout, /\nvirtual clock: \S+\+02:00 \(Europe\/Rome; 2 runs fired\)\n$/);
  assert.match(stderr, /^moving the virtual clock by 1h…$/m);
  assert.match(stderr, new RegExp(`^advanced to ${formatInstant(quick, 'Europe/Rome').slice(0, 16).replace('T', ' ')} \\(Europe/Rome\\), 1 run so far…$`, 'm'));
  assert.match(stderr, /, 2 runs so far…$/m);
});
