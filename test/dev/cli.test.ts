// `plughost dev` and `plughost trigger` end to end, as child processes: `dev <dir> --port 0`
// prints its real URL, operator token and installation, serves the plugin, prints every run
// with its log and each reload (or the problem of a broken save); `trigger event` (payload file
// or inline JSON, `--at`), `trigger hook` (`--at` in the workspace zone), `trigger webhook`
// (run now) and `trigger clock` (`--advance`, `--set`, no flag: read) print the runs and exit
// non-zero when a run failed or the host refused; `trigger clock` on a production host says
// it has no virtual clock; `--help` on every command; SIGTERM stops the dev host cleanly and
// removes its temporary data.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { formatInstant } from '../../runtime/dev/dev-tools.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { cliPath, plughost, repoRoot } from '../helpers/plughost-cli.ts';

const root = repoRoot;
const cli = cliPath;
const fixture = path.join(import.meta.dirname, 'fixtures/sample');
const edition = (n: number) => fs.readFileSync(path.join(fixture, 'routes.js'), 'utf8').replace('var EDITION = 1;', `var EDITION = ${n};`);


/** The output lines of a long-running child, awaitable by pattern. */
class Output {
  lines: string[] = [];
  #partial = '';
  #waiters: Array<{ re: RegExp; from: number; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }> = [];
  #ended: string | undefined;

  feed(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop()!;
    this.lines.push(...parts);
    this.#check();
  }
  end(reason: string): void {
    this.#ended = reason;
    for (const w of this.#waiters.splice(0)) w.reject(new Error(`${reason} before a line matched ${w.re}; output:\n${this.lines.join('\n')}`));
  }
  /** The first line from index `from` on that matches. */
  wait(re: RegExp, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ re, from, resolve, reject });
      this.#check();
      if (this.#ended) this.end(this.#ended);
    });
  }
  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      for (let i = w.from; i < this.lines.length; i++) {
        const m = w.re.exec(this.lines[i]!);
        if (m) { w.resolve(m); return false; }
      }
      return true;
    });
  }
}

let dir: string;
let devProcess: ChildProcess;
let exited: Promise<number | null>;
const out = new Output();
let url: string;
let token: string;
let inst: string;
let dataDir: string;
let env: Record<string, string>;
let prod: TestHost | undefined;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-cli-dev-'));
  fs.cpSync(fixture, dir, { recursive: true });
  devProcess = spawn(process.execPath, [
    '--no-node-snapshot', cli, 'dev', dir, '--port', '0', '--iparam', 'greeting=from the cli', '--start', '2026-06-10T06:00:00Z', '--timezone', 'Europe/Rome',
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  devProcess.stdout!.on('data', (c: Buffer) => out.feed(c.toString('utf8')));
  devProcess.stderr!.on('data', (c: Buffer) => out.feed(c.toString('utf8')));
  exited = new Promise((resolve) => devProcess.on('exit', (code) => {
    out.end(`the dev process exited (${code})`);
    resolve(code);
  }));
  await out.wait(/^plughost dev: Ctrl-C stops$/);
  url = (await out.wait(/^plughost dev: listening on (http:\/\/127\.0\.0\.1:\d+) \(data in (.+), removed on exit\)$/))[1]!;
  dataDir = (await out.wait(/\(data in (.+), removed on exit\)$/))[1]!;
  token = (await out.wait(/^plughost dev: operator token: (pho_\S+)$/))[1]!;
  inst = (await out.wait(/^plughost dev: loaded dev-sample@1\.0\.0-dev\.1 \(installation (inst_\w+)\) in \d+ ms$/))[1]!;
  env = { PLUGHOST_URL: url, PLUGHOST_TOKEN: token };
});
after(async () => {
  if (devProcess && devProcess.exitCode === null) {
    devProcess.kill('SIGTERM');
    await exited;
  }
  await prod?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('plughost dev serves the plugin and prints its routes, how to trigger it and each run with its log', async () => {
  assert.notEqual(url, 'http://127.0.0.1:0', 'port 0 prints the real port');
  assert.ok(out.lines.includes(`plughost dev:   ${url}/workspaces/dev/sample/hello`));
  assert.ok(out.lines.includes(`plughost dev: workspace dev (Europe/Rome); virtual clock at 2026-06-10T08:00:00+02:00, following real time`), 'times in the workspace zone');
  assert.ok(out.lines.includes(`plughost dev: try: export PLUGHOST_URL=${url} PLUGHOST_TOKEN=${token}`));
  assert.ok(out.lines.includes(`plughost dev:   onScheduledEvent: onScheduledEventHandler (plughost trigger event ${inst})`));
  assert.ok(out.lines.includes(`plughost dev:   hook hScheduleDailyEarly (plughost trigger hook ${inst} hScheduleDailyEarly)`));
  const from = out.lines.length;
  const res = await fetch(`${url}/workspaces/dev/sample/hello`);
  assert.deepEqual(await res.json(), { edition: 1 });
  await out.wait(/^plughost dev: \S+ route GET \/workspaces\/dev\/sample\/hello \(http\): succeeded HTTP 200 in \d+ ms  \[run_\w+\]$/, from);
  await out.wait(/^plughost dev:   \| \S+ \[log\] hello from edition 1$/, from);
});

test('plughost trigger event: a payload file, --at and --name; the run and its log are printed', async () => {
  const payload = path.join(dir, '..', `payload-${path.basename(dir)}.json`);
  fs.writeFileSync(payload, JSON.stringify({ task_id: 5, who: 'ada' }));
  try {
    const from = out.lines.length;
    const r = await plughost(['trigger', 'event', inst, '--data', payload, '--at', '2026-06-10T07:00:00Z', '--name', 'reminder'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^\S+ event onScheduledEvent reminder \(manual\): succeeded in \d+ ms  \[run_\w+\]\n/);
    assert.match(r.stdout, /\| \S+ \[log\] PAYLOAD \{"account_id":"dev","event":"onScheduledEvent","region":"US","timestamp":1781074800000,"domain":"dev\.plughost\.local","data":\{"task_id":5,"who":"ada"\},"iparams":\{"greeting":"from the cli"\},/);
    assert.match(r.stderr, /^firing onScheduledEvent of inst_\w+…$/m);
    await out.wait(/^plughost dev: \S+ event onScheduledEvent reminder \(manual\): succeeded/, from);
  } finally {
    fs.rmSync(payload, { force: true });
  }
});

test('plughost trigger event: inline JSON, flags instead of the environment; a failed run exits 1', async () => {
  const failed = await plughost(['trigger', 'event', inst, '--data', '{"fail": "on purpose"}', '--url', url, '--token', token]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /event onScheduledEvent manual \(manual\): failed in \d+ ms/);
  assert.match(failed.stdout, /\[host\] PLUGIN_ERROR: Error: handler failed: on purpose/);

  const missing = await plughost(['trigger', 'event', inst, '--data', path.join(dir, 'no-such.json')], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^plughost: --data \S+no-such\.json: cannot read the file/m);
  const notObject = await plughost(['trigger', 'event', inst, '--data', '{"a": '], env);
  assert.equal(notObject.code, 1);
  assert.match(notObject.stderr, /^plughost: --data \{"a": : not JSON/m);
  const badAt = await plughost(['trigger', 'event', inst, '--at', '2026-06-10 07:00'], env);
  assert.equal(badAt.code, 1);
  assert.match(badAt.stderr, /^plughost: --at 2026-06-10 07:00: expected an ISO date-time with a zone/m);
  const unknown = await plughost(['trigger', 'event', 'inst_nope'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^plughost: INSTALLATION_NOT_FOUND: no installation `inst_nope` in workspace `dev`$/m);
  const noToken = await plughost(['trigger', 'event', inst, '--url', url]);
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /^plughost: no token: pass --token or set PLUGHOST_TOKEN/m);
});

test('plughost trigger hook: --at in the workspace zone; an unknown hook exits 1', async () => {
  // 04:00Z on Thursday 11 June is 06:00 in Rome.
  const r = await plughost(['trigger', 'hook', inst, 'hScheduleDailyEarly', '--at', '2026-06-11T04:00:00Z'], env);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /hook hScheduleDailyEarly \(manual\): succeeded/);
  assert.match(r.stdout, /HOOK \{"response":\{"idempotencyKey":"inst_\w+@manual-run_\w+"\},"args":\[2026,5,11,6,4\]\}/);
  const bad = await plughost(['trigger', 'hook', inst, 'hNope'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^plughost: INVALID_BODY: `hNope` is not a Haplo schedule hook/m);
  const unregistered = await plughost(['trigger', 'hook', inst, 'hScheduleHourly'], env);
  assert.equal(unregistered.code, 1);
  assert.match(unregistered.stderr, /^plughost: PLUGIN_NO_HANDLER: /m);
});

test('plughost trigger webhook runs a scheduled webhook now', async () => {
  const created = await fetch(`${url}/api/v1/workspaces/dev/scheduled-webhooks`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: '/workspaces/dev/sample/hello', frequency: 'daily', start: '2026-06-11 07:00', description: 'cli test' }),
  });
  assert.equal(created.status, 201);
  const { id } = await created.json() as { id: string };
  const r = await plughost(['trigger', 'webhook', id], env);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /webhook POST \/workspaces\/dev\/sample\/hello \(manual\): succeeded HTTP 200 in \d+ ms/);
  assert.match(r.stdout, /\[log\] hello from edition \d+/);
  const unknown = await plughost(['trigger', 'webhook', 'whk_nope'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^plughost: SCHEDULE_NOT_FOUND: /m);
});

test('plughost trigger clock moves the dev host\'s virtual clock and prints what fired', async () => {
  const read = await plughost(['trigger', 'clock'], env);
  assert.equal(read.code, 0, read.stderr);
  const now = Date.parse(/^virtual clock: (\S+\+02:00) \(Europe\/Rome\)$/m.exec(read.stdout)![1]!);
  assert.ok(now >= Date.parse('2026-06-10T06:00:00Z'));
  const at = new Date(Math.ceil((now + 10 * 60_000) / 60_000) * 60_000).toISOString();
  const created = await fetch(`${url}/workspaces/dev/sample/sched`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'create', args: { name: 'cli-once', data: { via: 'clock' }, schedule_at: at } }),
  });
  assert.deepEqual(await created.json(), { ok: true, value: { status: 200, message: 'Schedule created successfully' }, schedule_at: at });

  const r = await plughost(['trigger', 'clock', '--advance', '30m'], env);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  // Printed in the workspace's zone: Rome is two hours ahead of UTC in June.
  assert.match(r.stdout, new RegExp(`^${formatInstant(Date.parse(at), 'Europe/Rome').replace(/[+]/g, '\\+')} event onScheduledEvent cli-once \\(schedule\\): succeeded`, 'm'));
  assert.match(r.stdout, /"data":\{"via":"clock"\}/);
  const after = Date.parse(/^virtual clock: (\S+) \(Europe\/Rome; \d+ runs? fired\)$/m.exec(r.stdout)![1]!);
  assert.ok(after >= now + 30 * 60_000);

  const set = await plughost(['trigger', 'clock', '--set', new Date(after + 3_600_000).toISOString()], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /virtual clock: \S+ \(Europe\/Rome; 0 runs fired\)/);
  const back = await plughost(['trigger', 'clock', '--set', '2026-06-10T06:00:00Z'], env);
  assert.equal(back.code, 1);
  assert.match(back.stderr, /^plughost: INVALID_BODY: the clock only moves forward/m);
  const bad = await plughost(['trigger', 'clock', '--advance', 'soon'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^plughost: "soon" is not a duration; write e\.g\. 90s, 30m, 1h, 1h30m or 2d$/m);
  const both = await plughost(['trigger', 'clock', '--advance', '1h', '--set', '2030-01-01T00:00:00Z'], env);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /give --advance or --set, not both/);
});

test('plughost trigger clock on a production host: it has no virtual clock', async () => {
  prod = await startHost();
  const r = await plughost(['trigger', 'clock', '--advance', '1h', '--url', prod.url, '--token', prod.operatorToken]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^plughost: http:\/\/127\.0\.0\.1:\d+ has no virtual clock: only a `plughost dev` host can move time$/m);
});

test('a save shows in the dev output as a reload; a broken save prints the problem and keeps serving', async () => {
  let from = out.lines.length;
  fs.writeFileSync(path.join(dir, 'routes.js'), edition(2));
  await out.wait(/^plughost dev: loaded dev-sample@1\.0\.0-dev\.2 \(installation inst_\w+\) in \d+ ms$/, from);
  assert.deepEqual(await (await fetch(`${url}/workspaces/dev/sample/hello`)).json(), { edition: 2 });

  from = out.lines.length;
  fs.writeFileSync(path.join(dir, 'routes.js'), edition(3).replace('json({ edition: EDITION });', 'json({ edition: EDITION );'));
  await out.wait(/^plughost dev: reload failed: PLUGIN_LOAD_ERROR: routes\.js:5: SyntaxError: /, from);
  await out.wait(/^plughost dev: still running dev-sample@1\.0\.0-dev\.2; fix the problem and save again$/, from);
  assert.deepEqual(await (await fetch(`${url}/workspaces/dev/sample/hello`)).json(), { edition: 2 });
});

test('--help on dev and on each trigger command; a missing folder exits 1', async () => {
  const dev = await plughost(['dev', '--help']);
  assert.equal(dev.code, 0);
  assert.match(dev.stdout, /^Usage: plughost dev \[options\] <dir>/);
  for (const flag of ['--port', '--data', '--iparam', '--workspace', '--timezone', '--start', '--egress-map']) assert.ok(dev.stdout.includes(flag), flag);
  const trigger = await plughost(['trigger', '--help']);
  assert.equal(trigger.code, 0);
  for (const sub of ['event', 'hook', 'webhook', 'clock']) assert.match(trigger.stdout, new RegExp(`^  ${sub}\\b`, 'm'), sub);
  const usage: Record<string, RegExp> = {
    event: /^Usage: plughost trigger event \[options\] <installationId>/,
    hook: /^Usage: plughost trigger hook \[options\] <installationId> <hookName>/,
    webhook: /^Usage: plughost trigger webhook \[options\] <webhookId>/,
    clock: /^Usage: plughost trigger clock \[options\]/,
  };
  for (const [sub, re] of Object.entries(usage)) {
    const r = await plughost(['trigger', sub, '--help']);
    assert.equal(r.code, 0, sub);
    assert.match(r.stdout, re);
    assert.match(r.stdout, /--url <url>/);
    assert.match(r.stdout, /--token <token>/);
  }
  const missing = await plughost(['dev', path.join(dir, 'nowhere'), '--port', '0']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^plughost: cannot serve \S+nowhere: /m);
});

test('SIGTERM stops the dev host cleanly and removes its temporary data', async () => {
  assert.ok(fs.existsSync(dataDir));
  devProcess.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(out.lines.includes('plughost dev: SIGTERM: stopping…'));
  assert.equal(fs.existsSync(dataDir), false);
});
