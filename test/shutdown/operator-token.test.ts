// The generated operator token is made only once `plughost serve` can serve (issue 10): a start
// on a busy port exits non-zero and stores no operator token (nobody would ever see it); the
// next start, on a free port, generates one, prints it, and that token works.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openLedger, within } from '../schedule/fixtures/crash-child.ts';
import { api, listeningUrl, spawnServe, type ServeProcess } from './fixtures/serve-process.ts';

const procs: ServeProcess[] = [];
let dataDir: string | undefined;
let blocker: net.Server | undefined;

after(async () => {
  for (const p of procs) await p.kill().catch(() => undefined);
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const operatorTokens = async (dir: string): Promise<number> => {
  const db = openLedger(dir, '') // the serve child always runs on SQLite here: '' (not undefined, which picks the suite's PostgreSQL);
  try {
    return (await db('tokens').where({ kind: 'operator' })).length;
  } finally {
    await db.destroy();
  }
};

test('serve on a busy port exits non-zero and stores no operator token; the next start prints one that works', async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-token-'));
  const b = net.createServer();
  blocker = b;
  await new Promise<void>((resolve, reject) => { b.once('error', reject); b.listen(0, '0.0.0.0', () => resolve()); });
  const busyPort = (b.address() as net.AddressInfo).port;

  const failed = spawnServe(['--port', String(busyPort), '--data', dataDir]);
  procs.push(failed);
  const exit = await within(failed.exited, 30_000, () => `serve on a busy port did not exit${failed.output()}`);
  assert.notEqual(exit.code, 0, failed.output());
  assert.equal(exit.code, 1, failed.output());
  assert.match(failed.output(), /EADDRINUSE/);
  assert.doesNotMatch(failed.output(), /operator token/);
  assert.ok(fs.existsSync(path.join(dataDir, 'plughost.sqlite')), 'the failed start did open the store');
  assert.equal(await operatorTokens(dataDir), 0, 'the failed start stored no operator token');

  const ok = spawnServe(['--port', '0', '--data', dataDir]);
  procs.push(ok);
  const url = await listeningUrl(ok);
  const [, token] = await ok.waitForLine(/operator token \(shown once; it is stored hashed\): (\S+)/, 10_000);
  assert.ok(token);
  const listed = await api(url, token!, 'GET', '/api/v1/workspaces');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal((await api(url, 'pho_not-the-token-0123456789', 'GET', '/api/v1/workspaces')).status, 401);

  ok.proc.kill('SIGTERM');
  assert.deepEqual(await within(ok.exited, 20_000, () => `serve did not exit after SIGTERM${ok.output()}`), { code: 0, signal: null }, ok.output());
  assert.equal(await operatorTokens(dataDir), 1, 'exactly the printed token is stored');
  console.log(`# busy port ${busyPort}: exit ${exit.code}, 0 operator tokens stored; next start printed a token, GET /api/v1/workspaces → ${listed.status}`);
});
