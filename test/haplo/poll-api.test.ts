// Haplo's poll API (SPEC §6) for a `poll` queue: keys made by the admin API (201 {key});
// GET|POST …/workspaces/:ws/api/haplo-integration-messages/poll/:group/fetch with HTTP Basic
// haplo:<key> (or a bearer key) returns the 16 oldest unsent messages with a token; mark with
// that token (query, form or JSON body) marks exactly those and answers {markedCount,
// unreadCount}; a stale or forged token marks nothing; a key opens one queue's poll API of one
// workspace and nothing else (403 on another queue or workspace, 401 on the admin API); no key
// or a wrong one is 401.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { ADD_ROUTE, SEED_DISCOVER, addThroughRoute, createWorkspace, install, publishPlugin, queueOf, tokenOf } from './fixtures/haplo.ts';

let h: TestHost;
let keyA: string; // workspace pa, queue student
let keyB: string; // workspace pb, queue student
let keyCustom: string; // workspace pa, queue custom

const POLL_PLUGIN = `
${SEED_DISCOVER}
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "other", method: "poll", title: "Other", description: "another poll queue" });
  discover({ group: "custom", method: "poll", title: "Custom", description: "poll queue with a formatter" });
});
P.implementService("haplo:integration-message:write-messages:custom", function (messages, token) {
  return O.binaryData("<batch token=\\"" + token + "\\">" + messages.map(function (m) { return "<m id=\\"" + m.id + "\\">" + m.data.name + "</m>"; }).join("") + "</batch>",
    { mimeType: "application/xml", filename: "batch.xml" });
});`;

const basic = (key: string, user = 'haplo') => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`;
const pollUrl = (ws: string, group: string, action: 'fetch' | 'mark', query = '') => `${h.url}/workspaces/${ws}/api/haplo-integration-messages/poll/${group}/${action}${query}`;

async function poll(ws: string, group: string, action: 'fetch' | 'mark', opts: { method?: string; auth?: string | null; query?: string; json?: unknown; form?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = opts.auth;
  let body: string | undefined;
  if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json); }
  if (opts.form) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(opts.form).toString(); }
  const res = await fetch(pollUrl(ws, group, action, opts.query), { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

async function createKey(ws: string, group: string): Promise<string> {
  const res = await h.api('POST', `/api/v1/workspaces/${ws}/integration-messages/${group}/keys`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(typeof res.body.key, 'string');
  assert.ok(res.body.key.length >= 20, 'a key long enough not to be guessed');
  assert.equal(res.body.group, group);
  return res.body.key;
}

before(async () => {
  h = await startHost();
  await publishPlugin(h, { name: 'hpoll-queues', namespace: 'queues', main: POLL_PLUGIN });
  await publishPlugin(h, { name: 'hpoll-events', namespace: 'events', main: '', routes: { add: ADD_ROUTE } });
  for (const ws of ['hpoll-a', 'hpoll-b']) {
    await createWorkspace(h, ws);
    await install(h, ws, 'hpoll-queues');
    await install(h, ws, 'hpoll-events');
  }
  keyA = await createKey('hpoll-a', 'student');
  keyB = await createKey('hpoll-b', 'student');
  keyCustom = await createKey('hpoll-a', 'custom');
});
after(async () => { await h.close(); });

test('the queues are poll queues from discover', async () => {
  assert.equal((await queueOf(h, 'hpoll-a', 'student')).method, 'poll');
  assert.equal((await queueOf(h, 'hpoll-a', 'custom')).method, 'poll');
});

test('fetch returns the 16 oldest, mark marks exactly those; the rest follow; stale and forged tokens mark nothing', async () => {
  const ids = await addThroughRoute(h, 'hpoll-a', 'events', 'student', 'stu', 20);
  const first16 = ids.slice(0, 16);
  const last4 = ids.slice(16);

  const fetched = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA) });
  assert.equal(fetched.status, 200, fetched.text);
  assert.match(String(fetched.headers.get('content-type')), /^application\/json/);
  assert.equal(fetched.headers.get('cache-control'), 'no-store');
  assert.equal(fetched.body.version, 0);
  assert.deepEqual(fetched.body.messages.map((m: { id: number }) => m.id), first16);
  assert.deepEqual(fetched.body.messages[0], { id: ids[0], datetime: fetched.body.messages[0].datetime, name: 'stu', i: 0 });
  assert.equal(fetched.body.token, tokenOf(first16));
  assert.equal(fetched.headers.get('x-haplo-token'), fetched.body.token);

  // Fetching does not mark: the same batch again, with the same token.
  const again = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA), method: 'POST' });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body.messages.map((m: { id: number }) => m.id), first16);
  assert.equal(again.body.token, fetched.body.token);

  // Mark with the token in a JSON body.
  const marked = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), json: { token: fetched.body.token } });
  assert.equal(marked.status, 200, marked.text);
  assert.deepEqual(marked.body, { markedCount: 16, unreadCount: 4 });
  const q = await queueOf(h, 'hpoll-a', 'student');
  assert.deepEqual([q.unsent, q.sent], [4, 16]);
  const sent = await h.api('GET', '/api/v1/workspaces/hpoll-a/integration-messages/student/messages?status=sent&limit=200');
  assert.deepEqual(sent.body.data.map((m: { id: number }) => m.id).sort((a: number, b: number) => a - b), first16);

  // The remaining 4 (POST fetch).
  const rest = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA), method: 'POST' });
  assert.equal(rest.status, 200, rest.text);
  assert.deepEqual(rest.body.messages.map((m: { id: number }) => m.id), last4);
  assert.equal(rest.body.token, tokenOf(last4));

  // The first token again (in the query): stale, marks nothing.
  const stale = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), query: `?token=${encodeURIComponent(fetched.body.token)}` });
  assert.equal(stale.status, 200, stale.text);
  assert.deepEqual(stale.body, { markedCount: 0, unreadCount: 4 });

  // Forged tokens, built the way Haplo builds them but never handed out: nothing marked.
  for (const forged of [tokenOf(last4.slice(0, 2)), tokenOf([...last4].reverse()), tokenOf(ids), Buffer.from('not,ids').toString('base64'), 'garbage']) {
    const res = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), json: { token: forged } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { markedCount: 0, unreadCount: 4 }, `forged token ${forged}`);
  }

  // The real token of the second fetch, as a form body.
  const marked2 = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), form: { token: rest.body.token } });
  assert.equal(marked2.status, 200, marked2.text);
  assert.deepEqual(marked2.body, { markedCount: 4, unreadCount: 0 });

  // Empty now.
  const empty = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA) });
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual(empty.body.messages, []);
  const q2 = await queueOf(h, 'hpoll-a', 'student');
  assert.deepEqual([q2.unsent, q2.sent], [0, 20]);
});

test('mark takes the token as a query parameter too, and a bearer key works like Basic', async () => {
  const ids = await addThroughRoute(h, 'hpoll-a', 'events', 'student', 'q', 3);
  const fetched = await poll('hpoll-a', 'student', 'fetch', { auth: `Bearer ${keyA}` });
  assert.equal(fetched.status, 200, fetched.text);
  assert.deepEqual(fetched.body.messages.map((m: { id: number }) => m.id), ids);
  const marked = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), query: `?token=${encodeURIComponent(fetched.body.token)}` });
  assert.equal(marked.status, 200, marked.text);
  assert.deepEqual(marked.body, { markedCount: 3, unreadCount: 0 });
});

test('mark without a token is 400', async () => {
  const res = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA) });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.error.code, 'INVALID_QUERY');
});

test('a queue with a write-messages formatter is fetched in its format, with the token it was given', async () => {
  const ids = await addThroughRoute(h, 'hpoll-a', 'events', 'custom', 'xml', 2);
  const fetched = await poll('hpoll-a', 'custom', 'fetch', { auth: basic(keyCustom) });
  assert.equal(fetched.status, 200, fetched.text);
  assert.equal(fetched.headers.get('content-type'), 'application/xml');
  const token = tokenOf(ids);
  assert.equal(fetched.text, `<batch token="${token}"><m id="${ids[0]}">xml</m><m id="${ids[1]}">xml</m></batch>`);
  assert.equal(fetched.headers.get('x-haplo-token'), token);
  const marked = await poll('hpoll-a', 'custom', 'mark', { auth: basic(keyCustom), form: { token } });
  assert.deepEqual(marked.body, { markedCount: 2, unreadCount: 0 });
});

test('a key opens its own queue only: another queue is 403, the admin API 401', async () => {
  await addThroughRoute(h, 'hpoll-a', 'events', 'other', 'o', 1);
  for (const action of ['fetch', 'mark'] as const) {
    const res = await poll('hpoll-a', 'other', action, { auth: basic(keyA), query: '?token=x' });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.body.error.code, 'FORBIDDEN');
  }
  assert.equal((await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyCustom) })).status, 403);
  // The admin API does not take poll keys, neither as bearer nor as Basic.
  const admin = await h.api('GET', '/api/v1/workspaces/hpoll-a/integration-messages', undefined, keyA);
  assert.equal(admin.status, 401, JSON.stringify(admin.body));
  assert.equal(admin.body.error.code, 'UNAUTHORIZED');
  const adminBasic = await fetch(`${h.url}/api/v1/workspaces/hpoll-a/integration-messages`, { headers: { authorization: basic(keyA) } });
  assert.equal(adminBasic.status, 401);
  const send = await fetch(`${h.url}/api/v1/workspaces/hpoll-a/integration-messages/student/send`, { method: 'POST', headers: { authorization: `Bearer ${keyA}` } });
  assert.equal(send.status, 401);
  // Nothing of `other` was touched.
  assert.equal((await queueOf(h, 'hpoll-a', 'other')).unsent, 1);
});

test('no key, a wrong key, or the wrong Basic user is 401', async () => {
  const none = await poll('hpoll-a', 'student', 'fetch', { auth: null });
  assert.equal(none.status, 401, none.text);
  assert.equal(none.body.error.code, 'UNAUTHORIZED');
  assert.match(String(none.headers.get('www-authenticate')), /^Basic /);
  for (const auth of [basic('phk_not-a-real-key-0123456789'), basic(keyA, 'admin'), basic(''), `Bearer not-a-key`, 'Basic !!!', basic(keyA.slice(0, -1))]) {
    const res = await poll('hpoll-a', 'student', 'fetch', { auth });
    assert.equal(res.status, 401, `${auth}: ${res.text}`);
    assert.equal(res.body.error.code, 'UNAUTHORIZED');
    const mark = await poll('hpoll-a', 'student', 'mark', { auth, json: { token: 'x' } });
    assert.equal(mark.status, 401, `${auth}: ${mark.text}`);
  }
});

test('a key of workspace A is refused on workspace B\'s path, and B\'s own key works there', async () => {
  const idsB = await addThroughRoute(h, 'hpoll-b', 'events', 'student', 'b', 2);
  const cross = await poll('hpoll-b', 'student', 'fetch', { auth: basic(keyA) });
  assert.equal(cross.status, 403, cross.text);
  assert.equal(cross.body.error.code, 'FORBIDDEN');
  const crossMark = await poll('hpoll-b', 'student', 'mark', { auth: basic(keyA), json: { token: tokenOf(idsB) } });
  assert.equal(crossMark.status, 403, crossMark.text);
  const own = await poll('hpoll-b', 'student', 'fetch', { auth: basic(keyB) });
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(own.body.messages.map((m: { id: number }) => m.id), idsB);
  // B's token does not mark on A's path either (with A's key): tokens belong to their queue.
  const elsewhere = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), json: { token: own.body.token } });
  assert.deepEqual(elsewhere.body, { markedCount: 0, unreadCount: 0 });
  assert.equal((await queueOf(h, 'hpoll-b', 'student')).unsent, 2);
});

test('the poll API takes GET and POST only', async () => {
  const res = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA), method: 'PUT' });
  assert.equal(res.status, 405, res.text);
});

test('a used token is spent: a message an admin puts back is not marked by the old token, only by a fetch that hands it out again', async () => {
  const ids = await addThroughRoute(h, 'hpoll-a', 'events', 'student', 'again', 2);
  const fetched = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA) });
  assert.deepEqual(fetched.body.messages.map((m: { id: number }) => m.id), ids);
  assert.deepEqual((await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), json: { token: fetched.body.token } })).body, { markedCount: 2, unreadCount: 0 });
  // The admin asks for the first one to be delivered again.
  const unsent = await h.api('POST', `/api/v1/workspaces/hpoll-a/integration-messages/student/messages/${ids[0]}/unsent`);
  assert.equal(unsent.status, 200, JSON.stringify(unsent.body));
  // A poller repeating its old mark (a retry after a lost answer) must not swallow the redelivery.
  const repeated = await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), json: { token: fetched.body.token } });
  assert.deepEqual(repeated.body, { markedCount: 0, unreadCount: 1 });
  const refetched = await poll('hpoll-a', 'student', 'fetch', { auth: basic(keyA) });
  assert.deepEqual(refetched.body.messages.map((m: { id: number }) => m.id), [ids[0]]);
  assert.deepEqual((await poll('hpoll-a', 'student', 'mark', { auth: basic(keyA), form: { token: refetched.body.token } })).body, { markedCount: 1, unreadCount: 0 });
});
