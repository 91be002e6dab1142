// What a new operator meets first, as child processes: the Node.js preflight of every entry
// point (an older Node gets one line naming Node 24 and how to get it, not a stack of
// ERR_UNKNOWN_FILE_EXTENSION), `plughost --version`, `serve --host` binding only the address
// given (with a progress line for the store's migrations), and the sandbox and scheduler sizes
// as options (flags over environment over defaults).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { nodeProblem } from '../../bin/preflight.js';
import { resolveOptions } from '../../runtime/options.ts';
import { repoRoot } from '../helpers/plughost-cli.ts';
import { spawnServe } from '../shutdown/fixtures/serve-process.ts';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

test('the preflight passes Node 24 and later, and names Node 24 and how to get it to anything older', () => {
  assert.equal(nodeProblem('v24.11.0'), null);
  assert.equal(nodeProblem('v25.0.0'), null);
  const problem = nodeProblem('v20.20.2');
  assert.ok(problem);
  assert.doesNotMatch(problem, /\n/);
  assert.match(problem, /needs Node\.js 24 LTS or later, and this is Node\.js v20\.20\.2/);
  assert.match(problem, /nvm install 24/);
  assert.equal(fs.readFileSync(path.join(repoRoot, '.nvmrc'), 'utf8').trim(), '24');
  assert.match(fs.readFileSync(path.join(repoRoot, '.npmrc'), 'utf8'), /^engine-strict=true$/m);
  assert.equal(pkg.engines.node, '>=24 <25');
});

test('every entry point runs the preflight first: an older Node stops at once with its one line', () => {
  const entries = [
    ['bin/plughost.js', '--version'],
    ['--import', './bin/preflight.js', 'runtime/cli/plughost.ts', '--version'],
    ['--import', './bin/preflight.js', 'test/run.ts', '--only', 'sqlite'],
  ];
  for (const script of Object.values(pkg.scripts as Record<string, string>).filter((s) => s.startsWith('node '))) {
    assert.match(script, /--import \.\/bin\/preflight\.js/, `npm script without the preflight: ${script}`);
  }
  for (const args of entries) {
    const r = spawnSync(process.execPath, ['--no-node-snapshot', ...args], { cwd: repoRoot, env: { ...process.env, PLUGHOST_PREFLIGHT_NODE_VERSION: 'v20.20.2' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^plughost needs Node\.js 24 LTS/);
  }
});

test('plughost --version prints the package version', () => {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', 'bin/plughost.js', '--version'], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('host, warm isolates, spare isolates and scheduler concurrency are options: flags over environment over defaults', () => {
  const defaults = resolveOptions({}, {});
  assert.equal(defaults.host, undefined);
  assert.equal(defaults.sandbox.maxIsolates, 100);
  assert.equal(defaults.schedules.concurrency, 16);
  const fromEnv = resolveOptions({}, { PLUGHOST_HOST: '127.0.0.1', PLUGHOST_MAX_ISOLATES: '20', PLUGHOST_SPARE_ISOLATES: '0', PLUGHOST_SCHEDULER_CONCURRENCY: '4' });
  assert.deepEqual([fromEnv.host, fromEnv.sandbox.maxIsolates, fromEnv.sandbox.spareIsolates, fromEnv.schedules.concurrency], ['127.0.0.1', 20, 0, 4]);
  const flags = resolveOptions({ host: '::1', maxIsolates: '5' }, { PLUGHOST_HOST: '127.0.0.1', PLUGHOST_MAX_ISOLATES: '20' });
  assert.deepEqual([flags.host, flags.sandbox.maxIsolates], ['::1', 5]);
  assert.throws(() => resolveOptions({ maxIsolates: '0' }, {}), /--max-isolates \(PLUGHOST_MAX_ISOLATES\)/);
  assert.throws(() => resolveOptions({ host: 'a b' }, {}), /--host \(PLUGHOST_HOST\): must be an IP address or host name/);
});

test('serve --host 127.0.0.1 listens on loopback only', async (t) => {
  const external = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
  assert.ok(external, 'this test needs a non-loopback IPv4 address on the machine');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-host-'));
  const p = spawnServe(['--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--operator-token', 'operator-token-0123456789abcdef', '--max-isolates', '3']);
  t.after(async () => { await p.kill(); fs.rmSync(dataDir, { recursive: true, force: true }); });
  // A new store says what it migrates before it serves.
  await p.waitForLine(/applying \d+ store migrations \(001_core … \d{3}_\w+\)…/);
  const port = Number((await p.waitForLine(/listening on http:\/\/localhost:(\d+)/))[1]);
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, external.address);
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  assert.equal(refused, 'ECONNREFUSED', `port ${port} answered on ${external.address}`);
});
