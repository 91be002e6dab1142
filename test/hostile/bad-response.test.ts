// Responses Node would refuse to send: a plugin route that sets a header whose name is not an
// HTTP token or whose value holds CR, LF, NUL or a character beyond U+00FF, or a status outside
// 200..599, fails its run with PLUGIN_ERROR naming the header or the status, and the client
// gets the host's PLUGIN_ERROR answer (500). Before, Node's setHeader threw in the HTTP layer
// and the client got 500 INTERNAL. Headers the host owns (framing, hop-by-hop, the run's id) are
// dropped, not failed. The installation serves its next call, and a neighbour installation in
// another workspace is served meanwhile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureSource, PROMPT_MS } from './harness.ts';

let h: TestHost;

before(async () => {
  h = await startHost();
  const plugins = [
    ['bad-response', 'br', fixtureSource('bad-response.js')],
    ['neighbour', 'nb', 'exports.run = function (e) { e.response.json({ ok: true }); };\n'],
  ] as const;
  for (const [name, ns, main] of plugins) {
    const pub = await h.publish({
      'plugin.json': { name, version: '1.0.0', namespace: ns, services: [{ route: 'go', main: 'go.js', access: 'public' }], limits: { timeoutMs: 5_000 } },
      'go.js': main,
    });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker', 'bad-response'], ['victim', 'neighbour']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  await h.close();
});

interface Spec { headers?: Record<string, unknown>; status?: unknown; redirect?: boolean }

const send = async (spec: Spec) => {
  const res = await fetch(`${h.url}/workspaces/attacker/br/go?${new URLSearchParams({ spec: JSON.stringify(spec) })}`);
  const text = await res.text();
  let body: any = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, text, body, headers: res.headers, runId: res.headers.get('x-plughost-run') };
};

const neighbourServed = async () => {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/victim/nb/go`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  const ms = performance.now() - started;
  assert.ok(ms < PROMPT_MS, `the neighbour took ${Math.round(ms)} ms (at most ${PROMPT_MS})`);
};

/** The client got the host's PLUGIN_ERROR answer, and the run failed with a message matching `message`. */
async function assertPluginError(spec: Spec, message: RegExp) {
  const [res] = await Promise.all([send(spec), neighbourServed()]);
  const what = JSON.stringify(spec);
  assert.equal(res.status, 500, `${what}: ${res.text}`);
  assert.equal(res.body?.error?.code, 'PLUGIN_ERROR', `${what}: ${res.text}`);
  assert.match(res.body.error.message, message, what);
  assert.ok(res.runId, 'the answer names its run');
  assert.ok(res.body.error.message.endsWith(`(run ${res.runId})`), res.body.error.message);
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${res.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'failed', what);
  assert.equal(run.body.error.code, 'PLUGIN_ERROR', what);
  assert.match(run.body.error.message, message, what);
  assert.equal(run.body.httpStatus, null, 'no response was sent');
  assert.match(run.body.log, /\[host\] PLUGIN_ERROR: /);
  // The isolate is not harmed: the same installation answers its next call.
  const next = await send({});
  assert.equal(next.status, 200, next.text);
  assert.equal(next.text, 'hello');
}

const badValue = (name: string, char: string) => new RegExp(`^the plugin set an invalid response header "${name}": its value holds ${char} at index \\d+; a header value may hold tab, printable ASCII and U\\+0080 to U\\+00FF only`);
const badName = (shown: string) => new RegExp(`^the plugin set an invalid response header ${shown.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}: a header name is a non-empty token`);

test('a header value with CR, LF, NUL, another control character or a character beyond U+00FF fails the run with PLUGIN_ERROR naming the header', async () => {
  // Header names reach the host lowercased, as the guest's response.set stores them.
  await assertPluginError({ headers: { 'X-A': 'a\r\nSet-Cookie: x' } }, badValue('x-a', 'U\\+000D'));
  await assertPluginError({ headers: { 'x-lf': 'a\nb' } }, badValue('x-lf', 'U\\+000A'));
  await assertPluginError({ headers: { 'x-nul': 'a\u0000b' } }, badValue('x-nul', 'U\\+0000'));
  await assertPluginError({ headers: { 'x-del': 'a\u007fb' } }, badValue('x-del', 'U\\+007F'));
  await assertPluginError({ headers: { 'x-euro': 'price: €5' } }, badValue('x-euro', 'U\\+20AC'));
  await assertPluginError({ headers: { 'x-emoji': '🙂' } }, badValue('x-emoji', 'U\\+1F642'));
  // A list value is one comma-separated header; each item is checked.
  await assertPluginError({ headers: { 'x-list': ['fine', 'a\r\nb'] } }, badValue('x-list', 'U\\+000D'));
  // The content type is checked too (it is the plugin's to set).
  await assertPluginError({ headers: { 'content-type': 'text/plain\r\nx-injected: 1' } }, badValue('content-type', 'U\\+000D'));
});

test('a header name that is not an HTTP token (CR/LF, space, empty, non-ASCII) fails the run with PLUGIN_ERROR naming it', async () => {
  await assertPluginError({ headers: { 'X-A\r\nSet-Cookie: x': 'v' } }, badName('"x-a\\r\\nset-cookie: x"'));
  await assertPluginError({ headers: { 'bad name': 'v' } }, badName('"bad name"'));
  await assertPluginError({ headers: { '': 'v' } }, badName('""'));
  await assertPluginError({ headers: { 'x-é': 'v' } }, badName('"x-é"'));
  await assertPluginError({ headers: { 'x:y': 'v' } }, badName('"x:y"'));
  // A long name is cut in the message.
  await assertPluginError({ headers: { [`${'n'.repeat(300)} `]: 'v' } }, badName(`"${'n'.repeat(100)}…"`));
});

test('a status outside 200..599 fails the run with PLUGIN_ERROR naming the status', async () => {
  // response.status refuses these itself (Zengine's contract: an integer 100..599); the plugin's throw fails the run.
  for (const status of [0, 1, 99, 1000, 'NaN', '200abc', 2.5, -200]) {
    await assertPluginError({ status }, new RegExp(`^RangeError: invalid status code: ${String(status).replace('.', '\\.')}\\b`));
  }
  await assertPluginError({ status: 1000, redirect: true }, /^RangeError: invalid status code: 1000\b/);
  // 1xx pass response.status but are interim answers, never a final one: the host refuses them.
  for (const status of [100, 101, 103, 199]) {
    await assertPluginError({ status }, new RegExp(`^the plugin set an invalid response status ${status}: a route answers with an integer status from 200 to 599`));
  }
});

test('well-formed responses pass; headers the host owns are dropped, not failed', async () => {
  const [res] = await Promise.all([send({
    status: 201,
    headers: {
      'x-tab': 'a\tb', 'x-latin1': 'café', 'x-list': ['a', 'b'], 'x-num': 5, "x-!#$%&'*+-.^_`|~": 'token chars',
      // Framing, hop-by-hop and host-owned headers: the host sets them from what it sends.
      'content-length': '3', 'transfer-encoding': 'chunked', connection: 'upgrade', 'keep-alive': 'timeout=999', upgrade: 'h2c',
      trailer: 'x-t', 'set-cookie': 'session=stolen', 'x-plughost-run': 'run_forged',
    },
  }), neighbourServed()]);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.text, 'hello');
  assert.equal(res.headers.get('x-tab'), 'a\tb');
  assert.equal(res.headers.get('x-latin1'), 'café');
  assert.equal(res.headers.get('x-list'), 'a, b');
  assert.equal(res.headers.get('x-num'), '5');
  assert.equal(res.headers.get("x-!#$%&'*+-.^_`|~"), 'token chars');
  assert.equal(res.headers.get('content-length'), '5', 'the length is the body\'s, not the plugin\'s');
  assert.equal(res.headers.get('transfer-encoding'), null);
  assert.equal(res.headers.get('upgrade'), null);
  assert.notEqual(res.headers.get('keep-alive'), 'timeout=999');
  assert.notEqual(res.headers.get('connection'), 'upgrade');
  assert.equal(res.headers.get('trailer'), null);
  assert.equal(res.headers.get('set-cookie'), null);
  assert.match(res.runId ?? '', /^run_/);
  assert.notEqual(res.runId, 'run_forged', 'the run id is the host\'s');
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${res.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'succeeded');
  assert.equal(run.body.httpStatus, 201);
  // No status set: 200.
  const plain = await send({});
  assert.equal(plain.status, 200);
});
