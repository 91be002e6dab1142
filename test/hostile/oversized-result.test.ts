// A plugin that sends a response over the host's result limit (a 2 MiB text body, a 2 MiB
// object through res.json, binary bytes whose encoding goes over) on a host started with
// `maxResultBytes: 1 MiB` gets a 500 PLUGIN_RESULT_TOO_LARGE: the size is checked inside
// the isolate, before any copy out; the run is recorded; a well-behaved plugin keeps
// answering; the same installation serves its next request; a body just under the limit
// still goes out whole. An event handler (run in-process, as a schedule firing runs it)
// whose returned result is over the limit fails its run the same way.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertHostileOutcome, assertServesAgain, call, getRun, hostileBesideCalm, installFixture, MARGIN_MS, startEnv, WS, type Env } from './harness.ts';

const LIMIT = 400;
const MAX_RESULT = 1024 * 1024;
let env: Env;
let ns: string;
let installationId: string;

before(async () => {
  env = await startEnv({ sandbox: { maxResultBytes: MAX_RESULT } });
  ({ namespace: ns, id: installationId } = await installFixture(env, {
    fixture: 'oversized-result.js', limits: { timeoutMs: LIMIT },
    manifest: { events: { onScheduledEvent: { handler: 'onScheduledEventHandler' } } },
  }));
});
after(async () => {
  await env.close();
});

const cases = [
  { kind: 'send', what: 'a 2 MiB text body', size: 2 * 1024 * 1024 },
  { kind: 'json', what: 'a 2 MiB object sent with res.json()', size: 2 * 1024 * 1024 },
  { kind: 'binary', what: '900 KiB of bytes, over 1 MiB once encoded', size: 900 * 1024 },
];

for (const c of cases) {
  test(`${c.what} gets 500 PLUGIN_RESULT_TOO_LARGE; neighbours and the next request are served`, async () => {
    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind: c.kind, size: String(c.size) });
    await assertHostileOutcome(env, res, {
      status: 500, code: 'PLUGIN_RESULT_TOO_LARGE', limitMs: LIMIT, runStatus: 'failed', message: new RegExp(`over ${MAX_RESULT} bytes`),
    });
    assert.ok(res.text.length < 1024, 'none of the oversized body reached the client');
    await assertServesAgain(env, ns, LIMIT);
  });
}

test('a body just under the limit goes out whole', async () => {
  const size = MAX_RESULT - 64 * 1024;
  const res = await call(env, ns, { mode: 'bad', kind: 'send', size: String(size) });
  assert.equal(res.status, 200, res.text.slice(0, 200));
  assert.equal(res.text.length, size);
  assert.equal(res.text, 'z'.repeat(size));
});

async function fireEvent(size: number) {
  const { host } = env.h;
  const plugin = await host.installations.toSandboxPlugin(await host.store.installations.require(WS, installationId));
  const started = performance.now();
  const result = await host.executor.run(plugin, {
    kind: 'event', payload: { event: 'onScheduledEvent', handler: 'onScheduledEventHandler', payload: { event: 'onScheduledEvent', data: { size } } },
  }, { kind: 'event', trigger: 'manual', target: 'onScheduledEvent' });
  return { ...result, ms: performance.now() - started };
}

test('an event handler returning a 2 MiB result fails its run with PLUGIN_RESULT_TOO_LARGE', async () => {
  const calm = call(env, env.calm);
  const { run, outcome, ms } = await fireEvent(2 * 1024 * 1024);
  assert.equal((await calm).status, 200);
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.error?.code, 'PLUGIN_RESULT_TOO_LARGE');
  assert.equal(outcome.value, undefined);
  assert.ok(ms < LIMIT + MARGIN_MS);
  const recorded = await getRun(env, run.id);
  assert.equal(recorded.kind, 'event');
  assert.equal(recorded.status, 'failed');
  assert.equal(recorded.error.code, 'PLUGIN_RESULT_TOO_LARGE');
  assert.ok(recorded.log.includes('[host] PLUGIN_RESULT_TOO_LARGE: '), recorded.log);

  const small = await fireEvent(4 * 1024);
  assert.equal(small.outcome.status, 'succeeded', JSON.stringify(small.outcome.error));
  assert.equal((small.outcome.value as { items: unknown[] }).items.length, 4);
  await assertServesAgain(env, ns, LIMIT);
});
