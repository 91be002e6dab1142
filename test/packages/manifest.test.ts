// plugin.json rules: defaults, every problem reported by path, and the checks against the package's files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MANIFEST_MAX_BYTES, parseManifest, parseManifestFile } from '../../runtime/packages/manifest.ts';
import { throwsWith } from './fixtures/expect-error.ts';

const specExample = {
  name: 'todo-digest',
  version: '1.0.0',
  namespace: 'todo',
  displayName: 'Daily to-do digest',
  services: [{ route: 'digest', main: 'plugin.js', access: 'public' }],
  main: 'server.js',
  events: { onScheduledEvent: { handler: 'onScheduledEventHandler' } },
  iparams: { chatToken: { type: 'text', secure: true, required: true } },
  permissions: { hosts: ['chat.example.com'], offlineAccess: true },
  limits: { timeoutMs: 20000, memoryMb: 64 },
};
const minimal = { name: 'todo-digest', version: '1.0.0', namespace: 'todo' };

test('the SPEC section 2 example parses as written', () => {
  const m = parseManifest(specExample, new Set(['plugin.json', 'plugin.js', 'server.js']));
  assert.deepEqual(m, { ...specExample, iparams: { chatToken: { type: 'text', secure: true, required: true } }, functions: {}, requests: {}, openIparams: false });
});

test('a minimal manifest gets every default', () => {
  assert.deepEqual(parseManifest(minimal), {
    ...minimal,
    displayName: 'todo-digest',
    services: [],
    main: null,
    events: {},
    iparams: {},
    permissions: { hosts: [], offlineAccess: false },
    limits: { timeoutMs: 20000, memoryMb: 64 },
    functions: {},
    requests: {},
    openIparams: false,
  });
  const m = parseManifest({ ...minimal, services: [{ route: 'a', main: './lib/a.js' }, { route: 'b' }], iparams: { n: { type: 'number' } } });
  assert.deepEqual(m.services, [{ route: 'a', main: 'lib/a.js', access: 'public' }, { route: 'b', main: 'plugin.js', access: 'public' }]);
  assert.equal(m.main, 'lib/a.js', 'main defaults to the first service module');
  assert.deepEqual(m.iparams.n, { type: 'number', secure: false, required: false });
});

test('unknown top-level keys are allowed and dropped', () => {
  const m = parseManifest({ ...minimal, platformVersion: '2.3', product: { freshsales: {} } });
  assert.equal('platformVersion' in m, false);
});

test('five different mistakes are all reported, by path', () => {
  const err = throwsWith(() => parseManifest({
    name: 'Todo Digest',
    version: '1.0',
    namespace: 'todo',
    services: [{ route: 'digest', main: '../plugin.js' }],
    permissions: { hosts: ['https://chat.example.com'] },
    limits: { timeoutMs: 90000 },
  }), 'INVALID_MANIFEST', ['name', 'version', 'services[0].main', 'permissions.hosts[0]', 'limits.timeoutMs']);
  assert.match(err.message, /^plugin\.json has 5 problems: name: /);
});

test('a manifest that is not an object is one problem at (root)', () => {
  for (const raw of [null, 'x', 3, [minimal]]) throwsWith(() => parseManifest(raw), 'INVALID_MANIFEST', ['(root)']);
  throwsWith(() => parseManifest({}), 'INVALID_MANIFEST', ['name', 'version', 'namespace']);
});

test('the namespaces api and admin are reserved', () => {
  for (const namespace of ['api', 'admin']) {
    const err = throwsWith(() => parseManifest({ ...minimal, namespace }), 'INVALID_MANIFEST', ['namespace']);
    assert.match(err.message, /reserved/);
  }
});

test('name, version, namespace and route follow their patterns', () => {
  const good = { name: ['a', 'todo.digest_2-x', 'a'.repeat(64)], version: ['0.0.1', '1.2.3-beta.1', '1.0.0+build.5'], namespace: ['t', 'to_do-1'] };
  const bad = {
    name: ['', '-a', 'A', 'a/b', 'a'.repeat(65)],
    version: ['1', '1.0', 'v1.0.0', '01.0.0', '1.0.0-', 1],
    namespace: ['To', 'a.b', '_a', 'a'.repeat(65)],
  };
  for (const [field, values] of Object.entries(good)) for (const v of values) parseManifest({ ...minimal, [field]: v });
  for (const [field, values] of Object.entries(bad)) {
    for (const v of values) throwsWith(() => parseManifest({ ...minimal, [field]: v }), 'INVALID_MANIFEST', [field]);
  }
  const routes = ['ok', 'a/b', '', 'a b', 'x'.repeat(65)];
  throwsWith(() => parseManifest({ ...minimal, services: routes.map((route) => ({ route, main: 'p.js' })) }), 'INVALID_MANIFEST',
    ['services[1].route', 'services[2].route', 'services[3].route', 'services[4].route']);
});

test('routes are unique within a plugin, ignoring case', () => {
  const services = [{ route: 'digest' }, { route: 'other' }, { route: 'Digest' }];
  const err = throwsWith(() => parseManifest({ ...minimal, services }), 'INVALID_MANIFEST', ['services[2].route']);
  assert.match(err.message, /services\[0\]/);
});

test('unknown keys inside services, permissions, limits, events and iparams are problems', () => {
  throwsWith(() => parseManifest({
    ...minimal,
    services: [{ route: 'a', mian: 'x.js' }],
    permissions: { hosts: [], offline: true },
    limits: { timeout: 5 },
    events: { onScheduledEvent: { handler: 'h', async: true } },
    iparams: { t: { type: 'text', requried: true } },
  }), 'INVALID_MANIFEST', ['services[0].mian', 'events.onScheduledEvent.async', 'iparams.t.requried', 'permissions.offline', 'limits.timeout']);
});

test('module paths are relative .js files inside the package', () => {
  const mains = ['/abs.js', 'a/../../b.js', 'lib\\x.js', 'C:/x.js', 'x.ts', './', 'a\u0000.js'];
  throwsWith(() => parseManifest({ ...minimal, services: mains.map((main, i) => ({ route: `r${i}`, main })) }), 'INVALID_MANIFEST',
    mains.map((_, i) => `services[${i}].main`));
});

test('with the package files, every module named must exist', () => {
  const files = new Set(['plugin.json', 'plugin.js']);
  const raw = { ...minimal, services: [{ route: 'a', main: 'plugin.js' }, { route: 'b', main: 'lib/b.js' }], main: './server.js' };
  const err = throwsWith(() => parseManifest(raw, files), 'INVALID_MANIFEST', ['services[1].main', 'main']);
  assert.match(err.message, /not in the package/);
  assert.equal(parseManifest(raw, new Set([...files, 'lib/b.js', 'server.js'])).main, 'server.js');
});

test('permissions.hosts takes host names, wildcards and IPs, with ports', () => {
  const hosts = ['chat.example.com', 'API.Example.com', '*.example.com', 'localhost', '10.0.0.1', '10.0.0.1:8080', '::1', '[::1]:8443', 'x.io:443'];
  assert.deepEqual(parseManifest({ ...minimal, permissions: { hosts } }).permissions.hosts, hosts.map((h) => h.toLowerCase()));
  const bad = ['https://x.com', 'x.com/path', '*', '*.com', 'a.*.com', 'x.com:0', 'x.com:70000', '-x.com', 'x..com', 'user@x.com', '[x.com]', '999.1.1.1', ''];
  throwsWith(() => parseManifest({ ...minimal, permissions: { hosts: bad } }), 'INVALID_MANIFEST', bad.map((_, i) => `permissions.hosts[${i}]`));
});

test('limits stay within their ranges', () => {
  assert.deepEqual(parseManifest({ ...minimal, limits: { timeoutMs: 100, memoryMb: 256 } }).limits, { timeoutMs: 100, memoryMb: 256 });
  assert.deepEqual(parseManifest({ ...minimal, limits: { memoryMb: 16 } }).limits, { timeoutMs: 20000, memoryMb: 16 });
  throwsWith(() => parseManifest({ ...minimal, limits: { timeoutMs: 60001, memoryMb: 15 } }), 'INVALID_MANIFEST', ['limits.timeoutMs', 'limits.memoryMb']);
  throwsWith(() => parseManifest({ ...minimal, limits: { timeoutMs: 99, memoryMb: 64.5 } }), 'INVALID_MANIFEST', ['limits.timeoutMs', 'limits.memoryMb']);
});

test('events need a valid name, an identifier handler and a module to live in', () => {
  throwsWith(() => parseManifest({ ...minimal, main: 'server.js', events: { scheduled: { handler: 'h' }, onAppInstall: { handler: 'not-an-id' } } }),
    'INVALID_MANIFEST', ['events.scheduled', 'events.onAppInstall.handler']);
  const err = throwsWith(() => parseManifest({ ...minimal, events: { onScheduledEvent: { handler: 'h' } } }), 'INVALID_MANIFEST', ['main']);
  assert.match(err.message, /set main/);
});

test('iparam declarations are checked: names, types, options and defaults', () => {
  throwsWith(() => parseManifest({
    ...minimal,
    iparams: {
      'bad-name': { type: 'text' },
      kind: { type: 'color' },
      pick: { type: 'dropdown' },
      many: { type: 'multiselect', options: [] },
      note: { type: 'text', options: ['a'] },
      count: { type: 'number', default: 'ten' },
      level: { type: 'dropdown', options: ['low', 'high'], default: 'mid' },
      token: { type: 'password', secure: true, default: 'hunter2' },
    },
  }), 'INVALID_MANIFEST', ['iparams["bad-name"]', 'iparams.kind.type', 'iparams.pick.options', 'iparams.many.options',
    'iparams.note.options', 'iparams.count.default', 'iparams.level.default', 'iparams.token.default']);
});

test('an iparam named __proto__ is refused rather than silently lost', () => {
  throwsWith(() => parseManifest(JSON.parse('{"name":"a","version":"1.0.0","namespace":"a","iparams":{"__proto__":{"type":"text"}}}')),
    'INVALID_MANIFEST', ['iparams.__proto__']);
});

test('lists are bounded at 100 entries', () => {
  const services = Array.from({ length: 101 }, (_, i) => ({ route: `r${i}` }));
  const iparams = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, { type: 'text' }]));
  const hosts = Array.from({ length: 101 }, (_, i) => `h${i}.example.com`);
  throwsWith(() => parseManifest({ ...minimal, services, iparams, permissions: { hosts } }), 'INVALID_MANIFEST',
    ['services', 'permissions.hosts', 'iparams']);
});

test('parseManifestFile bounds the size and reports bad JSON as INVALID_MANIFEST', () => {
  const encode = (s: string) => new TextEncoder().encode(s);
  assert.equal(parseManifestFile(encode(`\uFEFF${JSON.stringify(minimal)}`)).name, 'todo-digest');
  const big = encode(JSON.stringify({ ...minimal, description: 'x'.repeat(MANIFEST_MAX_BYTES) }));
  assert.match(throwsWith(() => parseManifestFile(big), 'INVALID_MANIFEST', ['(root)']).message, /64 KiB/);
  assert.match(throwsWith(() => parseManifestFile(encode('{"name": "x",}')), 'INVALID_MANIFEST', ['(root)']).message, /not valid UTF-8 JSON/);
  throwsWith(() => parseManifestFile(new Uint8Array([0x7b, 0xff, 0x7d])), 'INVALID_MANIFEST', ['(root)']);
  throwsWith(() => parseManifestFile(encode('{"name": "x"}'), new Set()), 'INVALID_MANIFEST', ['version', 'namespace']);
});
