// The invocation share: one installation may have at most `limits.invocationsPerInstallation`
// invocations running or queued in the sandbox at once. A plugin whose route waits on a host
// that holds every request, called far more often at once than its share, gets 429
// PLUGIN_LIMIT (run failed, `limit: "invocationsPerInstallation"`) at once for the calls past
// it, and only its share ever runs; a neighbour in another workspace is served promptly
// meanwhile, and the flooded installation serves again once its calls are over.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const SHARE = 8;
const FLOOD = 80;
const PROMPT_MS = 1000;
let h: TestHost;
let hold: StubServer; // answers nothing until the test lets go
const held: http.ServerResponse[] = [];
const letGo = () => {
  for (const res of held.splice(0)) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"released":true}'); }
};

const WAITER = `
exports.run = function (e) {
  fetch('http://hold.test/' + (e.request.query.tag || '')).then(function (r) { return r.json(); })
    .then(function (b) { e.response.json(b); }, function (err) { e.response.status(502).json({ failed: String(err) }); });
};
`;

before(async () => {
  hold = await startStub((_req, res) => { held.push(res); });
  h = await startHost({ egressMap: { 'hold.test': hold.url }, limits: { invocationsPerInstallation: SHARE } });
  const plugins = [
    ['waiter', 'wt', WAITER],
    ['neighbour', 'nb', 'exports.run = function (e) { e.response.json({ ok: true }); };\n'],
  ] as const;
  for (const [name, ns, main] of plugins) {
    const pub = await h.publish({
      'plugin.json': { name, version: '1.0.0', namespace: ns, services: [{ route: 'go', main: 'go.js', access: 'public' }], permissions: { hosts: ['hold.test'] }, limits: { timeoutMs: 10_000 } },
      'go.js': main,
    });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker', 'waiter'], ['victim', 'neighbour']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  letGo();
  await h.close();
  await hold.close();
});

interface Answer { status: number; body: any; ms: number; runId: string | null }
const get = async (path: string): Promise<Answer> => {
  const started = performance.now();
  const res = await fetch(`${h.url}${path}`);
  const body = await res.json();
  return { status: res.status, body, ms: performance.now() - started, runId: res.headers.get('x-plughost-run') };
};

test(`${FLOOD} concurrent calls to one installation: those past its share of ${SHARE} get 429 PLUGIN_LIMIT at once; the neighbour is served`, { timeout: 60_000 }, async () => {
  // Every call but the share answers while the share is held: collect those answers as they come.
  const early: Answer[] = [];
  let onEarly!: () => void;
  const allEarly = new Promise<void>((resolve) => { onEarly = resolve; });
  const calls = Array.from({ length: FLOOD }, (_, i) => get(`/workspaces/attacker/wt/go?tag=${i}`).then((a) => {
    if (early.push(a) === FLOOD - SHARE) onEarly();
    return a;
  }));
  await allEarly;
  const refusedAnswers = early;
  for (const a of refusedAnswers) {
    assert.equal(a.status, 429, JSON.stringify(a.body));
    assert.equal(a.body.error.code, 'PLUGIN_LIMIT', JSON.stringify(a.body));
    assert.match(a.body.error.message, /limits\.invocationsPerInstallation 8/);
    assert.ok(a.body.error.message.includes(a.runId!), 'the error names its run');
    assert.ok(a.ms < PROMPT_MS, `a refused call took ${Math.round(a.ms)} ms`);
  }
  await hold.waitForRequests(SHARE);
  assert.equal(hold.requests.length, SHARE, 'only the installation\'s share reached plugin code');
  assert.equal(h.host.sandbox.stats().inFlight, SHARE);
  // A refusal is a failed run like any other, with the budget named.
  await h.host.runs.whenDone(refusedAnswers[0]!.runId!);
  await h.host.recorder.flush();
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${refusedAnswers[0]!.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'failed');
  assert.equal(run.body.kind, 'route');
  assert.equal(run.body.httpStatus, null);
  assert.equal(run.body.error.code, 'PLUGIN_LIMIT');
  assert.equal(run.body.error.details.limit, 'invocationsPerInstallation');
  assert.match(run.body.log, /\[host\] PLUGIN_LIMIT: .*invocationsPerInstallation/);

  // The neighbour in another workspace, while the attacker holds its whole share.
  const neighbours = await Promise.all(Array.from({ length: 5 }, () => get('/workspaces/victim/nb/go')));
  for (const n of neighbours) {
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.deepEqual(n.body, { ok: true });
    assert.ok(n.ms < PROMPT_MS, `the neighbour took ${Math.round(n.ms)} ms beside the flood`);
  }

  letGo();
  const answers = await Promise.all(calls);
  const served = answers.filter((a) => a.status === 200);
  assert.equal(served.length, SHARE);
  for (const a of served) assert.deepEqual(a.body, { released: true });
  assert.equal(answers.filter((a) => a.status === 429).length, FLOOD - SHARE);
  await h.host.executor.idle(); // a route answers before its run is over
  assert.equal(h.host.sandbox.stats().inFlight, 0);

  // Its share is free again: the installation serves the next call.
  const next = get('/workspaces/attacker/wt/go?tag=next');
  await hold.waitForRequests(SHARE + 1);
  letGo();
  const again = await next;
  assert.equal(again.status, 200, JSON.stringify(again.body));
});
