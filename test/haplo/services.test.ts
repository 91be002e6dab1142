// Haplo services across the installations of one workspace (SPEC §3): O.service calls the
// implementations in install order (within one installation in registration order) until one
// returns something other than undefined; with none it throws SERVICE_NOT_IMPLEMENTED;
// serviceMaybe / serviceImplemented; services never cross workspaces; arguments and results
// cross as JSON and O.binaryData round-trips; a deactivated installation's services vanish; a
// call chain that comes back round fails at once with SERVICE_DEADLOCK; an implementation that
// throws surfaces in the caller; and what the implementation logs lands in the caller's run log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { createWorkspace, install, publishPlugin } from './fixtures/haplo.ts';

const CALLER_TIMEOUT_MS = 8000;
let h: TestHost;
const ids: Record<string, string> = {};

/** The caller's driver route: `{op, name, args}` → `{value}` or `{error: {code, message}}`. */
const DRIVER = `
exports.run = function (e) {
  var b = e.request.body;
  try {
    var v;
    if (b.op === 'service') v = O.service.apply(O, [b.name].concat(b.args || []));
    else if (b.op === 'maybe') v = O.serviceMaybe.apply(O, [b.name].concat(b.args || []));
    else if (b.op === 'implemented') v = O.serviceImplemented(b.name);
    else if (b.op === 'echo') {
      v = O.service('t:echo', { n: 1.5, s: 'text', arr: [1, 'two', null, true], nested: { deep: { deeper: 'yes' } },
        when: new Date(Date.UTC(2020, 0, 2)), fn: function () {}, undef: undefined });
    } else if (b.op === 'binary') {
      var r = O.service('t:binary', O.binaryData('héllo, world', { mimeType: 'text/plain', filename: 'in.txt' }));
      v = { text: r.readAsString(), mimeType: r.mimeType, filename: r.filename, fileSize: r.fileSize, hasReader: typeof r.readAsString === 'function' };
    } else throw new Error('unknown op ' + b.op);
    e.response.json({ value: v === undefined ? '<undefined>' : v });
  } catch (err) {
    e.response.status(500).json({ error: { code: err.code === undefined ? null : err.code, message: String(err.message) } });
  }
};`;

/** The same calls without a catch: what an uncaught service failure does to a route. */
const UNCAUGHT = `
exports.run = function (e) {
  e.response.json({ value: O.service(e.request.query.name) });
};`;

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'hsvc-a');
  await createWorkspace(h, 'hsvc-b');

  // Installed in the order zulu, alpha, mike (not alphabetical), then the caller.
  await publishPlugin(h, {
    name: 'hsvc-zulu', namespace: 'zulu', main: `
P.implementService('t:pick', function (x) { return x === 'z' ? 'zulu' : undefined; });
P.implementService('t:zulu-only', function () { return 'zulu here'; });
P.implementService('t:quiet', function () { return undefined; });`,
  });
  await publishPlugin(h, {
    name: 'hsvc-alpha', namespace: 'alpha', main: `
P.implementService('t:pick', function (x) { return x === 'z' || x === 'a' ? 'alpha' : undefined; });
P.implementService('t:local', function () { return undefined; });
P.implementService('t:local', function () { return 'local-2'; });
P.implementService('t:local', function () { return 'local-3'; });
P.implementService('t:null', function () { return null; });
P.implementService('t:false', function () { return false; });
P.implementService('t:echo', function (v) {
  return { got: v, whenType: typeof v.when, hasFn: 'fn' in v, hasUndef: 'undef' in v, returnedAt: new Date(Date.UTC(2021, 5, 6)) };
});
P.implementService('t:binary', function (b) {
  return O.binaryData(b.readAsString().toUpperCase() + '|' + b.mimeType + '|' + b.filename + '|' + b.fileSize, { mimeType: 'text/csv', filename: 'out.csv' });
});
P.implementService('t:throws', function () { var e = new Error('alpha refuses'); throw e; });
P.implementService('t:logs', function (x) {
  console.log('alpha log line ' + x);
  console.warn('alpha warning');
  return 'logged ' + x;
});`,
  });
  await publishPlugin(h, {
    name: 'hsvc-mike', namespace: 'mike', main: `
P.implementService('t:pick', function (x) { return 'mike'; });
P.implementService('t:mike-only', function () { return 'mike here'; });`,
  });
  // B of the deadlock: its implementation of S calls T, which only the caller (A) implements.
  await publishPlugin(h, {
    name: 'hsvc-loop', namespace: 'loop', main: `
P.implementService('t:loop-s', function () { return 'S saw ' + O.service('t:loop-t'); });
P.implementService('t:chain-s', function () { return 'S saw ' + O.service('t:chain-u'); });`,
  });
  // A third plugin for a chain that does not come back round: caller → loop (S) → chain (U).
  await publishPlugin(h, {
    name: 'hsvc-chain', namespace: 'chain', main: `
P.implementService('t:chain-u', function () { return 'U'; });`,
  });
  await publishPlugin(h, {
    name: 'hsvc-whoami', namespace: 'whoami', main: `
P.implementService('t:whoami', function () { return require('plughost').context.workspaceId; });`,
  });
  await publishPlugin(h, {
    name: 'hsvc-caller', namespace: 'caller', timeoutMs: CALLER_TIMEOUT_MS,
    routes: { call: DRIVER, uncaught: UNCAUGHT },
    main: `
P.implementService('t:loop-t', function () { return 'T'; });
P.implementService('t:own', function () { return 'own'; });`,
  });

  for (const p of ['hsvc-zulu', 'hsvc-alpha', 'hsvc-mike', 'hsvc-loop', 'hsvc-chain', 'hsvc-whoami', 'hsvc-caller']) ids[`a:${p}`] = await install(h, 'hsvc-a', p);
  // Workspace B has the same caller and whoami plugins, but none of the others.
  for (const p of ['hsvc-whoami', 'hsvc-caller']) ids[`b:${p}`] = await install(h, 'hsvc-b', p);
});
after(async () => { await h.close(); });

async function call(ws: string, body: Record<string, unknown>): Promise<{ status: number; body: any; run: string | null; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/${ws}/caller/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  const ms = performance.now() - started;
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* stays text */ }
  return { status: res.status, body: parsed, run: res.headers.get('x-plughost-run'), ms };
}

const value = async (ws: string, body: Record<string, unknown>) => {
  const r = await call(ws, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.value;
};

test('the first implementation in install order that returns something other than undefined wins', async () => {
  // zulu (installed first) and alpha both answer 'z': zulu wins although 'alpha' sorts first.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['z'] }), 'zulu');
  // zulu returns undefined for 'a': alpha is next.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['a'] }), 'alpha');
  // Only mike answers anything else.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['q'] }), 'mike');
});

test('null and false are answers: only undefined passes to the next implementation', async () => {
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:null' }), null);
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:false' }), false);
});

test('within one installation, implementations run in registration order', async () => {
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:local' }), 'local-2');
});

test('the calling installation\'s own implementations take part too', async () => {
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:own' }), 'own');
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:own' }), true);
});

test('O.service with no implementation throws SERVICE_NOT_IMPLEMENTED naming the service', async () => {
  const r = await call('hsvc-a', { op: 'service', name: 't:nobody-implements-this' });
  assert.equal(r.status, 500);
  assert.equal(r.body.error.code, 'SERVICE_NOT_IMPLEMENTED');
  assert.match(r.body.error.message, /t:nobody-implements-this/);
});

test('O.service returns undefined when implementations exist but all return undefined (as in Haplo: it throws only with none)', async () => {
  // Haplo's O.service throws only when nothing is registered for the name; otherwise it is the
  // first non-undefined result, or undefined (SPEC §3: "with none it throws").
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:quiet' }), true);
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:quiet' }), '<undefined>');
});

test('an uncaught SERVICE_NOT_IMPLEMENTED fails the route with a clean 500 that names the service', async () => {
  const res = await fetch(`${h.url}/workspaces/hsvc-a/caller/uncaught?name=t:nobody-implements-this`);
  const body = await res.json() as { error: { code: string; message: string } };
  assert.equal(res.status, 500);
  assert.equal(body.error.code, 'PLUGIN_ERROR');
  assert.match(body.error.message, /t:nobody-implements-this/);
});

test('serviceMaybe returns undefined with no implementation, the value with one', async () => {
  assert.equal(await value('hsvc-a', { op: 'maybe', name: 't:nobody-implements-this' }), '<undefined>');
  assert.equal(await value('hsvc-a', { op: 'maybe', name: 't:zulu-only' }), 'zulu here');
  // Implemented, but every implementation returns undefined: undefined too.
  assert.equal(await value('hsvc-a', { op: 'maybe', name: 't:quiet' }), '<undefined>');
});

test('serviceImplemented is true when some active installation implements the name', async () => {
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:zulu-only' }), true);
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:pick' }), true);
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:nobody-implements-this' }), false);
});

test('services never cross workspaces', async () => {
  // The same whoami plugin in both workspaces: each caller reaches its own workspace's copy.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:whoami' }), 'hsvc-a');
  assert.equal(await value('hsvc-b', { op: 'service', name: 't:whoami' }), 'hsvc-b');
  // zulu, alpha and mike are installed in A only: B sees none of their services.
  assert.equal(await value('hsvc-b', { op: 'implemented', name: 't:pick' }), false);
  assert.equal(await value('hsvc-b', { op: 'implemented', name: 't:zulu-only' }), false);
  assert.equal(await value('hsvc-b', { op: 'maybe', name: 't:pick', args: ['z'] }), '<undefined>');
  const r = await call('hsvc-b', { op: 'service', name: 't:mike-only' });
  assert.equal(r.status, 500);
  assert.equal(r.body.error.code, 'SERVICE_NOT_IMPLEMENTED');
  assert.match(r.body.error.message, /t:mike-only/);
});

test('arguments and return values cross installations as JSON', async () => {
  assert.deepEqual(await value('hsvc-a', { op: 'echo' }), {
    got: { n: 1.5, s: 'text', arr: [1, 'two', null, true], nested: { deep: { deeper: 'yes' } }, when: '2020-01-02T00:00:00.000Z' },
    // A Date arrives as its JSON string; functions and undefined properties do not cross.
    whenType: 'string', hasFn: false, hasUndef: false,
    returnedAt: '2021-06-06T00:00:00.000Z',
  });
});

test('O.binaryData round-trips across installations: readAsString(), mimeType, filename', async () => {
  assert.deepEqual(await value('hsvc-a', { op: 'binary' }), {
    // 'héllo, world' is 13 bytes of UTF-8.
    text: 'HÉLLO, WORLD|text/plain|in.txt|13', mimeType: 'text/csv', filename: 'out.csv',
    fileSize: Buffer.byteLength('HÉLLO, WORLD|text/plain|in.txt|13'), hasReader: true,
  });
});

test('an implementation that throws surfaces as an error in the caller', async () => {
  const r = await call('hsvc-a', { op: 'service', name: 't:throws' });
  assert.equal(r.status, 500);
  assert.equal(r.body.error.code, 'PLUGIN_ERROR');
  assert.match(r.body.error.message, /alpha refuses/);
  // Uncaught, it fails the caller's route with a clean 500 carrying the message.
  const res = await fetch(`${h.url}/workspaces/hsvc-a/caller/uncaught?name=t:throws`);
  const body = await res.json() as { error: { code: string; message: string } };
  assert.equal(res.status, 500);
  assert.equal(body.error.code, 'PLUGIN_ERROR');
  assert.match(body.error.message, /alpha refuses/);
  // The thrower's isolate is fine afterwards.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['a'] }), 'alpha');
});

test('what the implementation logs during the call lands in the caller\'s run log', async () => {
  const r = await call('hsvc-a', { op: 'service', name: 't:logs', args: ['x42'] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.value, 'logged x42');
  assert.ok(r.run, 'the route answer names its run');
  const run = await h.api('GET', `/api/v1/workspaces/hsvc-a/runs/${r.run}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.installationId, ids['a:hsvc-caller']);
  assert.match(run.body.log, /alpha log line x42/);
  assert.match(run.body.log, /alpha warning/);
});

test('a chain of calls that does not come back round works', async () => {
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:chain-s' }), 'S saw U');
});

test('a deadlock (A → S in B → T in A) fails promptly with SERVICE_DEADLOCK instead of hanging', async () => {
  const r = await call('hsvc-a', { op: 'service', name: 't:loop-s' });
  assert.equal(r.status, 500, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'SERVICE_DEADLOCK');
  assert.match(r.body.error.message, /t:loop-t/);
  assert.match(r.body.error.message, /deadlock/);
  // Far below the caller's time limit: refused at once, not timed out.
  assert.ok(r.ms < CALLER_TIMEOUT_MS / 4, `answered in ${Math.round(r.ms)} ms (limit ${CALLER_TIMEOUT_MS} ms)`);

  // Uncaught, the route fails cleanly and promptly too.
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/hsvc-a/caller/uncaught?name=t:loop-s`);
  const body = await res.json() as { error: { code: string; message: string } };
  assert.equal(res.status, 500);
  assert.match(body.error.message, /deadlock/);
  assert.ok(performance.now() - started < CALLER_TIMEOUT_MS / 4);

  // Both isolates carry on.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:chain-s' }), 'S saw U');
});

test('a deactivated installation\'s services disappear, and come back when reactivated', async () => {
  const mike = ids['a:hsvc-mike']!;
  const off = await h.api('PATCH', `/api/v1/workspaces/hsvc-a/installations/${mike}`, { active: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(await value('hsvc-a', { op: 'implemented', name: 't:mike-only' }), false);
  assert.equal(await value('hsvc-a', { op: 'maybe', name: 't:pick', args: ['q'] }), '<undefined>');
  const r = await call('hsvc-a', { op: 'service', name: 't:mike-only' });
  assert.equal(r.body.error.code, 'SERVICE_NOT_IMPLEMENTED');
  // The others still answer.
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['a'] }), 'alpha');

  const on = await h.api('PATCH', `/api/v1/workspaces/hsvc-a/installations/${mike}`, { active: true });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['q'] }), 'mike');
  assert.equal(await value('hsvc-a', { op: 'service', name: 't:pick', args: ['z'] }), 'zulu');
});
