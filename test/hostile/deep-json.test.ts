// Deeply nested JSON bodies: a body nesting arrays and objects deeper than MAX_JSON_DEPTH
// (runtime/http/body.ts) is refused with 400 INVALID_JSON before it is parsed, on plugin routes
// and the admin API alike; nothing runs and nothing is stored, and a neighbour installation in
// another workspace is served meanwhile. Before the bound, 500,000 levels (and a few thousand)
// overflowed the host's stack on the way into the isolate and answered 500 INTERNAL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_JSON_DEPTH } from '../../runtime/http/body.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureSource, PROMPT_MS } from './harness.ts';

let h: TestHost;
let deepId: string;

const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const HOSTILE_DEPTH = 500_000;

before(async () => {
  // Room for 500,000 levels of objects (3 MB): the depth bound, not the size bound, must refuse them.
  h = await startHost({ http: { maxBodyBytes: 4 * 1024 * 1024 } });
  const plugins = [
    ['deep', 'dp', fixtureSource('deep-json.js'), { events: { onScheduledEvent: { handler: 'onScheduled' } } }],
    ['neighbour', 'nb', 'exports.run = function (e) { e.response.json({ ok: true }); };\n', {}],
  ] as const;
  for (const [name, ns, main, extra] of plugins) {
    const pub = await h.publish({
      'plugin.json': { name, version: '1.0.0', namespace: ns, main: 'plugin.js', services: [{ route: 'go', main: 'plugin.js', access: 'public' }], limits: { timeoutMs: 5_000 }, ...extra },
      'plugin.js': main,
    });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker', 'deep'], ['victim', 'neighbour']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    const inst = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin });
    assert.equal(inst.status, 201, JSON.stringify(inst.body));
    if (ws === 'attacker') deepId = inst.body.id;
  }
});
after(async () => {
  await h.close();
});

const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
  const started = performance.now();
  const res = await fetch(h.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text), runId: res.headers.get('x-plughost-run'), ms: performance.now() - started };
};
const route = (body: string) => post('/workspaces/attacker/dp/go', body);

const neighbourServed = async () => {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/victim/nb/go`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  const ms = performance.now() - started;
  assert.ok(ms < PROMPT_MS, `the neighbour took ${Math.round(ms)} ms beside the deep bodies (at most ${PROMPT_MS})`);
};

const runCount = async () => {
  const list = await h.api('GET', '/api/v1/workspaces/attacker/runs');
  assert.equal(list.status, 200, JSON.stringify(list.body));
  return list.body.data.length as number;
};

function assertTooDeep(res: { status: number; text: string; body: any }) {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.error.code, 'INVALID_JSON', res.text);
  assert.match(res.body.error.message, new RegExp(`nests too deep: arrays and objects more than ${MAX_JSON_DEPTH} levels deep`));
}

test(`a plugin route given ${HOSTILE_DEPTH.toLocaleString('en')}-deep arrays or objects answers 400 INVALID_JSON; nothing runs; the neighbour is served`, async () => {
  const before = await runCount();
  const attacks = [arrays(HOSTILE_DEPTH), objects(HOSTILE_DEPTH), arrays(5_000), objects(5_000)].map((body) => route(body));
  await neighbourServed();
  for (const res of await Promise.all(attacks)) {
    assertTooDeep(res);
    assert.equal(res.runId, null, 'a refused body starts no run');
  }
  await neighbourServed();
  assert.equal(await runCount(), before, 'no run was recorded for a refused body');
  // The plugin was never called: its first call is this one.
  const ok = await route('{"a":[1]}');
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.body, { calls: 1, depth: 2, type: 'object' });
});

test(`the bound is ${MAX_JSON_DEPTH} levels: that deep reaches the plugin, one more is refused; brackets in strings do not count`, async () => {
  const at = await route(arrays(MAX_JSON_DEPTH));
  assert.equal(at.status, 200, at.text);
  assert.equal(at.body.depth, MAX_JSON_DEPTH);
  const atObjects = await route(objects(MAX_JSON_DEPTH));
  assert.equal(atObjects.status, 200, atObjects.text);
  assert.equal(atObjects.body.depth, MAX_JSON_DEPTH);

  const over = await route(arrays(MAX_JSON_DEPTH + 1));
  assertTooDeep(over);
  assert.match(over.body.error.message, new RegExp(`at byte ${MAX_JSON_DEPTH}\\)`));
  assertTooDeep(await route(`{"x":${objects(MAX_JSON_DEPTH)}}`));

  // Brackets inside strings, escaped quotes and backslashes included, are text, not nesting.
  const text = JSON.stringify({ s: '['.repeat(2_000), q: `\\"${'{'.repeat(2_000)}`, b: '\\', after: [[1]] });
  const inStrings = await route(text);
  assert.equal(inStrings.status, 200, inStrings.text);
  assert.equal(inStrings.body.depth, 3);
  // Malformed JSON keeps its own message.
  const malformed = await route(']]]' + arrays(MAX_JSON_DEPTH + 10));
  assert.equal(malformed.status, 400, malformed.text);
  assert.equal(malformed.body.error.code, 'INVALID_JSON');
  assert.match(malformed.body.error.message, /^the body is not valid JSON: /);
  await neighbourServed();
});

test('the admin API refuses a deep body with 400 INVALID_JSON: nothing stored, nothing run', async () => {
  const auth = { authorization: `Bearer ${h.operatorToken}` };
  const created = await post('/api/v1/workspaces', `{"id":"deep","name":"deep","extra":${objects(HOSTILE_DEPTH)}}`, auth);
  assertTooDeep(created);
  assert.equal((await h.api('GET', '/api/v1/workspaces/deep')).status, 404, 'the workspace was not created');

  const before = await runCount();
  const eventPath = `/api/v1/workspaces/attacker/installations/${deepId}/events/onScheduledEvent`;
  const attacks = [arrays(HOSTILE_DEPTH), objects(HOSTILE_DEPTH)].map((deep) => post(eventPath, `{"data":{"x":${deep}}}`, auth));
  await neighbourServed();
  for (const res of await Promise.all(attacks)) assertTooDeep(res);
  assert.equal(await runCount(), before, 'no event run was recorded for a refused body');

  // A body within the bound still runs the handler.
  const fine = await h.api('POST', eventPath, { data: { x: JSON.parse(objects(10)) } });
  assert.equal(fine.status, 200, JSON.stringify(fine.body));
  assert.equal(fine.body.run.status, 'succeeded', JSON.stringify(fine.body.run));
  assert.equal(await runCount(), before + 1);
  await neighbourServed();
});
