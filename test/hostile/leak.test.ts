// After one installation is hammered with 20 bad requests of mixed kinds (endless loops,
// microtask floods, memory bombs, never-settling runs, oversized responses, forbidden
// requires, escape attempts), nothing accumulates: the sandbox keeps at most one warm
// isolate per installation and no more spares than configured, every fatal run disposed its
// isolate (GET /metrics counts the restarts), each bad run got its own 5xx and run record,
// the well-behaved neighbour answered throughout, and the installation still serves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, callCalm, fixtureSource, getRun, installFixture, metricTotal, RESTARTS, startEnv, type Env } from './harness.ts';

const LIMIT = 500;
const DISPATCHER = `
// Runs the fixture named by ?fixture= (each is a plugin module exporting run).
const fixtures = {
  'infinite-loop': require('./infinite-loop.js'),
  'microtask-flood': require('./microtask-flood.js'),
  'memory-bomb': require('./memory-bomb.js'),
  'never-settles': require('./never-settles.js'),
  'oversized-result': require('./oversized-result.js'),
  'require-fs': require('./require-fs.js'),
  'constructor-escape': require('./constructor-escape.js'),
};
let calls = 0;
exports.run = function (eventData) {
  const query = eventData.request.query || {};
  calls += 1;
  if (query.mode !== 'bad') return eventData.response.json({ ok: true, calls });
  return fixtures[query.fixture].run(eventData);
};
`;

interface BadKind { fixture: string; kind?: string; status: number; code: string; fatal: boolean; runStatus: 'failed' | 'timed-out' }
const KINDS: BadKind[] = [
  { fixture: 'infinite-loop', status: 504, code: 'PLUGIN_TIMEOUT', fatal: true, runStatus: 'timed-out' },
  { fixture: 'microtask-flood', kind: 'then', status: 504, code: 'PLUGIN_TIMEOUT', fatal: true, runStatus: 'timed-out' },
  { fixture: 'memory-bomb', kind: 'array', status: 500, code: 'PLUGIN_MEMORY_LIMIT', fatal: true, runStatus: 'failed' },
  { fixture: 'never-settles', kind: 'promise', status: 504, code: 'PLUGIN_TIMEOUT', fatal: false, runStatus: 'timed-out' },
  { fixture: 'oversized-result', kind: 'send', status: 500, code: 'PLUGIN_RESULT_TOO_LARGE', fatal: false, runStatus: 'failed' },
  { fixture: 'infinite-loop', kind: 'continuation', status: 504, code: 'PLUGIN_TIMEOUT', fatal: true, runStatus: 'timed-out' },
  { fixture: 'require-fs', status: 500, code: 'PLUGIN_ERROR', fatal: false, runStatus: 'failed' },
  { fixture: 'microtask-flood', kind: 'await', status: 504, code: 'PLUGIN_TIMEOUT', fatal: true, runStatus: 'timed-out' },
  { fixture: 'memory-bomb', kind: 'string', status: 500, code: 'PLUGIN_MEMORY_LIMIT', fatal: true, runStatus: 'failed' },
  { fixture: 'constructor-escape', kind: 'throw', status: 500, code: 'PLUGIN_ERROR', fatal: false, runStatus: 'failed' },
];

let env: Env;
let ns: string;
let id: string;

before(async () => {
  env = await startEnv({ sandbox: { maxResultBytes: 1024 * 1024 } });
  const files: Record<string, string> = {};
  for (const name of ['microtask-flood', 'memory-bomb', 'never-settles', 'oversized-result', 'require-fs', 'constructor-escape']) {
    files[`${name}.js`] = fixtureSource(`${name}.js`);
  }
  ({ namespace: ns, id } = await installFixture(env, {
    fixture: 'infinite-loop.js', name: 'mixed-bag', main: DISPATCHER, files, limits: { timeoutMs: LIMIT, memoryMb: 32 },
  }));
});
after(async () => {
  await env.close();
});

test('20 bad requests of mixed kinds leave no isolate behind and count every restart', async () => {
  const installations = 2; // calm and mixed-bag
  const spareIsolates = env.h.host.options.sandbox.spareIsolates;
  const warmBefore = await call(env, ns);
  assert.equal(warmBefore.status, 200, warmBefore.text);
  const restartsBefore = await metricTotal(env, RESTARTS);
  const rssBefore = process.memoryUsage().rss;
  let fatal = 0;
  const runs: Array<{ runId: string; bad: BadKind }> = [];

  for (let i = 0; i < 20; i++) {
    const bad = KINDS[i % KINDS.length]!;
    const query: Record<string, string> = { mode: 'bad', fixture: bad.fixture };
    if (bad.kind) query.kind = bad.kind;
    const [res] = await Promise.all([call(env, ns, query), callCalm(env, 2)]);
    const label = `request ${i} (${bad.fixture} ${bad.kind ?? ''})`;
    assert.equal(res.status, bad.status, `${label}: ${res.text}`);
    assert.equal(res.body.error.code, bad.code, label);
    assert.ok(res.ms < LIMIT + 1500, `${label} took ${Math.round(res.ms)} ms`);
    runs.push({ runId: res.runId!, bad });
    if (bad.fatal) fatal++;
    const stats = env.h.host.sandbox.stats();
    assert.ok(stats.warm <= installations, `${label}: ${stats.warm} warm isolates for ${installations} installations`);
    assert.ok(stats.spare <= spareIsolates, `${label}: ${stats.spare} spare isolates (at most ${spareIsolates})`);
  }
  assert.equal(new Set(runs.map((r) => r.runId)).size, 20, 'every bad request has its own run');
  for (const { runId, bad } of runs) {
    const run = await getRun(env, runId);
    assert.equal(run.installationId, id);
    assert.equal(run.status, bad.runStatus);
    assert.equal(run.error.code, bad.code);
    assert.ok(run.log.includes(`[host] ${bad.code}: `), run.log);
  }

  const restarts = await metricTotal(env, RESTARTS);
  assert.ok(restarts >= restartsBefore + fatal, `restarts went from ${restartsBefore} to ${restarts}; ${fatal} runs were fatal`);
  assert.ok(await metricTotal(env, 'plughost_isolates_warm') <= installations);

  const next = await call(env, ns);
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.ok, true);
  await callCalm(env);
  const stats = env.h.host.sandbox.stats();
  assert.ok(stats.warm <= installations, `${stats.warm} warm isolates at the end`);
  const grownMb = (process.memoryUsage().rss - rssBefore) / (1024 * 1024);
  assert.ok(grownMb < 256, `the host process grew by ${Math.round(grownMb)} MiB over 20 bad runs`);
});
