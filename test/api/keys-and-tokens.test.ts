// Workspace tokens and Haplo poll keys over the admin API: listed (ids, queues and times, never
// a token, a key or a hash) and revoked (204, audited with its actor). A revoked token is
// refused at once; a revoked poll key no longer opens the poll API (a real fetch and mark). An
// unknown id, another workspace's id or the operator's token is 404 and changes nothing; a
// workspace token of another workspace is 403, no token 401. And API keys made by
// createApiKey, the one function behind the REST route and the admin UI's form.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiKey } from '../../runtime/haplo/api-keys.ts';
import { hashToken } from '../../runtime/secrets.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertError } from './fixtures/api.ts';

let h: TestHost;
const token: Record<string, { token: string; id: string }> = {};

const basic = (key: string) => `Basic ${Buffer.from(`haplo:${key}`).toString('base64')}`;
const poll = (ws: string, group: string, key: string, action: 'fetch' | 'mark' = 'fetch') =>
  fetch(`${h.url}/workspaces/${ws}/api/haplo-integration-messages/poll/${group}/${action}${action === 'mark' ? '?token=MQ==' : ''}`, { headers: { authorization: basic(key) } });
const audit = async (ws: string) => (await h.api('GET', `/api/v1/workspaces/${ws}/integration-messages/audit`)).body.data as Array<{ actor: string; action: string; detail: Record<string, unknown> }>;

before(async () => {
  h = await startHost();
  for (const ws of ['kt-a', 'kt-b']) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    const made = await h.api('POST', `/api/v1/workspaces/${ws}/tokens`);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    token[ws] = { token: made.body.token, id: made.body.id };
  }
});
after(async () => {
  await h.close();
});

test('a new workspace token comes with its id; the list names ids and times, never a token or its hash', async () => {
  const { token: secret, id } = token['kt-a']!;
  assert.equal((await h.host.store.tokens.findByHash(hashToken(secret)))!.id, id);
  const second = (await h.api('POST', '/api/v1/workspaces/kt-a/tokens')).body;
  for (const as of [h.operatorToken, secret]) {
    const res = await h.api('GET', '/api/v1/workspaces/kt-a/tokens', undefined, as);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.data.map((t: { id: string }) => t.id), [id, second.id], 'oldest first, only its own workspace\'s');
    assert.deepEqual(Object.keys(res.body.data[0]), ['id', 'createdAt']);
    assert.ok(!Number.isNaN(Date.parse(res.body.data[0].createdAt)));
    assert.equal(res.body.nextCursor, null);
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(secret) && !text.includes(second.token) && !text.includes(hashToken(secret)), 'never a token or a hash');
  }
  assertError(await h.api('GET', '/api/v1/workspaces/kt-b/tokens', undefined, secret), 403, 'FORBIDDEN');
  assertError(await h.api('GET', '/api/v1/workspaces/kt-a/tokens', undefined, null), 401, 'UNAUTHORIZED');
  assertError(await h.api('GET', '/api/v1/workspaces/nowhere/tokens'), 404, 'WORKSPACE_NOT_FOUND');
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/kt-a/tokens/${second.id}`)).status, 204);
});

test('a revoked workspace token is refused at once; the revoke is audited; unknown, foreign and operator ids are 404', async () => {
  const made = (await h.api('POST', '/api/v1/workspaces/kt-a/tokens')).body as { token: string; id: string };
  assert.equal((await h.api('GET', '/api/v1/workspaces/kt-a', undefined, made.token)).status, 200);

  const operatorId = (await h.host.auth.principalOf(h.operatorToken))!.tokenId;
  for (const id of ['tok_nothing', token['kt-b']!.id, operatorId]) {
    assertError(await h.api('DELETE', `/api/v1/workspaces/kt-a/tokens/${id}`), 404, 'TOKEN_NOT_FOUND');
  }
  assertError(await h.api('DELETE', `/api/v1/workspaces/kt-b/tokens/${token['kt-b']!.id}`, undefined, made.token), 403, 'FORBIDDEN');
  assertError(await h.api('DELETE', `/api/v1/workspaces/kt-a/tokens/${made.id}`, undefined, null), 401, 'UNAUTHORIZED');
  assert.equal((await h.api('GET', '/api/v1/workspaces/kt-b', undefined, token['kt-b']!.token)).status, 200, 'the other workspace\'s token still works');
  assert.equal((await h.api('GET', '/api/v1/workspaces')).status, 200, 'so does the operator\'s');

  // The workspace revokes one of its own tokens with another of its tokens.
  const res = await h.api('DELETE', `/api/v1/workspaces/kt-a/tokens/${made.id}`, undefined, token['kt-a']!.token);
  assert.equal(res.status, 204);
  assert.equal(res.body, undefined);
  assertError(await h.api('GET', '/api/v1/workspaces/kt-a', undefined, made.token), 401, 'UNAUTHORIZED');
  assert.ok(!(await h.api('GET', '/api/v1/workspaces/kt-a/tokens')).body.data.some((t: { id: string }) => t.id === made.id));
  assertError(await h.api('DELETE', `/api/v1/workspaces/kt-a/tokens/${made.id}`), 404, 'TOKEN_NOT_FOUND');
  const entry = (await audit('kt-a')).find((a) => a.action === 'revoke-token' && a.detail.id === made.id);
  assert.ok(entry, 'audited');
  assert.equal(entry.actor, `workspace:${token['kt-a']!.id}`);
  assert.ok(!JSON.stringify(await audit('kt-a')).includes(made.token), 'the audit log keeps no token');
});

test('poll keys are listed without the key; a revoked key no longer opens the poll API', async () => {
  const base = '/api/v1/workspaces/kt-a/integration-messages';
  const made = await h.api('POST', `${base}/student/keys`, undefined, token['kt-a']!.token);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.match(made.body.id, /^key_/);
  const other = (await h.api('POST', `${base}/grades/keys`)).body as { id: string; key: string };
  const foreign = (await h.api('POST', '/api/v1/workspaces/kt-b/integration-messages/student/keys')).body as { id: string; key: string };
  assert.equal((await h.api('POST', `${base}/student/messages`, { data: { n: 1 } })).status, 201);

  const list = await h.api('GET', `${base}/keys`, undefined, token['kt-a']!.token);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(list.body.data.map((k: { id: string; group: string }) => [k.id, k.group]), [[made.body.id, 'student'], [other.id, 'grades']]);
  assert.deepEqual(Object.keys(list.body.data[0]), ['id', 'group', 'createdAt']);
  assert.ok(!Number.isNaN(Date.parse(list.body.data[0].createdAt)));
  const text = JSON.stringify(list.body);
  assert.ok(!text.includes(made.body.key) && !text.includes(hashToken(made.body.key)), 'never a key or its hash');
  assertError(await h.api('GET', `${base}/keys`, undefined, token['kt-b']!.token), 403, 'FORBIDDEN');
  assertError(await h.api('GET', `${base}/keys`, undefined, null), 401, 'UNAUTHORIZED');
  assertError(await h.api('GET', '/api/v1/workspaces/nowhere/integration-messages/keys'), 404, 'WORKSPACE_NOT_FOUND');

  // Before the revoke the key fetches its queue's messages.
  const fetched = await poll('kt-a', 'student', made.body.key);
  assert.equal(fetched.status, 200);
  assert.equal(((await fetched.json()) as { messages: unknown[] }).messages.length, 1);

  // Unknown ids, and another workspace's key under this workspace's path: 404, nothing revoked.
  for (const id of ['key_nothing', foreign.id]) {
    const res = await h.api('DELETE', `${base}/keys/${id}`);
    assertError(res, 404, 'POLL_KEY_NOT_FOUND');
    assert.match(res.body.error.message, new RegExp(`workspace \`kt-a\` has no poll key \`${id}\``));
  }
  assertError(await h.api('DELETE', `/api/v1/workspaces/kt-b/integration-messages/keys/${foreign.id}`, undefined, token['kt-a']!.token), 403, 'FORBIDDEN');
  assert.equal((await poll('kt-b', 'student', foreign.key)).status, 200, 'the other workspace\'s key still works');

  const revoked = await h.api('DELETE', `${base}/keys/${made.body.id}`, undefined, token['kt-a']!.token);
  assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
  for (const action of ['fetch', 'mark'] as const) {
    const res = await poll('kt-a', 'student', made.body.key, action);
    assert.equal(res.status, 401, action);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="haplo-integration-messages"');
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  }
  assert.equal((await poll('kt-a', 'grades', other.key)).status, 200, 'the workspace\'s other key still works');
  assert.deepEqual((await h.api('GET', `${base}/keys`)).body.data.map((k: { id: string }) => k.id), [other.id]);
  assertError(await h.api('DELETE', `${base}/keys/${made.body.id}`), 404, 'POLL_KEY_NOT_FOUND');
  const entries = await audit('kt-a');
  const entry = entries.find((a) => a.action === 'revoke-poll-key');
  assert.deepEqual(entry?.detail, { group: 'student', id: made.body.id });
  assert.equal(entry?.actor, `workspace:${token['kt-a']!.id}`);
  assert.deepEqual(entries.find((a) => a.action === 'create-poll-key' && a.detail.group === 'student')?.detail, { group: 'student', id: made.body.id });
  assert.equal(entries.filter((a) => a.action === 'revoke-poll-key').length, 1, 'the refused revokes wrote nothing');
  assert.ok(!JSON.stringify(entries).includes(made.body.key), 'the audit log keeps no key');
});

test('store: poll keys of a workspace listed oldest first and deleted only in their own workspace', async () => {
  const { messages } = h.host.store;
  await messages.addKey('key_store_1', 'kt-b', 'q1', hashToken('one'), 1000);
  await messages.addKey('key_store_2', 'kt-b', 'q2', hashToken('two'), 2000);
  const ours = (await messages.keys('kt-b')).filter((k) => k.id.startsWith('key_store_'));
  assert.deepEqual(ours, [{ id: 'key_store_1', group: 'q1', createdAt: 1000 }, { id: 'key_store_2', group: 'q2', createdAt: 2000 }]);
  assert.equal(await messages.deleteKey('kt-a', 'key_store_1'), false, 'not of that workspace');
  assert.equal(await messages.deleteKey('kt-b', 'key_store_1'), true);
  assert.equal(await messages.deleteKey('kt-b', 'key_store_1'), false, 'already gone');
  assert.equal(await messages.keyScope(hashToken('one')), undefined);
  assert.equal((await messages.keyScope(hashToken('two')))?.group, 'q2');
});

test('createApiKey, behind the REST route and the admin UI form: checks the input, stores the hash, audits', async () => {
  const { store } = h.host;
  const operator = (await h.host.auth.principalOf(h.operatorToken))!;
  const deps = { store, now: () => Date.parse('2026-03-01T10:00:00Z') };
  const made = await createApiKey(deps, 'kt-b', { name: '  reports ', path: '/api/reports' }, operator);
  assert.deepEqual({ ...made, key: undefined, id: undefined }, { name: 'reports', path: '/api/reports', key: undefined, id: undefined, createdAt: Date.parse('2026-03-01T10:00:00Z') });
  assert.match(made.key, /^pha_/);
  const stored = (await store.apiKeys.byHash(hashToken(made.key)))!;
  assert.deepEqual([stored.id, stored.workspaceId, stored.pathPrefix, stored.revokedAt], [made.id, 'kt-b', '/api/reports', null]);
  assert.deepEqual((await audit('kt-b')).find((a) => a.action === 'create-api-key' && a.detail.id === made.id)?.detail, { id: made.id, name: 'reports', path: '/api/reports' });

  // The same refusals as the REST route, field by field.
  for (const [input, field] of [[{ name: 'x', path: '/api/../x' }, 'path'], [{ name: '', path: '/api/x' }, 'name'], [{ name: 'x', path: '/api/x', extra: 1 }, '(root)']] as const) {
    const rest = await h.api('POST', '/api/v1/workspaces/kt-b/api-keys', input);
    assertError(rest, 400, 'INVALID_BODY', { details: true });
    await assert.rejects(createApiKey(deps, 'kt-b', input, operator), (err: { code: string; details: Array<{ path: string }>; message: string }) => {
      assert.equal(err.code, 'INVALID_BODY');
      assert.equal(err.message, rest.body.error.message);
      assert.ok(err.details.some((d) => d.path === field), JSON.stringify(err.details));
      return true;
    });
  }
  await assert.rejects(createApiKey(deps, 'nowhere', { name: 'x', path: '/api/x' }, operator), { code: 'WORKSPACE_NOT_FOUND' });
  const rest = await h.api('POST', '/api/v1/workspaces/kt-b/api-keys', { name: 'over rest', path: '/api/reports' });
  assert.equal(rest.status, 201);
  assert.deepEqual(Object.keys(rest.body), ['id', 'name', 'path', 'key', 'createdAt']);
  assert.ok(!Number.isNaN(Date.parse(rest.body.createdAt)));
});
