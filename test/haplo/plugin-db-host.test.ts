// The host side of P.db takes nothing from the guest on trust: plugin code shares the glue's
// scope and can send any request it likes. Forged requests are checked again (fields that are
// only Object.prototype's, LIKE on a non-text field or from a wildcard), declarations are bounded
// across versions (at most 100 fields; no type change, not even between types stored alike;
// no field renamed by case only), an index dropped and declared again is fine on both stores,
// a row grown by several saves is still bounded by dbRowBytes, a select's answer by the result
// limit, and the host counts synchronous calls against guestMessages itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPluginDb, type DbRequest } from '../../runtime/haplo/plugin-db.ts';
import type { SandboxPlugin } from '../../runtime/sandbox/types.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

let h: TestHost;
let plugin: SandboxPlugin;
let db: ReturnType<typeof createPluginDb>;
const fields = { name: { type: 'text' }, n: { type: 'int', indexed: true } };
const call = (request: Partial<DbRequest>, f: unknown = fields) => db.handle(plugin, { t: 'db', table: 'items', fields: f, ...request } as DbRequest);
const code = (err: unknown) => (err as { code?: string }).code;

before(async () => {
  h = await startHost({ limits: { guestMessages: 30, dbRowBytes: 2000 }, sandbox: { maxResultBytes: 4000 } });
  await h.api('POST', '/api/v1/workspaces', { id: 'dbh', name: 'DB host' });
  const published = await h.publish({
    'plugin.json': { pluginName: 'example_probe', pluginVersion: 1, privilegesRequired: ['pDatabase'], load: ['js/probe.js'], respond: ['/do/example-probe'] },
    'js/probe.js': `
P.respond("GET", "/do/example-probe/flood", [], function(E) {
    var calls = 0, error = null;
    try { for (var i = 0; i < 100; i++) { O.serviceImplemented("example:nothing"); calls++; } } catch(e) { error = {code: e.code, limit: e.limit}; }
    E.response.kind = 'json';
    E.response.body = {calls: calls, error: error};
});`,
  });
  assert.equal(published.status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/dbh/installations', { plugin: 'example_probe' })).body;
  plugin = await h.host.installations.toSandboxPlugin((await h.host.store.installations.byId(inst.id))!);
  db = createPluginDb({ store: h.host.store, options: h.host.options, now: () => h.host.clock.now() });
});
after(async () => { await h.close(); });

test('forged queries are checked again: prototype names are no fields, LIKE needs a text field and no leading wildcard', async () => {
  await call({ op: 'insert', values: { name: 'alpha', n: 1 } });
  for (const where of [
    [{ field: 'constructor', op: '=', value: 1 }],
    [{ field: 'toString', op: '=', value: 'x' }],
    [{ field: 'n', op: 'LIKE', value: '1%' }],
    [{ field: 'id', op: 'LIKE', value: '1' }],
    [{ field: 'name', op: 'LIKE', value: '%pha' }],
  ]) {
    await assert.rejects(call({ op: 'select', query: { where, order: [] } }), (err) => code(err) === 'PLUGIN_DB_INVALID', JSON.stringify(where));
  }
  await assert.rejects(call({ op: 'insert', values: { constructor: 'x' } }), (err) => code(err) === 'PLUGIN_DB_INVALID');
  assert.equal((await call({ op: 'select', query: { where: [{ field: 'name', op: 'LIKE', value: 'al%' }], order: [] } }) as unknown[]).length, 1);
});

test('declarations are bounded across versions: 100 fields in all, no type change, no rename by case only, no id by another case', async () => {
  const wide = (from: number) => Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${from + i}`, { type: 'text', nullable: true }]));
  await call({ op: 'count', query: { where: [], order: [] } }, { ...fields, ...wide(0) });
  await assert.rejects(call({ op: 'count', query: { where: [], order: [] } }, { ...fields, ...wide(60) }), /would have 122 fields .* at most 100/);
  await assert.rejects(call({ op: 'count', query: {} }, { name: { type: 'json' }, n: { type: 'int' } }), /P\.db\.items\.name was declared text and is now json/);
  await assert.rejects(call({ op: 'count', query: {} }, { nAme: { type: 'text' }, n: { type: 'int', indexed: true } }), /differs from the field name declared before by case only/);
  await assert.rejects(call({ op: 'count', query: {} }, { ...fields, iD: { type: 'int' } }), /'iD' is not allowed as a field name/);
});

test('an index dropped by one version and declared again by the next is fine (both stores)', async () => {
  const plain = { name: { type: 'text' }, n: { type: 'int' } };
  assert.equal(await call({ op: 'count', query: {} }, plain), 1);
  assert.equal(await call({ op: 'count', query: {} }, fields), 1);
  assert.equal(await call({ op: 'count', query: {} }, { ...fields, name: { type: 'text', uniqueIndex: true } }), 1);
  assert.equal(await call({ op: 'count', query: {} }, { ...fields, name: { type: 'text', uniqueIndex: true } }), 1);
});

test('dbRowBytes bounds the row as saved, not each change; the result limit bounds a select', async () => {
  const id = await call({ op: 'insert', values: { name: 'x'.repeat(900), n: 2 } }) as number;
  await call({ op: 'update', rowId: id, values: { f0: 'y'.repeat(900) } }, { ...fields, f0: { type: 'text', nullable: true } });
  await assert.rejects(call({ op: 'update', rowId: id, values: { f1: 'z'.repeat(900) } }, { ...fields, f0: { type: 'text', nullable: true }, f1: { type: 'text', nullable: true } }),
    (err) => code(err) === 'PLUGIN_LIMIT' && /the row would be \d+ bytes, over the limit of 2000/.test((err as Error).message));
  for (let i = 0; i < 3; i++) await call({ op: 'insert', values: { name: `${i}${'w'.repeat(1500)}`, n: 3 } });
  await assert.rejects(call({ op: 'select', query: { where: [], order: [] } }), (err) => code(err) === 'PLUGIN_LIMIT' && /over 4000 bytes of JSON/.test((err as Error).message));
  assert.equal((await call({ op: 'select', query: { where: [{ field: 'n', op: '=', value: 1 }], order: [] } }) as unknown[]).length, 1);
});

test('the host counts synchronous calls against guestMessages itself (the glue does not count service lookups)', async () => {
  const token = (await h.api('POST', '/api/v1/workspaces/dbh/tokens', {})).body.token;
  const r = await fetch(`${h.url}/workspaces/dbh/do/example-probe/flood`, { headers: { authorization: `Bearer ${token}` } });
  const body = await r.json() as { calls: number; error: { code: string; limit: string } | null };
  assert.ok(body.calls <= 30, `stopped at the budget, after ${body.calls} calls`);
  assert.deepEqual(body.error, { code: 'PLUGIN_LIMIT', limit: 'guestMessages' });
});
