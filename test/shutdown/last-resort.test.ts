// The last-resort handlers of the `plughost` CLI (issue 10): a stray promise rejection or an
// uncaught exception is logged on stderr and the host keeps serving. The stray failures come
// from a preloaded module (`--import`), timed to happen once the host serves.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { within } from '../schedule/fixtures/crash-child.ts';
import { api, listeningUrl, spawnServe, type ServeProcess } from './fixtures/serve-process.ts';

const TOKEN = 'last-resort-operator-token-0123456789';
const procs: ServeProcess[] = [];
let dataDir: string | undefined;

after(async () => {
  for (const p of procs) await p.kill().catch(() => undefined);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('an unhandled rejection and an uncaught exception are logged and the host keeps serving', async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-last-resort-'));
  // Fires on demand: SIGUSR2 makes one stray rejection and one uncaught exception.
  const preload = `data:text/javascript,${encodeURIComponent(`process.on('SIGUSR2', () => { Promise.reject(new Error('stray rejection for the test')); setImmediate(() => { throw new Error('stray exception for the test'); }); });`)}`;
  const p = spawnServe(['--port', '0', '--data', dataDir, '--operator-token', TOKEN], {}, ['--import', preload]);
  procs.push(p);
  const url = await listeningUrl(p);
  p.proc.kill('SIGUSR2');
  await p.waitForLine(/unhandled promise rejection \(kept running\): Error: stray rejection for the test/, 10_000);
  await p.waitForLine(/uncaught exception \(kept running\): Error: stray exception for the test/, 10_000);
  assert.equal(p.proc.exitCode, null, 'still running');
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await api(url, TOKEN, 'GET', '/api/v1/workspaces')).status, 200);
  p.proc.kill('SIGTERM');
  assert.deepEqual(await within(p.exited, 20_000, () => `serve did not exit after SIGTERM${p.output()}`), { code: 0, signal: null }, p.output());
  console.log('# stray rejection + uncaught exception logged; /healthz 200 after; SIGTERM exit 0');
});
