// What a plugin author runs outside the repo, as child processes: `plughost validate [dir]`
// prints what a plughost plugin, an FDK app or a Haplo plugin declares (exit 0) or every
// problem by its field path (exit 1), and `publish` refuses a folder with the same problems;
// `plughost pack` writes exactly the bytes `publish` uploads, never inside the plugin folder;
// `plughost runs` reads a running host's runs (filters, --limit, --logs, times in the
// workspace zone) and `--follow` prints the runs that finish after it started, one that was
// already running too, until SIGINT; `install` says what it is doing on stderr. The host is a
// dev host on a virtual clock; a run is kept running by an outside call the test answers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDevServer, type DevServer } from '../../runtime/dev-server.ts';
import { packDirectory } from '../../runtime/packages/pack.ts';
import { cliPath, plughost, type CliResult } from '../helpers/plughost-cli.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const sample = path.join(import.meta.dirname, 'fixtures/sample');
const fdkApp = path.join(import.meta.dirname, '../sdk/fixtures/ticket-scheduler');
const START = Date.parse('2026-06-10T06:00:00.000Z');
const pgOptions = () => (process.env.PLUGHOST_TEST_DATABASE_URL
  ? { databaseUrl: process.env.PLUGHOST_TEST_DATABASE_URL, schema: `t_author_${randomBytes(8).toString('hex')}` }
  : {});

let tmp: string;
let dev: DevServer;
let env: Record<string, string>;
let stub: StubServer;
const held: http.ServerResponse[] = [];

// The sample's handler, which also calls out (and waits) when the payload's data says `hold`.
const HOLDING_SERVER_JS = `
exports = {
  onScheduledEventHandler: function (payload) {
    console.log('PAYLOAD ' + JSON.stringify(payload));
    if (payload.data && payload.data.fail) throw new Error('handler failed: ' + payload.data.fail);
    if (payload.data && payload.data.hold) {
      return fetch('https://api.example.com/hold').then(function (r) { return r.text(); }).then(function (t) { console.log('HELD ' + t); });
    }
  }
};
P.hook('hScheduleDailyEarly', function (response, year, month, dayOfMonth, hour, dayOfWeek) {
  console.log('HOOK ' + JSON.stringify({ response: response, args: [year, month, dayOfMonth, hour, dayOfWeek] }));
});
`;

/** The CLI run from another folder, as an author runs it from inside the plugin. */
const plughostIn = (cwd: string, args: string[]): Promise<CliResult> => plughost(args, {}, cwd);

/** A folder under the test's temporary one, from a fixture or from inline files. */
function folder(name: string, from: string | Record<string, string | object>): string {
  const dir = path.join(tmp, name);
  if (typeof from === 'string') fs.cpSync(from, dir, { recursive: true });
  else {
    for (const [file, content] of Object.entries(from)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    }
  }
  return dir;
}

const haploFiles = {
  'plugin.json': { pluginName: 'example_plugin', pluginVersion: 3, displayName: 'Example plugin', apiVersion: 4, load: ['js/example_plugin.js'], respond: ['/do/example-plugin'], privilegesRequired: ['pHTTPClient'] },
  'js/example_plugin.js': 'P.respond("GET", "/do/example-plugin/hello", [], function (E) { E.response.body = "hi"; });\n',
};

/** A stand-in host that keeps the bytes `plughost publish` uploads. */
async function startUploadSink() {
  const uploads: Array<{ url: string; bytes: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      uploads.push({ url: req.url!, bytes: Buffer.concat(chunks) });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'sink', version: '0.0.0' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-author-'));
  stub = await startStub((_req, res) => void held.push(res));
  const plugin = folder('dev-plugin', sample);
  const manifest = JSON.parse(fs.readFileSync(path.join(sample, 'plugin.json'), 'utf8'));
  fs.writeFileSync(path.join(plugin, 'plugin.json'), JSON.stringify({ ...manifest, limits: { timeoutMs: 20_000 } }));
  fs.writeFileSync(path.join(plugin, 'server.js'), HOLDING_SERVER_JS);
  dev = await startDevServer({
    dir: plugin, port: 0, startAt: START, tickMs: 0, watch: false, timezone: 'Europe/Rome',
    iparams: { greeting: 'hello' }, egressMap: { 'api.example.com': stub.url }, ...pgOptions(),
  });
  env = { PLUGHOST_URL: dev.url, PLUGHOST_TOKEN: dev.operatorToken };
});
after(async () => {
  for (const res of held.splice(0)) res.end('after');
  await dev?.close();
  await stub?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('validate: a plughost plugin, an FDK app and a Haplo plugin, each with what its manifest declares', async () => {
  const plug = await plughost(['validate', sample]);
  assert.equal(plug.code, 0, plug.stderr);
  const lines = plug.stdout.split('\n');
  assert.equal(lines[0], 'dev-sample@1.0.0: a valid plughost plugin');
  for (const line of [
    '  namespace: sample', '  display name: plughost dev sample',
    '  route: /workspaces/<workspace>/sample/hello → routes.js (public)', '  route: /workspaces/<workspace>/sample/limits → limits.js (public)',
    '  event: onScheduledEvent → onScheduledEventHandler in server.js', '  iparam: greeting (text, required)',
    '  may reach: api.example.com', '  limits: 300 ms, 64 MB', '  hooks: named by the code as it loads (P.hook); `plughost dev` lists them',
  ]) assert.ok(lines.includes(line), `${line}\n${plug.stdout}`);
  assert.match(plug.stdout, /^ {2}files: 5 \(\d+\.\d KiB unpacked\)$/m);

  // An FDK app is named after its folder, as publish names it, or by --name.
  const app = folder('ticket-scheduler', fdkApp);
  const fdk = await plughostIn(app, ['validate']);
  assert.equal(fdk.code, 0, fdk.stderr);
  assert.match(fdk.stdout, /^ticket-scheduler@1\.0\.0: a valid FDK app\n {2}namespace: ticket-scheduler\n {2}platform: 2\.2\n/);
  for (const line of [
    '  event: onTicketCreate → onTicketCreateHandler in server/server.js',
    '  server method: POST /workspaces/<workspace>/ticket-scheduler/smi/scheduleFollowUp (5000 ms)', '  iparam: team (dropdown, required)',
  ]) assert.ok(fdk.stdout.split('\n').includes(line), `${line}\n${fdk.stdout}`);
  assert.doesNotMatch(fdk.stdout, /hooks:/, 'FDK apps have no hooks');
  const named = await plughost(['validate', app, '--name', 'tickets', '--version', '2.1.0']);
  assert.match(named.stdout, /^tickets@2\.1\.0: a valid FDK app\n {2}namespace: tickets\n/);

  const haplo = await plughost(['validate', folder('haplo-good', haploFiles)]);
  assert.equal(haplo.code, 0, haplo.stderr);
  assert.match(haplo.stdout, /^example_plugin@3\.0\.0: a valid Haplo plugin\n/);
  for (const line of ['  load: js/example_plugin.js', '  respond: /do/example-plugin', '  privileges: pHTTPClient', '  may reach: *']) {
    assert.ok(haplo.stdout.split('\n').includes(line), `${line}\n${haplo.stdout}`);
  }
});

test('validate: every problem of each kind by its field path, exit 1; publish refuses with the same list', async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(sample, 'plugin.json'), 'utf8'));
  const plug = folder('plug-bad', sample);
  fs.writeFileSync(path.join(plug, 'plugin.json'), JSON.stringify({ ...manifest, version: '1.0', namespace: 'api', limits: { timeoutMs: 5 } }));
  const bad = await plughost(['validate', plug]);
  assert.equal(bad.code, 1);
  const problems = bad.stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(':')[0]).sort();
  assert.deepEqual(problems, ['limits.timeoutMs', 'namespace', 'version'], bad.stdout);
  assert.equal(bad.stdout.split('\n')[0], `${fs.realpathSync(plug)}: 3 problems`);
  assert.match(bad.stderr, /^plughost: INVALID_MANIFEST: \S+plug-bad has 3 problems, listed above\n$/);

  // publish runs the same check: the same problems, nothing is uploaded.
  const published = await plughost(['publish', plug, '--url', 'http://127.0.0.1:9', '--token', 'x']);
  assert.equal(published.code, 1);
  assert.ok(published.stderr.includes(bad.stdout), published.stderr);
  assert.doesNotMatch(published.stderr, /uploading/);

  const app = folder('fdk-bad', fdkApp);
  fs.writeFileSync(path.join(app, 'manifest.json'), JSON.stringify({ 'platform-version': '1.0', product: {} }));
  const fdk = await plughost(['validate', app]);
  assert.equal(fdk.code, 1);
  assert.match(fdk.stdout, /^ {2}manifest\.json platform-version: is "1\.0"; plughost runs FDK platform 2\.x and 3\.x apps$/m);

  const haplo = folder('haplo-bad', { ...haploFiles, 'plugin.json': { ...haploFiles['plugin.json'], pluginVersion: '3', load: ['js/missing.js'] } });
  const h = await plughost(['validate', haplo]);
  assert.equal(h.code, 1);
  assert.match(h.stdout, /^ {2}load\[0\]: names "js\/missing\.js", which is not in the package$/m);
  assert.match(h.stdout, /^ {2}pluginVersion: must be a whole number/m);

  // Code that does not parse, every file of it, with line and excerpt.
  const syntax = folder('syntax', sample);
  fs.appendFileSync(path.join(syntax, 'routes.js'), 'var broken = {;\n');
  fs.appendFileSync(path.join(syntax, 'sched.js'), 'function (\n');
  const s = await plughost(['validate', syntax]);
  assert.equal(s.code, 1);
  assert.match(s.stdout, /^ {2}routes\.js:7: SyntaxError: Unexpected token ';'\n {4}var broken = \{;\n/m);
  assert.match(s.stdout, /^ {2}sched\.js:\d+: SyntaxError: /m);
  assert.match(s.stderr, /^plughost: PLUGIN_LOAD_ERROR: /);

  const empty = await plughost(['validate', folder('empty', { 'README.md': 'nothing here' })]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^plughost: INVALID_ARCHIVE: The package has neither a plugin\.json nor an FDK manifest\.json/);
  const missing = await plughost(['validate', path.join(tmp, 'nowhere')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^plughost: INVALID_ARCHIVE: Cannot read plugin folder /);
});

test('pack writes the bytes publish uploads, beside the folder by default, never inside it', async () => {
  const sink = await startUploadSink();
  try {
    const plug = folder('pack-me', sample);
    const out = path.join(tmp, 'out', 'pack-me.tar.gz');
    const packed = await plughost(['pack', plug, '--out', out]);
    assert.equal(packed.code, 0, packed.stderr);
    const bytes = fs.readFileSync(out);
    assert.equal(packed.stdout, `${out} (${bytes.length} bytes)\n`);
    assert.match(packed.stderr, /^checking \S+pack-me…\npacking dev-sample@1\.0\.0 \(plughost plugin\)…\n$/);
    assert.deepEqual(bytes, Buffer.from(await packDirectory(plug)));
    const published = await plughost(['publish', plug, '--url', sink.url, '--token', 'x']);
    assert.equal(published.code, 0, published.stderr);
    assert.equal(sink.uploads[0]!.url, '/api/v1/plugins');
    assert.ok(sink.uploads[0]!.bytes.equals(bytes), 'publish uploads what pack wrote');
    // …and a host takes the archive as it is.
    const res = await fetch(`${dev.url}/api/v1/plugins`, { method: 'POST', headers: { authorization: `Bearer ${dev.operatorToken}`, 'content-type': 'application/gzip' }, body: bytes });
    assert.equal(res.status, 201, await res.text());

    // An FDK app's archive: the same bytes, and the names publish sends with it.
    const app = folder('fdk-pack', fdkApp);
    const fdkOut = path.join(tmp, 'out', 'fdk.tar.gz');
    const fdk = await plughost(['pack', app, '--out', fdkOut, '--name', 'tickets']);
    assert.equal(fdk.code, 0, fdk.stderr);
    assert.match(fdk.stderr, /POST \/api\/v1\/plugins\?name=tickets&version=1\.0\.0&namespace=tickets$/m);
    await plughost(['publish', app, '--name', 'tickets', '--url', sink.url, '--token', 'x']);
    assert.equal(sink.uploads[1]!.url, '/api/v1/plugins?name=tickets&version=1.0.0&namespace=tickets');
    assert.ok(sink.uploads[1]!.bytes.equals(fs.readFileSync(fdkOut)));
  } finally {
    await sink.close();
  }

  // Run inside the folder, the archive goes beside it: inside, the next pack would take it in.
  const inside = folder('pack-inside', sample);
  const here = await plughostIn(inside, ['pack']);
  assert.equal(here.code, 0, here.stderr);
  assert.equal(here.stdout, `${path.join(fs.realpathSync(tmp), 'dev-sample-1.0.0.tar.gz')} (${fs.statSync(path.join(tmp, 'dev-sample-1.0.0.tar.gz')).size} bytes)\n`);
  const refused = await plughostIn(inside, ['pack', '.', '--out', 'dist/x.tar.gz']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^plughost: --out dist\/x\.tar\.gz: that is inside the plugin folder/m);
  assert.equal(fs.existsSync(path.join(inside, 'dist')), false);
  const broken = folder('pack-broken', { 'plugin.json': '{"name": ' });
  const nothing = await plughost(['pack', broken, '--out', path.join(tmp, 'broken.tar.gz')]);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /^ {2}\(root\): is not valid JSON: /m);
  assert.equal(fs.existsSync(path.join(tmp, 'broken.tar.gz')), false);
});

test('install says on stderr what it is doing', async () => {
  const ws = await fetch(`${dev.url}/api/v1/workspaces`, {
    method: 'POST', headers: { authorization: `Bearer ${dev.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'other', name: 'Other' }),
  });
  assert.equal(ws.status, 201);
  const r = await plughost(['install', 'dev-sample', '--workspace', 'other', '--version', '1.0.0', '--iparam', 'greeting=hi'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'installing dev-sample@1.0.0 into other…\n');
  assert.match(r.stdout, /^installed dev-sample@1\.0\.0 as inst_\w+ \(active\)\n/);
  const refused = await plughost(['install', 'no-such-plugin', '--workspace', 'other'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^installing no-such-plugin \(newest version\) into other…\nplughost: PLUGIN_NOT_FOUND: /);
});

test('runs: one line each in the workspace zone, oldest first; filters, --limit and --logs; exit codes', async () => {
  const inst = dev.installationId!;
  const call = (p: string, body?: unknown) => fetch(dev.url + p, {
    method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${dev.operatorToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then((r) => r.json() as Promise<any>);
  const route = await fetch(`${dev.url}/workspaces/dev/sample/hello`);
  const routeRun = route.headers.get('x-plughost-run')!;
  await route.text();
  const failed = (await call(`/api/v1/workspaces/dev/installations/${inst}/events/onScheduledEvent`, { data: { fail: 'on purpose' } })).run;
  const clock = await call('/api/v1/dev/clock', { set: '2026-06-11T04:30:00Z' }); // past 06:00 in Rome: the early hook fires
  const hook = clock.runs.find((r: { kind: string }) => r.kind === 'hook');
  assert.ok(hook);

  const all = await plughost(['runs'], env);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stderr, 'runs of dev, oldest first, times in Europe/Rome\n');
  const lines = all.stdout.trimEnd().split('\n');
  const ids = lines.map((l) => /\[(run_\w+)\]/.exec(l)?.[1]);
  assert.ok(ids.indexOf(routeRun) < ids.indexOf(failed.id) && ids.indexOf(failed.id) < ids.indexOf(hook.id), all.stdout);
  assert.match(lines.find((l) => l.includes(routeRun))!, /^2026-06-10T08:00:00\+02:00 route GET \/workspaces\/dev\/sample\/hello \(http\): succeeded HTTP 200 in \d+ ms {2}\[run_\w+\]$/);
  assert.match(lines.find((l) => l.includes(failed.id))!, /^2026-06-10T08:00:00\+02:00 event onScheduledEvent manual \(manual\): failed in \d+ ms {2}\[run_\w+\] {2}PLUGIN_ERROR: Error: handler failed: on purpose$/);
  assert.match(lines.find((l) => l.includes(hook.id))!, /^2026-06-11T06:00:00\+02:00 hook hScheduleDailyEarly \(schedule\): succeeded in \d+ ms {2}\[run_\w+\]$/);
  assert.doesNotMatch(all.stdout, /\| /, 'no logs without --logs');

  const onlyFailed = await plughost(['runs', '--kind', 'event', '--status', 'failed'], env);
  assert.deepEqual(onlyFailed.stdout.trimEnd().split('\n').map((l) => /\[(run_\w+)\]/.exec(l)?.[1]), [failed.id]);
  const hooks = await plughost(['runs', '--installation', inst, '--kind', 'hook', '--logs'], env);
  assert.match(hooks.stdout, /^2026-06-11T06:00:00\+02:00 hook hScheduleDailyEarly \(schedule\): succeeded[^\n]*\n {2}\| 2026-06-11T06:00:00\.\d{3}\+02:00 \[log\] HOOK \{"response":/);
  const newest = await plughost(['runs', '--limit', '1'], env);
  assert.deepEqual(newest.stdout.trimEnd().split('\n').map((l) => /\[(run_\w+)\]/.exec(l)?.[1]), [ids.at(-1)]);
  const none = await plughost(['runs', '--installation', 'inst_nobody'], env);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '');
  assert.equal(none.stderr, 'no runs in dev yet\n');

  const refusals: Array<[string[], RegExp]> = [
    [['--limit', '0'], /^plughost: --limit 0: expected a whole number from 1 to 200$/m],
    [['--kind', 'nope'], /^plughost: INVALID_QUERY: `kind` must be one of /m],
    [['--workspace', 'nope'], /^plughost: WORKSPACE_NOT_FOUND: /m],
    [['--follow', '--interval', '10ms'], /^plughost: --interval 10ms: ask at most every 100ms$/m],
  ];
  for (const [args, re] of refusals) {
    const r = await plughost(['runs', ...args], env);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
  }
  const noToken = await plughost(['runs', '--url', dev.url]);
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /^plughost: no token/m);
});

test('runs --follow prints each run that finishes after it started, one already running too, and stops on SIGINT', { timeout: 60_000 }, async () => {
  const event = (name: string, data: Record<string, unknown>) => fetch(`${dev.url}/api/v1/workspaces/dev/installations/${dev.installationId}/events/onScheduledEvent`, {
    method: 'POST', headers: { authorization: `Bearer ${dev.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ data, name }),
  }).then(async (r) => ((await r.json()) as { run: { id: string } }).run);
  // A run that starts now and ends only when the stub answers; a quicker one started after it ends first.
  const slow = event('slow', { hold: 'yes' });
  await stub.waitForRequests(1);
  const quick = await event('quick', {});

  const child = spawn(process.execPath, ['--no-node-snapshot', cliPath, 'runs', '--follow', '--interval', '100ms', '--kind', 'event', '--logs'], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  const waitFor = (re: RegExp, which: () => string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(which())) resolve(); };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    check();
    void exited.then((code) => reject(new Error(`runs --follow exited (${code}) before ${re}:\n${stdout}${stderr}`)));
  });
  const printedOnce = (id: string) => assert.equal(stdout.split('\n').filter((l) => l.includes(`[${id}]`)).length, 1, `${id} once:\n${stdout}`);
  await waitFor(/^following dev every 100ms \(Ctrl-C stops\)…$/m, () => stderr);
  const listed = stdout;
  printedOnce(quick.id);

  const late = await event('late', { late: 'yes' });
  await waitFor(new RegExp(`\\[${late.id}\\]\\n {2}\\| \\S+ \\[log\\] PAYLOAD .*"late":"yes"`), () => stdout);
  assert.match(stdout.slice(listed.length), new RegExp(`^2026-06-11T06:30:00\\+02:00 event onScheduledEvent late \\(manual\\): succeeded in \\d+ ms {2}\\[${late.id}\\]\\n`));

  // The slow run started before `quick`, which was listed: it is printed when it finishes all the same.
  held.shift()!.end('released');
  const slowRun = await slow;
  await waitFor(new RegExp(`\\[${slowRun.id}\\]\\n(?: {2}\\| [^\\n]*\\n)* {2}\\| \\S+ \\[log\\] HELD released`), () => stdout);
  assert.ok(slowRun.id < quick.id, 'run ids follow start times');

  child.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  for (const id of [quick.id, late.id, slowRun.id]) printedOnce(id);
});
