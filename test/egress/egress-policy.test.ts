// Egress policy: the corpus of refused and allowed targets, the operator's allow list, and
// how permissions.hosts entries match (wildcards, ports, normalisation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEgressPolicy } from '../../runtime/egress/index.ts';
import type { EgressPolicy } from '../../runtime/egress/index.ts';
import { isPlughostError } from '../../runtime/errors.ts';
import { allowedTargets, corpusMap, corpusPermittedHosts, fakeLookup, refusedTargets } from './corpus.ts';

function policyWith(allow: string[] = []): EgressPolicy {
  return createEgressPolicy({ allow, map: corpusMap, lookup: fakeLookup() });
}

async function outcome(policy: EgressPolicy, url: string, hosts: readonly string[] = corpusPermittedHosts): Promise<string> {
  try {
    await policy.check(url, hosts);
    return 'ok';
  } catch (err) {
    if (!isPlughostError(err)) throw err;
    return `${err.code}:${(err.details as { rule?: string } | undefined)?.rule}`;
  }
}

test('the corpus is large enough and names every hostname it relies on', () => {
  assert.ok(refusedTargets.length >= 30);
  assert.ok(refusedTargets.some((t) => t.rule === 'permission'));
});

test('every refused target is refused with EGRESS_DENIED by the rule the corpus names', async () => {
  const policy = policyWith();
  for (const target of refusedTargets) {
    assert.equal(await outcome(policy, target.url), `EGRESS_DENIED:${target.rule}`, `${target.url} (${target.why})`);
  }
});

test('allowed targets pass and pin the vetted address', async () => {
  const policy = policyWith();
  for (const target of allowedTargets) {
    const result = await policy.check(target.url, corpusPermittedHosts);
    assert.equal(result.address, target.address, target.url);
    assert.equal(result.family, target.address.includes(':') ? 6 : 4);
    assert.equal(result.originalUrl.href, new URL(target.url).href);
    assert.equal(result.connectUrl.href, target.connectUrl ?? new URL(target.url).href, target.url);
    assert.equal(result.mapped, target.connectUrl !== undefined);
  }
});

const addressRefusals = refusedTargets.filter((t) => t.rule === 'address' || t.rule === 'name');

async function passing(allow: string[]): Promise<string[]> {
  const policy = policyWith(allow);
  const passed: string[] = [];
  for (const target of addressRefusals) {
    if (await outcome(policy, target.url) === 'ok') passed.push(target.url);
  }
  return passed;
}

test("allow ['127.0.0.1'] lets through exactly the IPv4 loopback spellings", async () => {
  assert.deepEqual(await passing(['127.0.0.1']), [
    'http://127.0.0.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://017700000001/',
    'http://0x7f000001/', 'http://0x7f.0.0.1/', 'http://127.1/', 'http://127.0.0.1.:8080/admin',
    'http://user:secret@127.0.0.1/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/',
    'http://rebind.evil.test/',
  ]);
});

test("allow ['10.0.0.0/8'] lets through exactly the 10/8 targets", async () => {
  assert.deepEqual(await passing(['10.0.0.0/8']), ['http://10.0.0.1/', 'https://10.0.0.1:8443/', 'http://internal.evil.test/']);
});

test("allow ['localhost'] lets through the name and nothing else", async () => {
  assert.deepEqual(await passing(['localhost']), ['http://localhost/']);
});

test('allow takes IPv6 addresses and CIDRs, hostnames and wildcards', async () => {
  assert.deepEqual(await passing(['::1', 'fe80::/10']), ['http://[::1]/', 'http://[fe80::1]/', 'http://loop6.evil.test/']);
  assert.deepEqual(await passing(['[fd00:ec2::254]']), ['http://[fd00:ec2::254]/latest/meta-data/']);
  assert.deepEqual(await passing(['*.evil.test']).then((p) => p.length), 5);
  assert.deepEqual(await passing(['::ffff:169.254.169.254']), [
    'http://169.254.169.254/latest/meta-data/', 'http://mapped.evil.test/',
  ]);
});

test('a bad allow entry or map target is refused when the policy is built', () => {
  assert.throws(() => createEgressPolicy({ allow: ['10.0.0.0/99'], map: {} }), /--egress-allow/);
  assert.throws(() => createEgressPolicy({ allow: ['not a host'], map: {} }), /--egress-allow/);
  assert.throws(() => createEgressPolicy({ allow: [], map: { 'a.test': 'ftp://x/' } }), /--egress-map/);
});

test('permission failures name the host and how to fix it', async () => {
  const policy = policyWith();
  await assert.rejects(policy.check('https://chat.example.org/x?token=secret', ['chat.example.com']), (err) => {
    assert.ok(isPlughostError(err, 'EGRESS_DENIED'));
    assert.equal(err.message, "host `chat.example.org` is not in the plugin's permissions.hosts; add it to plugin.json");
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
  await assert.rejects(policy.check('http://public.test:81/', ['public.test:80']), /host `public.test:81` is not in/);
  await assert.rejects(policy.check('http://public.test/', []), /host `public.test` is not in/);
});

test('address failures say which address and how the operator can allow it', async () => {
  await assert.rejects(policyWith().check('http://internal.evil.test/', ['internal.evil.test']), (err) => {
    assert.ok(isPlughostError(err, 'EGRESS_DENIED'));
    assert.match(err.message, /resolves to 10\.1\.2\.3, which is a private address/);
    assert.match(err.message, /--egress-allow 10\.1\.2\.3/);
    return true;
  });
});

test('permissions.hosts matching: case, trailing dots, wildcards, ports, IP spellings, schemes', async () => {
  const everywherePublic = async () => [{ address: '93.184.216.34', family: 4 as const }];
  const policy = createEgressPolicy({ allow: [], map: {}, lookup: everywherePublic });
  const cases: Array<[string, string[], boolean]> = [
    ['http://public.test/', ['PUBLIC.TEST'], true],
    ['http://public.test./', ['public.test'], true],
    ['http://public.test/', ['public.test.'], true],
    ['http://a.b.example.com/', ['*.example.com'], true],
    ['http://api.example.com/', ['*.example.com'], true],
    ['http://example.com/', ['*.example.com'], false],
    ['http://badexample.com/', ['*.example.com'], false],
    ['http://public.test/', ['public.test:80'], true],
    ['https://public.test/', ['public.test:80'], false],
    ['https://public.test/', ['public.test:443'], true],
    ['http://public.test:8080/', ['public.test'], true],
    ['http://public.test:8080/', ['public.test:8080'], true],
    ['http://public.test:8080/', ['public.test:8081'], false],
    ['http://93.184.216.34/', ['1572395042'], true],
    ['http://1572395042/', ['93.184.216.34'], true],
    ['http://public6.test/', ['https://public6.test'], true],
    ['http://[2606:2800:220:1:248:1893:25c8:1946]/', ['2606:2800:220:1:248:1893:25c8:1946'], true],
    ['http://[2606:2800:220:1:248:1893:25c8:1946]:81/', ['[2606:2800:220:1:248:1893:25c8:1946]:81'], true],
    // `*`: any host, given only to a Haplo plugin with pHTTPClient (plugin.json cannot say it); the address rules still apply.
    ['http://public.test/', ['*'], true],
  ];
  for (const [url, hosts, expected] of cases) {
    assert.equal(await outcome(policy, url, hosts), expected ? 'ok' : 'EGRESS_DENIED:permission', `${url} with ${hosts.join(',')}`);
  }
});

test('a mapped host keeps the permission check on its original name and maps path and query', async () => {
  const policy = createEgressPolicy({
    allow: [], lookup: fakeLookup(), map: { 'api.hipchat.com': 'http://127.0.0.1:9000/', 'slack.test:8443': 'http://127.0.0.1:9001/s' },
  });
  await assert.rejects(policy.check('https://api.hipchat.com/v2/room', ['hipchat.com']), /api\.hipchat\.com/);
  const target = await policy.check('https://API.hipchat.com/v2/room/1/notification?auth_token=a&b=c', ['api.hipchat.com']);
  assert.equal(target.connectUrl.href, 'http://127.0.0.1:9000/v2/room/1/notification?auth_token=a&b=c');
  assert.equal(target.address, '127.0.0.1');
  const withPort = await policy.check('https://slack.test:8443/hook', ['slack.test']);
  assert.equal(withPort.connectUrl.href, 'http://127.0.0.1:9001/s/hook');
  assert.equal(await outcome(policy, 'https://slack.test/hook', ['slack.test']), 'EGRESS_FAILED:dns');
});

test('a name that does not resolve is EGRESS_FAILED, not a denial', async () => {
  await assert.rejects(policyWith().check('http://nowhere.test/', ['nowhere.test']), (err) => {
    assert.ok(isPlughostError(err, 'EGRESS_FAILED'));
    assert.match(err.message, /cannot resolve host `nowhere\.test`/);
    return true;
  });
});

test('the default lookup resolves through the system resolver', async () => {
  const policy = createEgressPolicy({ allow: [], map: {} });
  await assert.rejects(policy.check('http://localhost/', ['localhost']), /loopback or cloud-metadata name/);
  const local = createEgressPolicy({ allow: ['localhost'], map: {} });
  const target = await local.check('http://localhost:1/', ['localhost']);
  assert.ok(['127.0.0.1', '::1'].includes(target.address));
});
