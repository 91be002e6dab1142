// What plugin code finds on the global object: console.log/info/warn/error/debug captured in
// the run's log with their levels (objects JSON-rendered, the log capped in size), timers
// (setTimeout with arguments and in order, clearTimeout, setInterval/clearInterval),
// atob/btoa and TextEncoder/TextDecoder round-tripping UTF-8, and nothing of Node or the host
// glue: no process, Buffer or global require, no SharedArrayBuffer, Atomics or WebAssembly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureFiles } from './fixtures/files.ts';

const MAX_LOG_BYTES = 4096;
let h: TestHost;

before(async () => {
  h = await startHost({ sandbox: { maxLogBytes: MAX_LOG_BYTES } });
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'glob', name: 'Globals' })).status, 201);
  const routes = ['logs', 'flood', 'huge', 'timers', 'text', 'globals'];
  const published = await h.publish(fixtureFiles('globals', {
    'plugin.json': {
      name: 'globals-probe', version: '1.0.0', namespace: 'glob',
      services: routes.map((route) => ({ route, main: 'plugin.js' })),
      limits: { timeoutMs: 3000 },
    },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces/glob/installations', { plugin: 'globals-probe' })).status, 201);
});
after(async () => {
  await h?.close();
});

async function call(route: string, query = ''): Promise<{ body: any; runId: string }> {
  const res = await fetch(`${h.url}/workspaces/glob/glob/${route}${query}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const runId = res.headers.get('x-plughost-run');
  assert.ok(runId, 'the response names its run in x-plughost-run');
  return { body: JSON.parse(text), runId };
}

async function runLog(runId: string): Promise<string> {
  const run = await h.api('GET', `/api/v1/workspaces/glob/runs/${runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.id, runId);
  assert.equal(typeof run.body.log, 'string');
  return run.body.log;
}

/** Log entries as [level, text]; an entry's continuation lines (a stack) stay in its text. */
function entries(log: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of log.split('\n')) {
    const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(\w+)\] (.*)$/.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
    else if (out.length > 0) out.at(-1)![1] += '\n' + line;
    else out.push(['', line]);
  }
  return out;
}

test('console output lands in the run log with its level, objects as JSON', async () => {
  const { body, runId } = await call('logs');
  assert.equal(body, 'logged');
  const logged = entries(await runLog(runId));
  const [errorLevel, errorText] = logged[8] ?? [];
  assert.deepEqual(logged.slice(0, 8), [
    ['log', 'plain text 42 true'],
    ['info', 'info line'],
    ['warn', 'warn line'],
    ['error', 'error line'],
    ['debug', 'debug line'],
    ['log', '{"a":1,"nested":{"b":[1,2],"s":"x"}}'],
    ['log', 'mixed {"k":"v"} [1,"two"] null undefined'],
    ['log', '[Function named]'],
  ]);
  assert.equal(errorLevel, 'error');
  assert.match(errorText!, /^RangeError: boom\n\s+at /, 'an Error is logged with its stack');
  assert.deepEqual(logged[9], ['log', '[object Object]'], 'an object JSON cannot render still logs');
  assert.equal(logged.length, 10);
});

test('the run log is capped: lines past the limit are dropped with a marker', async () => {
  const { body, runId } = await call('flood', '?lines=200');
  assert.equal(body, 'flooded');
  const log = await runLog(runId);
  const lines = log.split('\n');
  assert.ok(Buffer.byteLength(log) <= MAX_LOG_BYTES + lines.at(-1)!.length + 1, `the log is ${Buffer.byteLength(log)} bytes`);
  assert.ok(lines.length > 10, 'lines up to the limit are kept');
  const kept = entries(lines.slice(0, -1).join('\n'));
  kept.forEach(([level, text], i) => {
    assert.equal(level, 'log');
    assert.equal(text, `line ${i} ${'x'.repeat(100)}`, 'kept lines are whole and in order');
  });
  // The marker counts every line that did not make it, whether the host or the guest dropped it.
  let droppedBytes = 0;
  for (let i = kept.length; i < 200; i++) droppedBytes += `line ${i} ${'x'.repeat(100)}`.length;
  assert.equal(lines.at(-1), `[log truncated at ${MAX_LOG_BYTES} bytes: ${200 - kept.length} lines (${droppedBytes} bytes of text) dropped]`);

  const huge = await call('huge');
  assert.equal(huge.body, 'huge');
  const hugeLog = await runLog(huge.runId);
  assert.ok(Buffer.byteLength(hugeLog) <= MAX_LOG_BYTES + 64, `one huge line makes a ${Buffer.byteLength(hugeLog)}-byte log`);
  assert.match(hugeLog, /\[log truncated at 4096 bytes: 1 line \(4096 bytes of text\) dropped\]$/);
});

test('setTimeout (with arguments, in order), clearTimeout, setInterval and clearInterval work', async () => {
  const { body } = await call('timers');
  assert.deepEqual(body, { order: ['early', 'middle', 'late pq'], cancelledFired: false, ticks: 3, ticksAtClear: 3, idType: 'number' });
});

test('atob, btoa, TextEncoder and TextDecoder round-trip UTF-8', async () => {
  const { body } = await call('text');
  const sample = 'héllo wörld € 😀 中文 \u0000 end';
  const utf8 = Buffer.from(sample, 'utf8');
  assert.equal(body.encoderEncoding, 'utf-8');
  assert.equal(body.decoderEncoding, 'utf-8');
  assert.deepEqual(body.bytes, [...utf8]);
  assert.equal(body.isUint8Array, true);
  assert.equal(body.back, sample);
  assert.equal(body.fromBuffer, sample);
  assert.equal(body.fromSubarray, '€');
  assert.equal(body.utf8Base64, utf8.toString('base64'));
  assert.equal(body.utf8ViaBase64, sample);
  assert.equal(body.btoaHello, Buffer.from('hello, world').toString('base64'));
  assert.deepEqual(body.btoaShort, ['', 'YQ==', 'YWI=', 'YWJj']);
  assert.equal(body.atobHello, 'hello, world');
  assert.deepEqual(body.atobShort, ['a', 'ab', 'abc']);
  assert.equal(body.latin1RoundTrip, true);
  assert.notEqual(body.btoaWide, 'no error', 'btoa refuses characters outside Latin-1');
});

test('no process, Buffer or global require; no SharedArrayBuffer, Atomics or WebAssembly; no bootstrap globals', async () => {
  const { body } = await call('globals');
  assert.deepEqual(body, {
    process: 'undefined',
    Buffer: 'undefined',
    require: 'undefined',
    requireOwn: false,
    module: 'undefined',
    exports: 'undefined',
    SharedArrayBuffer: 'undefined',
    WebAssembly: 'undefined',
    Atomics: 'undefined',
    bootstrap: [],
    provided: ['console', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'atob', 'btoa', 'TextEncoder', 'TextDecoder', 'fetch']
      .map((n) => `${n}:${n === 'console' ? 'object' : 'function'}`),
    localRequire: 'function',
  });
});
