// Run history and workspace data over the admin API (SPEC section 7): runs newest first with
// the kind/status/installation filters and paging, one run with its log and error, bad
// filters, unknown runs; forms, folders and records (create, list, folder.id filter,
// limit/page), unknown forms and invalid record bodies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertError, createWorkspace, detailsByPath, installOk, publishOk } from './fixtures/api.ts';

let h: TestHost;
const ids: { alpha: string; beta: string } = { alpha: '', beta: '' };
/** Run ids in the order the calls were made. */
const runs: { alphaOk: string; alphaBoom: string; betaOk: string; alphaOk2: string } = { alphaOk: '', alphaBoom: '', betaOk: '', alphaOk2: '' };

function runner(name: string, namespace: string) {
  return {
    'plugin.json': {
      name, version: '1.0.0', namespace, limits: { timeoutMs: 2000 },
      services: [{ route: 'ok', main: 'ok.js' }, { route: 'boom', main: 'boom.js' }],
    },
    'ok.js': `exports.run = function (e) { console.log('hello from ${namespace} ' + e.request.query.n); e.response.status(201).json({ ok: true }); };\n`,
    'boom.js': `exports.run = function () { console.error('about to fail'); throw new Error('kaboom in ${namespace}'); };\n`,
  };
}

async function call(path: string, expected: number): Promise<string> {
  const res = await fetch(h.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await res.text();
  assert.equal(res.status, expected, path);
  const run = res.headers.get('x-plughost-run');
  assert.ok(run, `no x-plughost-run header on ${path}`);
  return run;
}

const idsOf = (body: any): string[] => body.data.map((r: { id: string }) => r.id);

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'r');
  await createWorkspace(h, 'other');
  await publishOk(h, runner('alpha', 'alpha'));
  await publishOk(h, runner('beta', 'beta'));
  ids.alpha = (await installOk(h, 'r', { plugin: 'alpha' })).id;
  ids.beta = (await installOk(h, 'r', { plugin: 'beta' })).id;
  await installOk(h, 'other', { plugin: 'alpha' });
  runs.alphaOk = await call('/workspaces/r/alpha/ok?n=1', 201);
  runs.alphaBoom = await call('/workspaces/r/alpha/boom', 500);
  runs.betaOk = await call('/workspaces/r/beta/ok?n=2', 201);
  runs.alphaOk2 = await call('/workspaces/r/alpha/ok?n=3', 201);
  await call('/workspaces/other/alpha/ok?n=4', 201);
});
after(async () => {
  await h.close();
});

test('runs are listed newest first, without their logs', async () => {
  const list = await h.api('GET', '/api/v1/workspaces/r/runs');
  assert.equal(list.status, 200);
  assert.deepEqual(idsOf(list.body), [runs.alphaOk2, runs.betaOk, runs.alphaBoom, runs.alphaOk]);
  assert.equal(list.body.nextCursor, null);
  const [newest] = list.body.data;
  assert.equal(newest.kind, 'route');
  assert.equal(newest.trigger, 'http');
  assert.equal(newest.status, 'succeeded');
  assert.equal(newest.httpStatus, 201);
  assert.equal(newest.installationId, ids.alpha);
  assert.equal(newest.workspaceId, 'r');
  assert.equal(newest.target, 'POST /workspaces/r/alpha/ok');
  assert.equal(typeof newest.durationMs, 'number');
  for (const run of list.body.data) assert.ok(!Object.hasOwn(run, 'log'), 'lists leave the log out');
});

test('filters: kind, status, installation, and together', async () => {
  const get = async (q: string) => {
    const res = await h.api('GET', `/api/v1/workspaces/r/runs?${q}`);
    assert.equal(res.status, 200, `${q}: ${JSON.stringify(res.body)}`);
    return idsOf(res.body);
  };
  assert.deepEqual(await get('kind=route'), [runs.alphaOk2, runs.betaOk, runs.alphaBoom, runs.alphaOk]);
  assert.deepEqual(await get('kind=webhook'), []);
  assert.deepEqual(await get('kind=event'), []);
  assert.deepEqual(await get('status=failed'), [runs.alphaBoom]);
  assert.deepEqual(await get('status=succeeded'), [runs.alphaOk2, runs.betaOk, runs.alphaOk]);
  assert.deepEqual(await get('status=timed-out'), []);
  assert.deepEqual(await get(`installation=${ids.beta}`), [runs.betaOk]);
  assert.deepEqual(await get(`installation=${ids.alpha}`), [runs.alphaOk2, runs.alphaBoom, runs.alphaOk]);
  assert.deepEqual(await get(`installation=${ids.alpha}&status=succeeded&kind=route`), [runs.alphaOk2, runs.alphaOk]);
  assert.deepEqual(await get('installation=inst_unknown'), []);
  assert.deepEqual(await get('schedule=sched_unknown'), []);
  // Empty values are no filter.
  assert.equal((await get('kind=&status=')).length, 4);
});

test('runs page with limit and cursor, newest first across pages', async () => {
  const first = await h.api('GET', '/api/v1/workspaces/r/runs?limit=3');
  assert.deepEqual(idsOf(first.body), [runs.alphaOk2, runs.betaOk, runs.alphaBoom]);
  assert.equal(typeof first.body.nextCursor, 'string');
  const second = await h.api('GET', `/api/v1/workspaces/r/runs?limit=3&cursor=${first.body.nextCursor}`);
  assert.deepEqual(idsOf(second.body), [runs.alphaOk]);
  assert.equal(second.body.nextCursor, null);
  const filtered = await h.api('GET', '/api/v1/workspaces/r/runs?limit=1&status=succeeded');
  assert.deepEqual(idsOf(filtered.body), [runs.alphaOk2]);
  const next = await h.api('GET', `/api/v1/workspaces/r/runs?limit=1&status=succeeded&cursor=${filtered.body.nextCursor}`);
  assert.deepEqual(idsOf(next.body), [runs.betaOk]);
});

test('one run comes with its log; a failed one with its error', async () => {
  const ok = await h.api('GET', `/api/v1/workspaces/r/runs/${runs.betaOk}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.id, runs.betaOk);
  assert.equal(ok.body.status, 'succeeded');
  assert.equal(ok.body.installationId, ids.beta);
  assert.equal(ok.body.httpStatus, 201);
  assert.equal(ok.body.error, null);
  assert.equal(typeof ok.body.log, 'string');
  assert.match(ok.body.log, /hello from beta 2/);

  const boom = await h.api('GET', `/api/v1/workspaces/r/runs/${runs.alphaBoom}`);
  assert.equal(boom.status, 200);
  assert.equal(boom.body.status, 'failed');
  assert.equal(boom.body.error.code, 'PLUGIN_ERROR');
  assert.match(boom.body.error.message, /kaboom in alpha/);
  assert.match(boom.body.log, /about to fail/);
});

test('bad filters are 400 INVALID_QUERY', async () => {
  for (const q of ['kind=nope', 'kind=ROUTE', 'status=done', 'status=ok', 'limit=0', 'limit=500', 'limit=x',
    `installation=${ids.alpha}&installation=${ids.beta}`, 'kind=route&kind=hook', `installation=${'x'.repeat(101)}`]) {
    const res = await h.api('GET', `/api/v1/workspaces/r/runs?${q}`);
    assertError(res, 400, 'INVALID_QUERY', { details: false });
  }
});

test('an unknown run, or a run of another workspace, is 404 RUN_NOT_FOUND', async () => {
  const res = await h.api('GET', '/api/v1/workspaces/r/runs/run_doesnotexist');
  assertError(res, 404, 'RUN_NOT_FOUND', { details: false });
  assert.match(res.body.error.message, /run_doesnotexist/);
  assertError(await h.api('GET', `/api/v1/workspaces/other/runs/${runs.alphaOk}`), 404, 'RUN_NOT_FOUND');
  assert.equal((await h.api('GET', '/api/v1/workspaces/other/runs')).body.data.length, 1);
  assertError(await h.api('GET', '/api/v1/workspaces/ghost/runs'), 404, 'WORKSPACE_NOT_FOUND');
});

test('forms, folders and records: create and list', async () => {
  const empty = await h.api('GET', '/api/v1/workspaces/r/forms');
  assert.equal(empty.status, 200);
  assert.equal(empty.body.totalCount, 0);
  assert.deepEqual(empty.body.data, []);

  const form = await h.api('POST', '/api/v1/workspaces/r/forms', { name: 'Tasks' });
  assert.equal(form.status, 201);
  assert.equal(form.body.status, 201);
  assert.equal(form.body.data.name, 'Tasks');
  assert.equal(typeof form.body.data.id, 'number');
  const formId = form.body.data.id;
  const second = await h.api('POST', '/api/v1/workspaces/r/forms', { name: 'Contacts' });
  const forms = await h.api('GET', '/api/v1/workspaces/r/forms');
  assert.equal(forms.body.totalCount, 2);
  assert.deepEqual(forms.body.data, [{ id: formId, name: 'Tasks' }, { id: second.body.data.id, name: 'Contacts' }]);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/r/forms/${formId}`)).body.data, { id: formId, name: 'Tasks' });

  const folder = await h.api('POST', `/api/v1/workspaces/r/forms/${formId}/folders`, { name: 'Done' });
  assert.equal(folder.status, 201);
  const done = folder.body.data.id;
  assert.ok(done > 0);
  const folders = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/folders`);
  assert.equal(folders.body.totalCount, 2);
  assert.deepEqual(folders.body.data.map((f: { id: number; name: string }) => [f.id, f.name]), [[0, 'Default'], [done, 'Done']]);

  const made: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const rec = await h.api('POST', `/api/v1/workspaces/r/forms/${formId}/records`, { name: `Task ${i}`, fields: { priority: i } });
    assert.equal(rec.status, 201, JSON.stringify(rec.body));
    assert.equal(rec.body.data.name, `Task ${i}`);
    assert.deepEqual(rec.body.data.folder, { id: 0 });
    assert.deepEqual(rec.body.data.form, { id: formId });
    assert.equal(rec.body.data.priority, i);
    made.push(rec.body.data.id);
  }
  const filed = await h.api('POST', `/api/v1/workspaces/r/forms/${formId}/records`, { name: 'Shipped', folder: { id: done } });
  assert.equal(filed.status, 201);
  assert.deepEqual(filed.body.data.folder, { id: done });

  const all = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records`);
  assert.equal(all.status, 200);
  assert.equal(all.body.totalCount, 6);
  assert.deepEqual(all.body.data.map((r: { id: number }) => r.id), [...made, filed.body.data.id]);

  const inDefault = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records?folder.id=0`);
  assert.equal(inDefault.body.totalCount, 5);
  assert.deepEqual(inDefault.body.data.map((r: { id: number }) => r.id), made);
  const inDone = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records?folder.id=${done}`);
  assert.equal(inDone.body.totalCount, 1);
  assert.deepEqual(inDone.body.data.map((r: { name: string }) => r.name), ['Shipped']);

  // limit and page: totalCount is the whole match, data one page of it.
  const page1 = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records?folder.id=0&limit=2`);
  assert.equal(page1.body.totalCount, 5);
  assert.deepEqual(page1.body.data.map((r: { id: number }) => r.id), made.slice(0, 2));
  const page3 = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records?folder.id=0&limit=2&page=3`);
  assert.deepEqual(page3.body.data.map((r: { id: number }) => r.id), made.slice(4));
  const beyond = await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records?limit=2&page=9`);
  assert.equal(beyond.status, 200);
  assert.deepEqual(beyond.body.data, []);
  assert.equal(beyond.body.totalCount, 6);

  // Another workspace sees none of it.
  assert.equal((await h.api('GET', '/api/v1/workspaces/other/forms')).body.totalCount, 0);
  assertError(await h.api('GET', `/api/v1/workspaces/other/forms/${formId}/records`), 404, 'RECORD_NOT_FOUND');
  assertError(await h.api('POST', `/api/v1/workspaces/other/forms/${formId}/records`, { name: 'Intruder' }), 404, 'RECORD_NOT_FOUND');
  assert.equal((await h.api('GET', `/api/v1/workspaces/r/forms/${formId}/records`)).body.totalCount, 6);
});

test('an unknown form is 404 RECORD_NOT_FOUND on every data path', async () => {
  for (const [method, path, body] of [
    ['GET', '/forms/999999'], ['GET', '/forms/999999/folders'], ['GET', '/forms/999999/records'],
    ['POST', '/forms/999999/folders', { name: 'x' }], ['POST', '/forms/999999/records', { name: 'x' }],
  ] as Array<[string, string, unknown?]>) {
    assertError(await h.api(method, `/api/v1/workspaces/r${path}`, body), 404, 'RECORD_NOT_FOUND', { details: false });
  }
  // A form id that is not a positive whole number is a malformed parameter.
  assertError(await h.api('GET', '/api/v1/workspaces/r/forms/abc/records'), 400, 'INVALID_QUERY');
  assertError(await h.api('GET', '/api/v1/workspaces/r/forms/0/records'), 400, 'INVALID_QUERY');
});

test('invalid record, folder and form bodies and bad record queries are refused; nothing is stored', async () => {
  const formId = (await h.api('GET', '/api/v1/workspaces/r/forms')).body.data[0].id;
  const records = `/api/v1/workspaces/r/forms/${formId}/records`;
  const before = (await h.api('GET', records)).body.totalCount;

  const cases: Array<[unknown, string[]]> = [
    [{}, ['name']],
    [{ name: '' }, ['name']],
    [{ name: 42 }, ['name']],
    [{ name: 'x', folder: { id: -1 } }, ['folder.id']],
    [{ name: 'x', folder: { id: 'zero' } }, ['folder.id']],
    [{ name: 'x', fields: 'not an object' }, ['fields']],
  ];
  for (const [body, paths] of cases) {
    const res = await h.api('POST', records, body);
    assertError(res, 400, 'INVALID_BODY', { details: true });
    assert.deepEqual([...detailsByPath(res.body).keys()], paths, JSON.stringify(res.body));
  }
  const unknownField = await h.api('POST', records, { name: 'x', colour: 'red' });
  assertError(unknownField, 400, 'INVALID_BODY', { details: true });
  const reserved = await h.api('POST', records, { name: 'x', fields: { id: 5, folder: 1 } });
  assertError(reserved, 400, 'INVALID_BODY');
  assert.match(reserved.body.error.message, /id, folder/);
  assertError(await h.api('POST', records, { name: 'x', folder: { id: 424242 } }), 404, 'RECORD_NOT_FOUND');
  assertError(await h.api('POST', records, '{"name": '), 400, 'INVALID_JSON');
  assertError(await h.api('POST', `/api/v1/workspaces/r/forms/${formId}/folders`, { title: 'x' }), 400, 'INVALID_BODY', { details: true });
  assertError(await h.api('POST', '/api/v1/workspaces/r/forms', {}), 400, 'INVALID_BODY', { details: true });

  for (const q of ['limit=0', 'limit=501', 'limit=two', 'page=0', 'page=1.5', 'folder.id=-1', 'folder.id=x']) {
    assertError(await h.api('GET', `${records}?${q}`), 400, 'INVALID_QUERY', { details: false });
  }
  assert.equal((await h.api('GET', records)).body.totalCount, before);
  assert.equal((await h.api('GET', '/api/v1/workspaces/r/forms')).body.totalCount, 2);
});
