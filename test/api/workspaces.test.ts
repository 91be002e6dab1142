// Workspaces over the admin API (SPEC section 7): creation with and without an id, body
// validation listing every bad field, duplicate ids, keyset pagination with limit and
// cursor, and lookups of workspaces that do not exist.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertError, detailsByPath, send } from './fixtures/api.ts';

let h: TestHost;

before(async () => {
  h = await startHost();
});
after(async () => {
  await h.close();
});

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

test('a workspace is created with a given id, and read back', async () => {
  const res = await h.api('POST', '/api/v1/workspaces', { id: 'Acme_HQ-1', name: 'Acme HQ', timezone: 'Europe/Rome' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.id, 'Acme_HQ-1');
  assert.equal(res.body.name, 'Acme HQ');
  assert.equal(res.body.timezone, 'Europe/Rome');
  assert.ok(!Number.isNaN(Date.parse(res.body.createdAt)), res.body.createdAt);
  assert.equal(res.headers.get('cache-control'), 'no-store');

  const one = await h.api('GET', '/api/v1/workspaces/Acme_HQ-1');
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, { id: 'Acme_HQ-1', name: 'Acme HQ', timezone: 'Europe/Rome', domain: null, region: null, config: {}, createdAt: res.body.createdAt });

  // The longest id allowed, and the timezone defaulting to UTC.
  const long = 'x'.repeat(64);
  const max = await h.api('POST', '/api/v1/workspaces', { id: long, name: 'Long' });
  assert.equal(max.status, 201, JSON.stringify(max.body));
  assert.equal(max.body.timezone, 'UTC');
  assert.equal((await h.api('GET', `/api/v1/workspaces/${long}`)).body.id, long);
});

test('without an id, the host generates one matching [A-Za-z0-9_-]{1,64}', async () => {
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const res = await h.api('POST', '/api/v1/workspaces', { name: `Generated ${i}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.id, ID_RE);
    assert.equal(res.body.timezone, 'UTC');
    ids.add(res.body.id);
    const back = await h.api('GET', `/api/v1/workspaces/${res.body.id}`);
    assert.equal(back.status, 200);
    assert.equal(back.body.name, `Generated ${i}`);
  }
  assert.equal(ids.size, 3, 'generated ids are distinct');
});

test('an invalid id, a missing name and a bad timezone are one 400 INVALID_BODY naming each field', async () => {
  const res = await h.api('POST', '/api/v1/workspaces', { id: 'has space!', timezone: 'Mars/Olympus_Mons' });
  assertError(res, 400, 'INVALID_BODY', { details: true });
  const details = detailsByPath(res.body);
  assert.deepEqual([...details.keys()].sort(), ['id', 'name', 'timezone']);
  assert.match(details.get('id')!, /letters, digits/);
  assert.match(details.get('timezone')!, /IANA/);

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ id: '', name: 'Empty id' }, 'id'],
    [{ id: 'x'.repeat(65), name: 'Too long' }, 'id'],
    [{ id: '../etc', name: 'Path' }, 'id'],
    [{ id: 'ünïcode', name: 'Unicode' }, 'id'],
    [{ id: 42, name: 'Number' }, 'id'],
    [{ id: 'ok-id' }, 'name'],
    [{ id: 'ok-id', name: '' }, 'name'],
    [{ id: 'ok-id', name: '   ' }, 'name'],
    [{ id: 'ok-id', name: 'x'.repeat(201) }, 'name'],
    [{ id: 'ok-id', name: 7 }, 'name'],
    [{ id: 'ok-id', name: 'Zone', timezone: 'Not/AZone' }, 'timezone'],
    [{ id: 'ok-id', name: 'Zone', timezone: '' }, 'timezone'],
    [{ id: 'ok-id', name: 'Zone', timezone: 3 }, 'timezone'],
  ];
  for (const [body, field] of bad) {
    const r = await h.api('POST', '/api/v1/workspaces', body);
    assertError(r, 400, 'INVALID_BODY', { details: true });
    assert.deepEqual([...detailsByPath(r.body).keys()], [field], `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
  }

  // Unknown fields are refused too, named in the message.
  const extra = await h.api('POST', '/api/v1/workspaces', { id: 'ok-id', name: 'Extra', colour: 'red' });
  assertError(extra, 400, 'INVALID_BODY', { details: true });
  assert.match(extra.body.error.message, /colour/);

  // A body that is not an object at all.
  assertError(await h.api('POST', '/api/v1/workspaces', '[1,2]'), 400, 'INVALID_BODY');
  assertError(await h.api('POST', '/api/v1/workspaces', '"name"'), 400, 'INVALID_BODY');
  assertError(await send(h, 'POST', '/api/v1/workspaces', { body: '{"name": "x",}', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');

  // None of the refused bodies made a workspace.
  assertError(await h.api('GET', '/api/v1/workspaces/ok-id'), 404, 'WORKSPACE_NOT_FOUND');
});

test('a duplicate id is 409 WORKSPACE_EXISTS and the original is kept', async () => {
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'dup', name: 'Original', timezone: 'Asia/Tokyo' })).status, 201);
  const again = await h.api('POST', '/api/v1/workspaces', { id: 'dup', name: 'Imposter' });
  assertError(again, 409, 'WORKSPACE_EXISTS', { details: false });
  assert.match(again.body.error.message, /dup/);
  const kept = await h.api('GET', '/api/v1/workspaces/dup');
  assert.equal(kept.body.name, 'Original');
  assert.equal(kept.body.timezone, 'Asia/Tokyo');
});

test('the list pages with limit and cursor: every workspace seen exactly once', async () => {
  for (let i = 1; i <= 5; i++) assert.equal((await h.api('POST', '/api/v1/workspaces', { id: `page-${i}`, name: `Page ${i}` })).status, 201);
  const everything = await h.api('GET', '/api/v1/workspaces?limit=200');
  assert.equal(everything.status, 200);
  assert.equal(everything.body.nextCursor, null);
  const allIds: string[] = everything.body.data.map((w: { id: string }) => w.id);
  for (let i = 1; i <= 5; i++) assert.ok(allIds.includes(`page-${i}`));

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
    const page = await h.api('GET', `/api/v1/workspaces${q}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.data.length >= 1 && page.body.data.length <= 2, JSON.stringify(page.body));
    for (const w of page.body.data) {
      assert.deepEqual(Object.keys(w).sort(), ['config', 'createdAt', 'domain', 'id', 'name', 'region', 'timezone']);
      seen.push(w.id);
    }
    cursor = page.body.nextCursor;
    if (cursor !== null) assert.equal(page.body.data.length, 2, 'only the last page may be short');
    pages++;
    assert.ok(pages <= allIds.length, 'paging must end');
  } while (cursor !== null);
  assert.deepEqual(seen, allIds, 'pages follow one order and together hold every workspace once');
  assert.equal(new Set(seen).size, seen.length);
  assert.equal(pages, Math.ceil(allIds.length / 2));

  // The default page holds them all here (fewer than the default limit).
  const plain = await h.api('GET', '/api/v1/workspaces');
  assert.deepEqual(plain.body.data.map((w: { id: string }) => w.id), allIds);
});

test('a bad limit or cursor is 400 INVALID_QUERY', async () => {
  for (const limit of ['0', '-1', '201', 'abc', '1.5', '1e9']) {
    const res = await h.api('GET', `/api/v1/workspaces?limit=${limit}`);
    assertError(res, 400, 'INVALID_QUERY', { details: false });
    assert.match(res.body.error.message, /limit/);
  }
  assertError(await h.api('GET', '/api/v1/workspaces?cursor=!!!'), 400, 'INVALID_QUERY');
  assertError(await h.api('GET', `/api/v1/workspaces?cursor=${Buffer.from('x'.repeat(300)).toString('base64url')}`), 400, 'INVALID_QUERY');
  // limit at its bounds is fine.
  assert.equal((await h.api('GET', '/api/v1/workspaces?limit=1')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces?limit=200')).status, 200);
});

test('an unknown workspace is 404 WORKSPACE_NOT_FOUND', async () => {
  const res = await h.api('GET', '/api/v1/workspaces/no-such-ws');
  assertError(res, 404, 'WORKSPACE_NOT_FOUND', { details: false });
  assert.match(res.body.error.message, /no-such-ws/);
  assertError(await h.api('GET', '/api/v1/workspaces/no-such-ws/installations'), 404, 'WORKSPACE_NOT_FOUND');
  assertError(await h.api('GET', '/api/v1/workspaces/no-such-ws/runs'), 404, 'WORKSPACE_NOT_FOUND');
  assertError(await h.api('GET', '/api/v1/workspaces/no-such-ws/forms'), 404, 'WORKSPACE_NOT_FOUND');
  assertError(await h.api('POST', '/api/v1/workspaces/no-such-ws/tokens'), 404, 'WORKSPACE_NOT_FOUND');
});
