// Freshworks' `$db` as plugin code uses it: set/get/delete, update with set, increment,
// append and remove, `setIf: 'not_exist'` and `'exist'`, rejections as plain `{status,
// message}` objects (404 missing, 400 bad key or oversized value), state kept per
// installation (the same plugin in two workspaces does not share it: tenant isolation),
// values surviving a host restart on the same data directory, and 20 concurrent increments
// losing none.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureFiles } from './fixtures/files.ts';

interface Outcome { ok: boolean; value?: any; error?: any; plainObject?: boolean; keys?: string[]; isError?: boolean }
type Step = { op: 'set'; key: unknown; value?: unknown; options?: unknown } | { op: 'get'; key: unknown } | { op: 'delete'; key: unknown }
  | { op: 'update'; key: unknown; action: string; attributes: unknown };

let h: TestHost;

async function setUpPlugin(host: TestHost, name: string, workspaces: string[]): Promise<void> {
  const published = await host.publish(fixtureFiles('kv', {
    'plugin.json': {
      name, version: '1.0.0', namespace: 'kv',
      services: [{ route: 'db', main: 'plugin.js' }, { route: 'incr', main: 'plugin.js' }],
      limits: { timeoutMs: 5000 },
    },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  for (const ws of workspaces) {
    assert.equal((await host.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    const installed = await host.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin: name });
    assert.equal(installed.status, 201, JSON.stringify(installed.body));
  }
}

async function db(ws: string, ops: Step[], host: TestHost = h): Promise<Outcome[]> {
  const res = await fetch(`${host.url}/workspaces/${ws}/kv/db`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const results = JSON.parse(text) as Outcome[];
  assert.equal(results.length, ops.length);
  return results;
}

function assertRejected(outcome: Outcome | undefined, status: number, message?: RegExp): void {
  assert.ok(outcome);
  assert.equal(outcome.ok, false, `resolved with ${JSON.stringify(outcome.value)}`);
  assert.equal(outcome.plainObject, true, 'the rejection is a plain object');
  assert.equal(outcome.isError, false, 'the rejection is not an Error');
  assert.deepEqual(outcome.keys, ['message', 'status'], 'the rejection has exactly status and message');
  assert.equal(outcome.error.status, status, JSON.stringify(outcome.error));
  assert.equal(typeof outcome.error.message, 'string');
  assert.ok(outcome.error.message.length > 0);
  if (message) assert.match(outcome.error.message, message);
}

before(async () => {
  h = await startHost();
  await setUpPlugin(h, 'kv-probe', ['kv-a', 'kv-b']);
});
after(async () => {
  await h?.close();
});

test('set, get, delete, and a get after delete rejecting 404', async () => {
  const user = { name: 'ada', visits: 1, tags: ['a'], address: { city: 'London', zip: 'N1' } };
  const r = await db('kv-a', [
    { op: 'set', key: 'user:1', value: user },
    { op: 'get', key: 'user:1' },
    { op: 'set', key: 'greeting', value: 'plain string' },
    { op: 'get', key: 'greeting' },
    { op: 'set', key: 'user:1', value: { name: 'replaced' } },
    { op: 'get', key: 'user:1' },
    { op: 'delete', key: 'user:1' },
    { op: 'get', key: 'user:1' },
    { op: 'delete', key: 'user:1' },
  ]);
  assert.deepEqual(r[0], { ok: true, value: { Created: true } });
  assert.deepEqual(r[1], { ok: true, value: user });
  assert.deepEqual(r[2], { ok: true, value: { Created: true } });
  assert.deepEqual(r[3], { ok: true, value: 'plain string' });
  assert.deepEqual(r[4], { ok: true, value: { Created: true } });
  assert.deepEqual(r[5], { ok: true, value: { name: 'replaced' } });
  assert.deepEqual(r[6], { ok: true, value: { Deleted: true } });
  assertRejected(r[7], 404);
  assertRejected(r[8], 404);
});

test('a missing key rejects with exactly {status: 404, message}', async () => {
  const [missing] = await db('kv-a', [{ op: 'get', key: 'never-set' }]);
  assertRejected(missing, 404);
  assert.deepEqual(Object.keys(missing!.error).sort(), ['message', 'status']);
});

test('update: set (dotted paths), increment, append and remove; a missing key is made, except by remove', async () => {
  const r = await db('kv-a', [
    { op: 'set', key: 'profile', value: { name: 'ada', visits: 1, tags: ['a'], address: { city: 'London', zip: 'N1' } } },
    { op: 'update', key: 'profile', action: 'set', attributes: { name: 'grace', 'address.city': 'Paris', 'prefs.theme': 'dark' } },
    { op: 'get', key: 'profile' },
    { op: 'update', key: 'profile', action: 'increment', attributes: { visits: 2, 'stats.logins': 5 } },
    { op: 'get', key: 'profile' },
    { op: 'update', key: 'profile', action: 'append', attributes: { tags: ['b', 'c'], log: 'first' } },
    { op: 'get', key: 'profile' },
    { op: 'update', key: 'profile', action: 'remove', attributes: ['address.zip', 'prefs'] },
    { op: 'get', key: 'profile' },
    { op: 'update', key: 'nothing-here', action: 'remove', attributes: ['a'] },
    { op: 'update', key: 'profile', action: 'multiply', attributes: { visits: 2 } },
    { op: 'update', key: 'profile', action: 'increment', attributes: { name: 1 } },
    { op: 'get', key: 'profile' },
    // A missing key is made by append (Freshworks' own SMI sample saves an agent's first bookmark so).
    { op: 'update', key: 'bookmarks', action: 'append', attributes: { saved: [{ id: 1 }] } },
    { op: 'update', key: 'bookmarks', action: 'append', attributes: { saved: [{ id: 2 }] } },
    { op: 'get', key: 'bookmarks' },
    { op: 'get', key: 'nothing-here' },
  ]);
  assert.deepEqual(r[0], { ok: true, value: { Created: true } });
  assert.deepEqual(r[1], { ok: true, value: { Updated: true } });
  assert.deepEqual(r[2]!.value, { name: 'grace', visits: 1, tags: ['a'], address: { city: 'Paris', zip: 'N1' }, prefs: { theme: 'dark' } });
  assert.deepEqual(r[3], { ok: true, value: { Updated: true } });
  assert.deepEqual(r[4]!.value, {
    name: 'grace', visits: 3, tags: ['a'], address: { city: 'Paris', zip: 'N1' }, prefs: { theme: 'dark' }, stats: { logins: 5 },
  });
  assert.deepEqual(r[5], { ok: true, value: { Updated: true } });
  assert.deepEqual(r[6]!.value.tags, ['a', 'b', 'c']);
  assert.deepEqual(r[6]!.value.log, ['first']);
  assert.deepEqual(r[7], { ok: true, value: { Updated: true } });
  assert.deepEqual(r[8]!.value, { name: 'grace', visits: 3, tags: ['a', 'b', 'c'], address: { city: 'Paris' }, stats: { logins: 5 }, log: ['first'] });
  assertRejected(r[9], 404);
  assertRejected(r[10], 400);
  assertRejected(r[11], 400);
  assert.deepEqual(r[12]!.value, r[8]!.value, 'failed updates change nothing');
  assert.deepEqual([r[13], r[14]], [{ ok: true, value: { Updated: true } }, { ok: true, value: { Updated: true } }]);
  assert.deepEqual(r[15]!.value, { saved: [{ id: 1 }, { id: 2 }] });
  assertRejected(r[16], 404);
});

test('setIf: not_exist creates only a new key, exist replaces only an existing one', async () => {
  const r = await db('kv-a', [
    { op: 'set', key: 'once', value: { v: 1 }, options: { setIf: 'not_exist' } },
    { op: 'set', key: 'once', value: { v: 2 }, options: { setIf: 'not_exist' } },
    { op: 'get', key: 'once' },
    { op: 'set', key: 'once', value: { v: 3 }, options: { setIf: 'exist' } },
    { op: 'get', key: 'once' },
    { op: 'set', key: 'absent', value: { v: 4 }, options: { setIf: 'exist' } },
    { op: 'get', key: 'absent' },
  ]);
  assert.deepEqual(r[0], { ok: true, value: { Created: true } });
  assertRejected(r[1], 409);
  assert.deepEqual(r[2], { ok: true, value: { v: 1 } });
  assert.deepEqual(r[3], { ok: true, value: { Created: true } });
  assert.deepEqual(r[4], { ok: true, value: { v: 3 } });
  assertRejected(r[5], 404);
  assertRejected(r[6], 404);
});

test('a bad key or an oversized value rejects with 400 and stores nothing', async () => {
  const r = await db('kv-a', [
    { op: 'set', key: '', value: { a: 1 } },
    { op: 'set', key: 'k'.repeat(61), value: { a: 1 } },
    { op: 'set', key: 42, value: { a: 1 } },
    { op: 'get', key: '' },
    { op: 'delete', key: 'k'.repeat(61) },
    { op: 'set', key: 'k'.repeat(60), value: { fits: true } },
    { op: 'get', key: 'k'.repeat(60) },
    // Key and value together over Freshworks' 40 KB entry limit, by a few bytes.
    { op: 'set', key: 'big', value: { blob: 'x'.repeat(40 * 1024 - 10) } },
    { op: 'get', key: 'big' },
    { op: 'set', key: 'no-value' },
  ]);
  for (const i of [0, 1, 2, 3, 4]) assertRejected(r[i], 400, /key/);
  assert.deepEqual(r[5], { ok: true, value: { Created: true } }, 'a 60-character key is fine (Freshworks\' limit)');
  assert.deepEqual(r[6], { ok: true, value: { fits: true } });
  assertRejected(r[7], 400, /limit/);
  assertRejected(r[8], 404);
  assertRejected(r[9], 400);
});

test('each installation has its own store: the same plugin in two workspaces shares nothing', async () => {
  const a = await db('kv-a', [{ op: 'set', key: 'tenant', value: { owner: 'kv-a' } }, { op: 'set', key: 'only-in-a', value: 1 }]);
  assert.deepEqual(a.map((o) => o.ok), [true, true]);
  const b = await db('kv-b', [
    { op: 'get', key: 'tenant' },
    { op: 'get', key: 'only-in-a' },
    { op: 'set', key: 'tenant', value: { owner: 'kv-b' } },
    { op: 'delete', key: 'only-in-a' },
    { op: 'update', key: 'tenant', action: 'set', attributes: { touched: true } },
  ]);
  assertRejected(b[0], 404);
  assertRejected(b[1], 404);
  assert.deepEqual(b[2], { ok: true, value: { Created: true } });
  assertRejected(b[3], 404);
  assert.deepEqual(b[4], { ok: true, value: { Updated: true } });
  const aNow = await db('kv-a', [{ op: 'get', key: 'tenant' }, { op: 'get', key: 'only-in-a' }]);
  assert.deepEqual(aNow, [{ ok: true, value: { owner: 'kv-a' } }, { ok: true, value: 1 }]);
  const bNow = await db('kv-b', [{ op: 'get', key: 'tenant' }]);
  assert.deepEqual(bNow, [{ ok: true, value: { owner: 'kv-b', touched: true } }]);
});

test('20 concurrent increments lose no update', async () => {
  assert.deepEqual(await db('kv-a', [{ op: 'set', key: 'counter', value: { count: 0 } }]), [{ ok: true, value: { Created: true } }]);
  const answers = await Promise.all(Array.from({ length: 20 }, async () => {
    const res = await fetch(`${h.url}/workspaces/kv-a/kv/incr`, { method: 'POST' });
    return { status: res.status, body: await res.text() };
  }));
  for (const a of answers) {
    assert.equal(a.status, 200, a.body);
    assert.deepEqual(JSON.parse(a.body), { Updated: true });
  }
  assert.deepEqual(await db('kv-a', [{ op: 'get', key: 'counter' }]), [{ ok: true, value: { count: 20 } }]);
  // The other workspace's counter was never touched.
  assertRejected((await db('kv-b', [{ op: 'get', key: 'counter' }]))[0], 404);
});

test('values survive a host restart on the same data directory', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-kv-restart-'));
  try {
    const first = await startHost({ dataDir });
    try {
      await setUpPlugin(first, 'kv-probe-restart', ['kv-restart']);
      const r = await db('kv-restart', [
        { op: 'set', key: 'durable', value: { saved: 'before restart', n: [1, 2, 3] } },
        { op: 'set', key: 'counter', value: { count: 1 } },
        { op: 'update', key: 'counter', action: 'increment', attributes: { count: 41 } },
      ], first);
      assert.deepEqual(r.map((o) => o.ok), [true, true, true]);
    } finally {
      await first.close();
    }
    const second = await startHost({ dataDir });
    try {
      const r = await db('kv-restart', [{ op: 'get', key: 'durable' }, { op: 'get', key: 'counter' }], second);
      assert.deepEqual(r, [{ ok: true, value: { saved: 'before restart', n: [1, 2, 3] } }, { ok: true, value: { count: 42 } }]);
    } finally {
      await second.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('set with {ttl} (seconds): gone once the time passes, on the host clock; it can be set again, and usage stays exact', async () => {
  const clock = createVirtualClock(Date.parse('2026-06-01T00:00:00Z'));
  const timed = await startHost({ clock });
  try {
    await setUpPlugin(timed, 'kv-ttl', ['kv-ttl']);
    const r = await db('kv-ttl', [
      { op: 'set', key: 'session', value: { user: 7 }, options: { ttl: 60 } },
      { op: 'set', key: 'forever', value: { v: 1 } },
      { op: 'get', key: 'session' },
      { op: 'set', key: 'bad', value: { v: 1 }, options: { ttl: 0 } },
      { op: 'set', key: 'bad', value: { v: 1 }, options: { ttl: 1.5 } },
    ], timed);
    assert.deepEqual(r.slice(0, 3).map((o) => o.value), [{ Created: true }, { Created: true }, { user: 7 }]);
    assertRejected(r[3], 400, /ttl/);
    assertRejected(r[4], 400, /ttl/);
    await clock.advance(59_000);
    assert.deepEqual((await db('kv-ttl', [{ op: 'get', key: 'session' }], timed))[0]!.value, { user: 7 });
    await clock.advance(1_000);
    const later = await db('kv-ttl', [
      { op: 'get', key: 'session' },
      { op: 'delete', key: 'session' },
      { op: 'get', key: 'forever' },
      { op: 'set', key: 'session', value: { user: 8 }, options: { setIf: 'not_exist' } },
      { op: 'get', key: 'session' },
    ], timed);
    assertRejected(later[0], 404);
    assertRejected(later[1], 404);
    assert.deepEqual(later.slice(2).map((o) => o.value), [{ v: 1 }, { Created: true }, { user: 8 }]);
    // Set without ttl, the new entry lives on.
    await clock.advance(3_600_000);
    assert.deepEqual((await db('kv-ttl', [{ op: 'get', key: 'session' }], timed))[0]!.value, { user: 8 });
    const inst = (await timed.api('GET', '/api/v1/workspaces/kv-ttl/installations')).body.data[0].id;
    assert.equal((await timed.host.store.kv.usage(inst)).kvKeys, 2);
  } finally {
    await timed.close();
  }
});
