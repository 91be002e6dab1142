// A host process SIGKILLed right AFTER a scheduled run finished (SPEC §8 "killing a process
// mid-run loses nothing", §5 run history): the ledger says the occurrence succeeded with
// `lastRunId`, so that run must be in the run history too, after the kill. The host process is
// killed as soon as it reports `occurrence:finished`; a second host on the same store then
// serves the occurrence and its run. Runs on the store of the pass (SQLite file, or the
// PostgreSQL schema of the data dir in the PostgreSQL pass).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { databaseUrlOf, openLedger, schemaOf, startHostChild, type HostChild } from '../schedule/fixtures/crash-child.ts';
import { connectOrFail } from './fixtures/pg.ts';

const START = Date.parse('2030-06-01T00:00:00Z');
const DUE = Date.parse('2030-06-01T01:00:00Z');
const OPERATOR_TOKEN = 'kill-after-finish-operator-token-0123';
const WS = 'kaf';
let dataDir: string;
const children: HostChild[] = [];

before(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-kill-after-finish-'));
});

after(async () => {
  for (const c of children) await c.kill().catch(() => undefined);
  const url = databaseUrlOf();
  if (url) {
    const c = await connectOrFail(url);
    await c.query(`DROP SCHEMA IF EXISTS "${schemaOf(dataDir)}" CASCADE`).finally(() => c.end());
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const start = async (startMs: number) => {
  const child = await startHostChild({ dataDir, startMs, operatorToken: OPERATOR_TOKEN });
  children.push(child);
  return child;
};

test('a run that finished just before its process was SIGKILLed is in the run history', async () => {
  const host1 = await start(START);
  const published = await host1.publish({
    'plugin.json': { name: 'quick', version: '1.0.0', namespace: 'quick', services: [{ route: 'tick', main: 'plugin.js', access: 'public' }], limits: { timeoutMs: 2000 } },
    'plugin.js': `exports.run = function (e) { e.response.json({ ok: true }); };`,
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await host1.api('POST', '/api/v1/workspaces', { id: WS, name: 'Kill after finish' })).status, 201);
  assert.equal((await host1.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'quick' })).status, 201);
  const created = await host1.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, {
    url: `/workspaces/${WS}/quick/tick`, frequency: 'daily', start: '2030-06-01 01:00:00', timezone: 'UTC', description: 'quick',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  // The run finishes; the process dies right after it says so.
  const finished = host1.waitForEvent('occurrence:finished');
  await host1.set(DUE);
  const info = await finished;
  await host1.kill();
  assert.equal(info.status, 'succeeded');
  assert.ok(info.runId, 'the finished occurrence names its run');

  // The ledger on the store, as any other host sees it.
  const ledger = openLedger(dataDir);
  try {
    const occ = await ledger('occurrences').where({ id: info.occurrenceId }).first();
    assert.equal(occ.status, 'succeeded');
    assert.equal(occ.last_run_id, info.runId);
    const runs = await ledger('runs').where({ id: info.runId });
    assert.equal(runs.length, 1, `the run ${info.runId} the ledger points to is in the run history (the host was killed after it finished)`);
    assert.equal(runs[0].status, 'succeeded');
    assert.equal(runs[0].idempotency_key, info.idempotencyKey);
  } finally {
    await ledger.destroy();
  }

  // And over the API of a host started afterwards on the same store.
  const host2 = await start(DUE + 1000);
  const run = await host2.api('GET', `/api/v1/workspaces/${WS}/runs/${info.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'succeeded');
  await host2.close();
});
