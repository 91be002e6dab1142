// Egress fixture data: URLs the policy must refuse and URLs it must let through, with a fake
// DNS table so that the results do not depend on the machine's resolver. Shared by the
// policy tests here and by the sandbox-level tests of fetch, requestify and zn-http.
import type { Lookup } from '../../runtime/egress/index.ts';

/** Which gate refuses the entry: scheme, the plugin's permissions.hosts, a reserved name, or the address rule. */
export type RefusalRule = 'scheme' | 'permission' | 'name' | 'address';

export interface RefusedTarget { url: string; why: string; rule: RefusalRule }

/** Names the corpus resolves through `fakeLookup`; anything else fails like ENOTFOUND. */
export const fakeDns: Record<string, string[]> = {
  'public.test': ['93.184.216.34'],
  'public6.test': ['2606:2800:220:1:248:1893:25c8:1946'],
  'dual.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'not-permitted.test': ['93.184.216.35'],
  'internal.evil.test': ['10.1.2.3'],
  'rebind.evil.test': ['93.184.216.34', '127.0.0.1'],
  'loop6.evil.test': ['::1'],
  'mapped.evil.test': ['::ffff:169.254.169.254'],
  'cgnat.evil.test': ['100.100.100.200'],
  localhost: ['127.0.0.1', '::1'],
};

export function fakeLookup(table: Record<string, string[]> = fakeDns): Lookup {
  return async (hostname) => {
    const found = table[hostname.toLowerCase()];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const }));
  };
}

/** The operator map the allowed targets assume (port 9 is discard: policy checks never connect). */
export const corpusMap: Record<string, string> = { 'api.example.com': 'http://127.0.0.1:9/stub' };

export const refusedTargets: RefusedTarget[] = [
  // loopback, every spelling WHATWG folds into 127.0.0.1
  { url: 'http://127.0.0.1/', why: 'IPv4 loopback', rule: 'address' },
  { url: 'http://2130706433/', why: 'loopback as one decimal number', rule: 'address' },
  { url: 'http://0177.0.0.1/', why: 'loopback with an octal first part', rule: 'address' },
  { url: 'http://017700000001/', why: 'loopback as one octal number', rule: 'address' },
  { url: 'http://0x7f000001/', why: 'loopback as one hex number', rule: 'address' },
  { url: 'http://0x7f.0.0.1/', why: 'loopback with a hex first part', rule: 'address' },
  { url: 'http://127.1/', why: 'loopback in short form', rule: 'address' },
  { url: 'http://127.0.0.1.:8080/admin', why: 'loopback with a trailing dot and a port', rule: 'address' },
  { url: 'http://user:secret@127.0.0.1/', why: 'loopback behind URL credentials', rule: 'address' },
  { url: 'http://[::1]/', why: 'IPv6 loopback', rule: 'address' },
  { url: 'http://[::ffff:127.0.0.1]/', why: 'IPv4-mapped IPv6 loopback, dotted', rule: 'address' },
  { url: 'http://[::ffff:7f00:1]/', why: 'IPv4-mapped IPv6 loopback, hex', rule: 'address' },
  { url: 'http://[::7f00:1]/', why: 'IPv4-compatible IPv6 (deprecated ::/96)', rule: 'address' },
  { url: 'http://[64:ff9b::7f00:1]/', why: 'NAT64 (RFC 6052) wrapping loopback', rule: 'address' },
  { url: 'http://[2002:7f00:1::]/', why: '6to4 wrapping loopback', rule: 'address' },
  { url: 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', why: 'Teredo wrapper', rule: 'address' },
  // link-local and cloud metadata
  { url: 'http://169.254.169.254/latest/meta-data/', why: 'link-local cloud metadata (AWS, GCP, Azure)', rule: 'address' },
  { url: 'http://[fd00:ec2::254]/latest/meta-data/', why: 'AWS IPv6 metadata (unique-local)', rule: 'address' },
  { url: 'http://[fe80::1]/', why: 'IPv6 link-local', rule: 'address' },
  { url: 'http://100.100.100.200/latest/meta-data/', why: 'Alibaba metadata (carrier-grade NAT range)', rule: 'address' },
  { url: 'http://metadata.google.internal/computeMetadata/v1/', why: 'GCP metadata name', rule: 'name' },
  { url: 'http://METADATA.google.internal./', why: 'GCP metadata name, upper case with trailing dot', rule: 'name' },
  { url: 'http://metadata/', why: 'short metadata name', rule: 'name' },
  { url: 'http://localhost/', why: 'localhost name', rule: 'name' },
  { url: 'http://app.localhost:3000/', why: 'RFC 6761 *.localhost name', rule: 'name' },
  // private, shared, special-purpose
  { url: 'http://10.0.0.1/', why: 'private 10/8', rule: 'address' },
  { url: 'https://10.0.0.1:8443/', why: 'private 10/8 over https', rule: 'address' },
  { url: 'http://172.16.0.1/', why: 'private 172.16/12', rule: 'address' },
  { url: 'http://192.168.1.1/', why: 'private 192.168/16', rule: 'address' },
  { url: 'http://[fc00::1]/', why: 'IPv6 unique-local', rule: 'address' },
  { url: 'http://[fec0::1]/', why: 'IPv6 deprecated site-local', rule: 'address' },
  { url: 'http://100.64.0.1/', why: 'carrier-grade NAT', rule: 'address' },
  { url: 'http://0.0.0.0/', why: 'unspecified IPv4', rule: 'address' },
  { url: 'http://0/', why: 'unspecified IPv4 as one number', rule: 'address' },
  { url: 'http://0.1.2.3/', why: '0.0.0.0/8 ("this network")', rule: 'address' },
  { url: 'http://[::]/', why: 'unspecified IPv6', rule: 'address' },
  { url: 'http://224.0.0.1/', why: 'IPv4 multicast', rule: 'address' },
  { url: 'http://[ff02::1]/', why: 'IPv6 multicast', rule: 'address' },
  { url: 'http://255.255.255.255/', why: 'broadcast', rule: 'address' },
  { url: 'http://198.18.0.1/', why: 'benchmarking (reserved)', rule: 'address' },
  { url: 'http://240.0.0.1/', why: 'class E (reserved)', rule: 'address' },
  // names that resolve somewhere private
  { url: 'http://internal.evil.test/', why: 'public name resolving to a private address', rule: 'address' },
  { url: 'http://rebind.evil.test/', why: 'name with one public and one loopback address', rule: 'address' },
  { url: 'http://loop6.evil.test/', why: 'name resolving to IPv6 loopback', rule: 'address' },
  { url: 'http://mapped.evil.test/', why: 'name resolving to IPv4-mapped metadata address', rule: 'address' },
  { url: 'http://cgnat.evil.test/', why: 'name resolving to carrier-grade NAT', rule: 'address' },
  // schemes
  { url: 'file:///etc/passwd', why: 'file scheme', rule: 'scheme' },
  { url: 'ftp://public.test/', why: 'ftp scheme', rule: 'scheme' },
  { url: 'gopher://public.test:70/_GET', why: 'gopher scheme', rule: 'scheme' },
  { url: 'data:text/plain,hello', why: 'data scheme', rule: 'scheme' },
  { url: 'javascript:alert(1)', why: 'javascript scheme', rule: 'scheme' },
  { url: 'ws://public.test/', why: 'websocket scheme', rule: 'scheme' },
  // permission: everything above is permitted by name, these are not
  { url: 'http://not-permitted.test/', why: 'public host missing from permissions.hosts', rule: 'permission' },
  { url: 'http://public.test:8080/', why: 'permitted host on a port the entry does not name', rule: 'permission' },
  { url: 'http://example.com/', why: 'apex of a *.example.com wildcard', rule: 'permission' },
];

/**
 * permissions.hosts under which only the address rule refuses the non-permission entries.
 * `public.test:80` and `public.test:443` (rather than `public.test`) keep `:8080` out.
 */
export const corpusPermittedHosts: string[] = [
  ...new Set(refusedTargets
    .filter((t) => t.rule === 'address' || t.rule === 'name')
    .map((t) => new URL(t.url).hostname)),
  'public.test:80', 'public.test:443', 'public6.test', 'dual.test', '*.example.com', '93.184.216.34',
];

export interface AllowedTarget {
  url: string;
  why: string;
  /** The address the client must connect to. */
  address: string;
  /** Where the request goes, when it differs from `url` (mapped hosts). */
  connectUrl?: string;
}

export const allowedTargets: AllowedTarget[] = [
  { url: 'http://public.test/', why: 'public name', address: '93.184.216.34' },
  { url: 'https://public.test/path?q=1', why: 'public name over https', address: '93.184.216.34' },
  { url: 'http://PUBLIC.test./', why: 'upper case with a trailing dot', address: '93.184.216.34' },
  { url: 'http://user:pw@public.test/', why: 'credentials pass through', address: '93.184.216.34' },
  { url: 'http://public6.test/', why: 'public IPv6 name', address: '2606:2800:220:1:248:1893:25c8:1946' },
  { url: 'http://dual.test/', why: 'public v4 and v6 addresses', address: '93.184.216.34' },
  { url: 'http://93.184.216.34/', why: 'public IPv4 literal', address: '93.184.216.34' },
  {
    url: 'https://api.example.com/v1/items?x=1', why: 'mapped host (not subject to the address rule)',
    address: '127.0.0.1', connectUrl: 'http://127.0.0.1:9/stub/v1/items?x=1',
  },
];
