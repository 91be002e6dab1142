// Log and message floods: a `console.log` loop in two installations at once is stopped in
// each plugin's own isolate once its run's log is full, so the host neither parses nor keeps
// it; the run's log ends with how many lines (and bytes) were dropped. A run that sends the
// host more than `limits.guestMessages` operations gets PLUGIN_LIMIT "guestMessages" for the
// rest. Meanwhile a neighbour in another workspace is served promptly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

const MESSAGES = 300;
const LOG_BYTES = 8192;
const LINES = 200_000;
let h: TestHost;

const FLOOD = `
exports.run = async function (e) {
  var what = e.request.query.what;
  if (what === 'log') {
    for (var i = 0; i < ${LINES}; i++) console.log('line ' + i + ' ' + 'x'.repeat(40));
    e.response.json({ logged: ${LINES} });
    return;
  }
  // Awaited one at a time: never more than one pending, so only the message budget can stop it.
  var ok = 0, codes = {};
  for (var j = 0; j < ${MESSAGES * 2}; j++) {
    try { await $db.get('missing-' + j); ok++; }
    catch (err) { var c = err.code ? err.code + '/' + err.limit : 'status ' + err.status; codes[c] = (codes[c] || 0) + 1; }
  }
  e.response.json({ ok: ok, codes: codes });
};
`;

before(async () => {
  h = await startHost({ limits: { guestMessages: MESSAGES }, sandbox: { maxLogBytes: LOG_BYTES } });
  for (const [name, ns, main] of [['chatty', 'ch', FLOOD], ['neighbour', 'nb', 'exports.run = function (e) { e.response.json({ ok: true }); };\n']] as const) {
    const pub = await h.publish({ 'plugin.json': { name, version: '1.0.0', namespace: ns, services: [{ route: 'go', main: 'go.js', access: 'public' }], limits: { timeoutMs: 20_000 } }, 'go.js': main });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker-a', 'chatty'], ['attacker-b', 'chatty'], ['victim', 'neighbour']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  await h.close();
});

const neighbourPrompt = async () => {
  const t0 = performance.now();
  const res = await fetch(`${h.url}/workspaces/victim/nb/go`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  assert.ok(performance.now() - t0 < 1000, 'the neighbour answers within a second');
};

const runOf = async (ws: string, res: Response) => {
  const runId = res.headers.get('x-plughost-run')!;
  await h.host.runs.whenDone(runId);
  await h.host.recorder.flush();
  return (await h.api('GET', `/api/v1/workspaces/${ws}/runs/${runId}`)).body as { status: string; log: string };
};

test('a console.log flood in two installations: each log is cut at its limit and says how much was dropped', { timeout: 120_000 }, async () => {
  const floods = ['attacker-a', 'attacker-b'].map((ws) => fetch(`${h.url}/workspaces/${ws}/ch/go?what=log`).then((res) => ({ ws, res })));
  for (let i = 0; i < 3; i++) await neighbourPrompt();
  for (const { ws, res } of await Promise.all(floods)) {
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { logged: LINES });
    const run = await runOf(ws, res);
    assert.equal(run.status, 'succeeded');
    const lines = run.log.split('\n');
    assert.ok(Buffer.byteLength(run.log) <= LOG_BYTES + lines.at(-1)!.length + 1, `the log is ${Buffer.byteLength(run.log)} bytes`);
    const kept = lines.length - 1;
    const marker = /^\[log truncated at 8192 bytes: (\d+) lines \((\d+) bytes of text\) dropped\]$/.exec(lines.at(-1)!);
    assert.ok(marker, `the last line says what was dropped: ${lines.at(-1)}`);
    assert.equal(Number(marker[1]), LINES - kept, 'every line not kept is counted');
    let bytes = 0;
    for (let i = kept; i < LINES; i++) bytes += `line ${i} ${'x'.repeat(40)}`.length;
    assert.equal(Number(marker[2]), bytes);
    assert.match(lines[kept - 1]!, new RegExp(`\\[log\\] line ${kept - 1} x{40}$`), 'the kept lines are the first ones, whole');
  }
  await neighbourPrompt();
});

test('past limits.guestMessages, further operations of the run reject with PLUGIN_LIMIT guestMessages', { timeout: 60_000 }, async () => {
  const res = await fetch(`${h.url}/workspaces/attacker-a/ch/go?what=ops`);
  assert.equal(res.status, 200);
  const body = await res.json() as { ok: number; codes: Record<string, number> };
  // Freshworks' $db.get of a missing key rejects with status 404: those are the operations that ran.
  assert.equal(body.ok, 0);
  assert.deepEqual(body.codes, { 'status 404': MESSAGES, 'PLUGIN_LIMIT/guestMessages': MESSAGES });
  const run = await runOf('attacker-a', res);
  assert.match(run.log, new RegExp(`the run has sent ${MESSAGES} messages \\(limit guestMessages\\)`));
  await neighbourPrompt();
});
