// Who may do what in the admin UI, and cross-site request forgery. A workspace token sees only
// its workspace (others are absent from the list; their pages and forms answer 403). A POST
// with the session cookie but no, a wrong or another session's CSRF token is refused, as is
// one from a foreign Origin or Referer, one with neither, and a cross-site fetch; a real
// cross-site page's form in Chromium is refused too; none of them changes anything. The
// session cookie is HttpOnly, SameSite=Strict, scoped to /admin, holds no token, and a tampered
// one is not accepted; the sign-in form has its own CSRF token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { launchBrowser, screenshot, signInBrowser, UiClient, type Browser } from './helpers.ts';

let h: TestHost;
let alphaToken: string;
const inst: Record<string, string> = {};
let evil: StubServer;
let browser: Browser;

const isActive = async (ws: string) => (await h.api('GET', `/api/v1/workspaces/${ws}/installations/${inst[ws]}`)).body.active as boolean;
const activePath = (ws: string) => `/admin/workspaces/${ws}/installations/${inst[ws]}/active`;

before(async () => {
  h = await startHost();
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-hello', version: '1.0.0', namespace: 'hello', services: [{ route: 'hi', main: 'plugin.js' }], limits: { timeoutMs: 1000 } },
    'plugin.js': 'exports.run = function (e) { e.response.send("hi"); };',
  })).status, 201);
  for (const [id, name] of [['alpha', 'Alpha'], ['beta', 'Beta']] as const) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id, name })).status, 201);
    inst[id] = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'ui-hello' })).body.id;
  }
  alphaToken = (await h.api('POST', '/api/v1/workspaces/alpha/tokens')).body.token;
  evil = await startStub();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await evil?.close();
  await h?.close();
});

test('a workspace token sees only its own workspace; another one answers 403', async () => {
  const { page } = browser;
  await signInBrowser(page, h.url, alphaToken);
  assert.equal(new URL(page.url()).pathname, '/admin/workspaces/alpha');
  assert.match(await page.locator('header').innerText(), /signed in as workspace alpha/);
  await page.goto(`${h.url}/admin/workspaces`);
  assert.deepEqual(await page.locator('tbody tr td:first-child').allInnerTexts(), ['Alpha']);
  assert.equal(await page.locator('text=Beta').count(), 0);
  assert.equal(await page.locator('text=New workspace').count(), 0, 'only the operator creates workspaces');

  for (const p of ['', '/schedules', '/runs', '/queues', '/install', `/installations/${inst.beta}`]) {
    const res = await page.goto(`${h.url}/admin/workspaces/beta${p}`);
    assert.equal(res!.status(), 403, p);
    assert.equal(await page.locator('.flash.error').innerText(), 'FORBIDDEN: this workspace token manages another workspace', p);
  }
  await screenshot(page, '12-forbidden');
  const own = await page.goto(`${h.url}/admin/workspaces/alpha/installations/${inst.alpha}`);
  assert.equal(own!.status(), 200);

  // Its forms, with a valid session and CSRF token, cannot act on another workspace either.
  const ui = new UiClient(h.url);
  assert.equal((await ui.signIn(alphaToken)).location, '/admin/workspaces/alpha');
  const csrf = await ui.csrf('/admin/workspaces/alpha');
  const res = await ui.post(activePath('beta'), { _csrf: csrf, active: 'false' });
  assert.equal(res.status, 403);
  assert.match(res.text, /FORBIDDEN: this workspace token manages another workspace/);
  assert.equal(await isActive('beta'), true);
  const create = await ui.post('/admin/workspaces', { _csrf: csrf, name: 'Mine now' });
  assert.equal(create.status, 403);
  assert.match(create.text, /FORBIDDEN: only the operator token may do this/);
  assert.equal((await h.api('GET', '/api/v1/workspaces')).body.data.length, 2);
});

test('a POST with the session cookie but without the session\'s CSRF token changes nothing', async () => {
  const ui = new UiClient(h.url);
  await ui.signIn(h.operatorToken);
  const other = new UiClient(h.url);
  await other.signIn(h.operatorToken);
  const otherCsrf = await other.csrf();
  for (const fields of [{}, { _csrf: '' }, { _csrf: 'forged-token-value' }, { _csrf: otherCsrf }] as Array<Record<string, string>>) {
    const res = await ui.post(activePath('alpha'), { ...fields, active: 'false' });
    assert.equal(res.status, 403, JSON.stringify(fields));
    assert.match(res.text, /The form&#39;s security token is missing or out of date, so nothing was changed\./);
    assert.equal(await isActive('alpha'), true);
  }
  // The same request with the session's own token is accepted (so the refusals above are the CSRF check).
  const ok = await ui.post(activePath('alpha'), { _csrf: await ui.csrf(), active: 'false' });
  assert.equal(ok.status, 303);
  assert.equal(await isActive('alpha'), false);
  assert.equal((await ui.post(activePath('alpha'), { _csrf: await ui.csrf(), active: 'true' })).status, 303);
  assert.equal(await isActive('alpha'), true);
});

test('a POST from a foreign Origin or Referer, or with neither, is refused even with a valid CSRF token', async () => {
  const ui = new UiClient(h.url);
  await ui.signIn(h.operatorToken);
  const csrf = await ui.csrf();
  const cases: Array<Record<string, string | undefined>> = [
    { origin: 'http://evil.example' },
    { origin: h.url.replace('127.0.0.1', 'localhost') },
    { origin: 'null' },
    { origin: undefined, referer: 'http://evil.example/page' },
    { origin: undefined },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
  ];
  for (const headers of cases) {
    const res = await ui.post(activePath('alpha'), { _csrf: csrf, active: 'false' }, headers);
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.match(res.text, /the Origin check failed/);
    assert.equal(await isActive('alpha'), true);
  }
  // The sign-in form is checked too: a foreign page cannot sign a browser in.
  const login = await new UiClient(h.url).post('/admin/login', { token: h.operatorToken }, { origin: 'http://evil.example' });
  assert.equal(login.status, 403);
  assert.deepEqual(login.setCookies, []);
  // A same-origin Referer without Origin is accepted.
  const viaReferer = await ui.post(activePath('alpha'), { _csrf: csrf, active: 'true' }, { origin: undefined, referer: `${h.url}/admin/workspaces/alpha` });
  assert.equal(viaReferer.status, 303);
});

test('a cross-site page\'s form in Chromium is refused and changes nothing', async () => {
  const { page } = browser;
  await signInBrowser(page, h.url, h.operatorToken);
  const target = h.url + activePath('alpha');
  evil.respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form method="post" action="${target}"><input type="hidden" name="active" value="false"><input type="hidden" name="_csrf" value="guess"><button>Win a prize</button></form>`);
  };
  await page.goto(evil.url.replace('127.0.0.1', 'localhost'));
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button')]);
  assert.equal(response!.status(), 403);
  assert.match(await page.locator('.flash.error').innerText(), /the Origin check failed/);
  assert.equal(await isActive('alpha'), true);
});

test('the session cookie: HttpOnly, SameSite=Strict, /admin only, no token inside, tamper-proof', async () => {
  const ui = new UiClient(h.url);
  const badLogin = await ui.signIn('wrong-token-0123456789');
  assert.equal(badLogin.status, 401);
  assert.match(badLogin.text, /That token is not valid on this host\./);
  const noLoginCsrf = await new UiClient(h.url).post('/admin/login', { token: h.operatorToken });
  assert.equal(noLoginCsrf.status, 403);
  assert.match(noLoginCsrf.text, /The sign-in form was out of date/);
  assert.ok(!noLoginCsrf.setCookies.some((c) => c.startsWith('plughost_admin=')), 'no session');

  const res = await ui.signIn(h.operatorToken);
  assert.equal(res.status, 303);
  assert.equal(res.location, '/admin/workspaces');
  const cookie = res.setCookies.find((c) => c.startsWith('plughost_admin='))!;
  assert.match(cookie, /; path=\/admin;/);
  assert.match(cookie, /; samesite=strict/i);
  assert.match(cookie, /; httponly/i);
  const value = ui.cookies.get('plughost_admin')!;
  assert.ok(!value.includes(h.operatorToken) && !value.includes(alphaToken));
  assert.equal((await ui.get('/admin/workspaces')).status, 200);

  // Any change to the signed value (the expiry, the token id) is a signed-out request.
  const [tokenId, expires, nonce, mac] = value.split('.');
  for (const forged of [`${tokenId}.${Number(expires) + 1000}.${nonce}.${mac}`, `tok_other.${expires}.${nonce}.${mac}`, `${tokenId}.${expires}.${nonce}.${mac!.slice(1)}A`, h.operatorToken]) {
    const copy = new UiClient(h.url);
    copy.cookies.set('plughost_admin', forged);
    const page = await copy.get('/admin/workspaces');
    assert.equal(page.status, 303, forged);
    assert.equal(page.location, '/admin/login');
  }

  const out = await ui.post('/admin/logout', { _csrf: await ui.csrf() });
  assert.equal(out.status, 303);
  assert.ok(out.setCookies.some((c) => /^plughost_admin=;.*expires=Thu, 01 Jan 1970/.test(c)));
  assert.equal((await ui.get('/admin/workspaces')).location, '/admin/login');
});
