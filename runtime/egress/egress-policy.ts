// Egress policy: decides whether a plugin may reach a URL and, if so, which address the
// client must connect to. Two gates: the plugin's own `permissions.hosts` (by name), then
// the operator's address rule (no private, loopback, link-local, ... unless `--egress-allow`
// says so). The address that passed the check is returned so that the client can pin it.
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { PlughostError } from '../errors.ts';

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

export interface EgressPolicyOptions {
  /** Operator's --egress-allow: hostnames (`*.corp.test` too), IPs or CIDRs allowed although private. */
  allow: string[];
  /** Operator's --egress-map: hostname (or host:port) -> base URL that receives its traffic. */
  map: Record<string, string>;
  /** Injected DNS for tests; default: node:dns lookup with {all: true}. */
  lookup?: Lookup;
}

export interface EgressTarget {
  /** The URL the plugin asked for (after WHATWG normalisation). */
  originalUrl: URL;
  /** Where the request really goes: the original URL, or the mapped base URL + path + query. */
  connectUrl: URL;
  /** The vetted address to connect to (IPv6 without brackets). */
  address: string;
  family: 4 | 6;
  mapped: boolean;
}

export interface EgressPolicy {
  /** Resolves the target, or throws PlughostError EGRESS_DENIED (or EGRESS_FAILED when DNS fails). */
  check(url: string, permittedHosts: readonly string[]): Promise<EgressTarget>;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];
type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Names refused before any DNS: RFC 6761 loopback names and cloud metadata endpoints. These
 * must not depend on what the resolver says (off-cloud, metadata names just fail to resolve,
 * which would turn a denial into a misleading connection error).
 */
const reservedNames = new Set([
  'localhost', 'metadata', 'metadata.google.internal', 'metadata.goog',
  'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal',
]);

// 2000::/3 is the only IPv6 block allocated as global unicast; ipaddr.js calls anything it has
// no name for "unicast", which would let IPv4-compatible ::a.b.c.d and unassigned space pass.
const globalUnicastV6 = ipaddr.IPv6.parseCIDR('2000::/3');

function denied(message: string, details: Record<string, unknown>): PlughostError {
  return new PlughostError('EGRESS_DENIED', message, { details });
}

/** `Example.COM.` -> `example.com`; `[::1]` stays bracketed, the form URL.hostname uses. */
function normaliseHostname(hostname: string): string {
  return hostname.toLowerCase().replace(/\.+$/, '');
}

function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** `any`: the entry `*`, any host (a Haplo plugin with pHTTPClient); every other rule still applies. */
interface HostPattern { host: string; wildcard: boolean; port: string | undefined; any?: boolean }

/**
 * Parses a permissions.hosts or allow entry: `host`, `host:port`, `*.host`, `[v6]:port`, a bare
 * IPv6 literal, or (leniently, as Freshworks manifests write them) `https://host`. The host is
 * normalised through URL so that `127.1` or `Bücher.de` compare equal to what requests carry.
 */
function parseHostPattern(entry: string): HostPattern | undefined {
  let text = entry.trim();
  if (text === '*') return { host: '*', wildcard: false, port: undefined, any: true };
  const schemeAt = text.indexOf('://');
  if (schemeAt >= 0) text = text.slice(schemeAt + 3).split('/')[0] ?? '';
  const wildcard = text.startsWith('*.');
  if (wildcard) text = text.slice(2);
  if (!text.startsWith('[') && ipaddr.IPv6.isValid(text)) text = `[${text}]`;
  // The port is split off by hand: URL drops default ports, and `host:80` must still mean port 80 only.
  const parts = /^(\[[^\]]*\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!parts || !URL.canParse(`http://${parts[1]}`)) return undefined;
  const port = parts[2] === undefined ? undefined : String(Number(parts[2]));
  return { host: normaliseHostname(new URL(`http://${parts[1]}`).hostname), wildcard, port };
}

function matchesPattern(pattern: HostPattern, host: string, port: string): boolean {
  if (pattern.any) return true;
  if (pattern.port !== undefined && pattern.port !== port) return false;
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/** Range name when the address is not plain global unicast, else undefined. */
function nonGlobalRange(addr: Addr): string | undefined {
  const range = addr.range();
  if (range !== 'unicast') return range;
  if (addr.kind() === 'ipv6' && !addr.match(globalUnicastV6)) return 'not global unicast';
  return undefined;
}

function cidrCovers(cidr: Cidr, addr: Addr): boolean {
  const [net, bits] = cidr;
  if (net.kind() === addr.kind()) return addr.match(cidr);
  // An IPv4 allow entry also covers the same address written as IPv4-mapped IPv6, and back.
  if (net.kind() === 'ipv6' && addr.kind() === 'ipv4') return (addr as ipaddr.IPv4).toIPv4MappedAddress().match(net, bits);
  return false;
}

const readableRange: Record<string, string> = {
  loopback: 'a loopback', private: 'a private', linkLocal: 'a link-local', uniqueLocal: 'a unique-local',
  unspecified: 'an unspecified', multicast: 'a multicast', broadcast: 'a broadcast',
  carrierGradeNat: 'a carrier-grade NAT', rfc6052: 'a NAT64-wrapped', '6to4': 'a 6to4-wrapped',
  teredo: 'a Teredo-wrapped',
};

async function defaultLookup(hostname: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
  const found = await dnsLookup(hostname, { all: true, order: 'verbatim' });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

function literalAddress(host: string): { address: string; family: 4 | 6 } | undefined {
  const bare = unbracket(host);
  if (!ipaddr.isValid(bare)) return undefined;
  return { address: bare, family: ipaddr.parse(bare).kind() === 'ipv6' ? 6 : 4 };
}

export function createEgressPolicy(options: EgressPolicyOptions): EgressPolicy {
  const lookup = options.lookup ?? defaultLookup;
  const allowCidrs: Cidr[] = [];
  const allowNames: HostPattern[] = [];
  for (const raw of options.allow) {
    const entry = unbracket(raw.trim());
    if (entry === '') continue;
    if (entry.includes('/')) {
      if (!ipaddr.isValidCIDR(entry)) throw badOption('--egress-allow', raw, 'not a valid CIDR');
      allowCidrs.push(ipaddr.parseCIDR(entry));
    } else if (ipaddr.isValid(entry)) {
      const addr = ipaddr.process(entry);
      allowCidrs.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else {
      const pattern = parseHostPattern(entry);
      if (!pattern || pattern.any) throw badOption('--egress-allow', raw, 'not a hostname, IP or CIDR');
      allowNames.push({ ...pattern, port: undefined });
    }
  }
  const map = new Map<string, URL>();
  for (const [key, base] of Object.entries(options.map)) {
    if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
      throw badOption('--egress-map', `${key}=${base}`, 'the target is not an http(s) URL');
    }
    map.set(normaliseHostname(key), new URL(base));
  }

  async function resolve(host: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
    const literal = literalAddress(host);
    if (literal) return [literal];
    let found: Array<{ address: string; family: 4 | 6 }>;
    try {
      found = await lookup(host);
    } catch (err) {
      throw new PlughostError('EGRESS_FAILED', `cannot resolve host \`${host}\``, { cause: err, details: { rule: 'dns', host } });
    }
    if (found.length === 0) {
      throw new PlughostError('EGRESS_FAILED', `host \`${host}\` resolves to no address`, { details: { rule: 'dns', host } });
    }
    return found;
  }

  function mappedTarget(originalUrl: URL, base: URL): URL {
    const target = new URL(base.href);
    target.pathname = base.pathname.replace(/\/+$/, '') + originalUrl.pathname;
    target.search = originalUrl.search;
    return target;
  }

  return {
    async check(rawUrl, permittedHosts) {
      if (!URL.canParse(rawUrl)) throw denied(`\`${rawUrl}\` is not a valid absolute URL`, { rule: 'url', url: rawUrl });
      const originalUrl = new URL(rawUrl);
      if (originalUrl.protocol !== 'http:' && originalUrl.protocol !== 'https:') {
        throw denied(`scheme \`${originalUrl.protocol}\` is not allowed; plugins may only make http: and https: requests`,
          { rule: 'scheme', url: originalUrl.href });
      }
      const host = normaliseHostname(originalUrl.hostname);
      const port = defaultPort(originalUrl);
      const permitted = permittedHosts.some((entry) => {
        const pattern = parseHostPattern(entry);
        return pattern !== undefined && matchesPattern(pattern, host, port);
      });
      if (!permitted) {
        const shown = originalUrl.port ? `${host}:${originalUrl.port}` : host;
        throw denied(`host \`${shown}\` is not in the plugin's permissions.hosts; add it to plugin.json`,
          { rule: 'permission', host: shown });
      }

      // A mapped host goes where the operator pointed it. The operator chose that target (usually
      // a local stub), so the private-address rule does not apply to it; only the plugin's
      // permission for the original name, checked above, does.
      const base = (originalUrl.port ? map.get(`${host}:${originalUrl.port}`) : undefined) ?? map.get(host);
      if (base) {
        const connectUrl = mappedTarget(originalUrl, base);
        const found = await resolve(normaliseHostname(connectUrl.hostname));
        return { originalUrl, connectUrl, mapped: true, ...pinned(found) };
      }

      const allowedByName = allowNames.some((p) => matchesPattern(p, host, port));
      if (!allowedByName && (reservedNames.has(host) || host.endsWith('.localhost'))) {
        throw denied(`host \`${host}\` is a loopback or cloud-metadata name; plugins may not reach it ` +
          `unless the operator adds \`${host}\` to --egress-allow`, { rule: 'name', host });
      }
      const found = await resolve(host);
      if (!allowedByName) {
        for (const { address } of found) checkAddress(host, address);
      }
      return { originalUrl, connectUrl: new URL(originalUrl.href), mapped: false, ...pinned(found) };
    },
  };

  function checkAddress(host: string, address: string): void {
    if (!ipaddr.isValid(address)) {
      throw new PlughostError('EGRESS_FAILED', `resolver returned \`${address}\` for \`${host}\``, { details: { rule: 'dns', host } });
    }
    // process() unwraps IPv4-mapped IPv6 (::ffff:7f00:1 -> 127.0.0.1) so it meets the IPv4 rules.
    const addr = ipaddr.process(address);
    const range = nonGlobalRange(addr);
    if (range === undefined || allowCidrs.some((c) => cidrCovers(c, addr))) return;
    const what = readableRange[range] ?? `a reserved (${range})`;
    const via = literalAddress(host) ? '' : ` resolves to ${addr.toString()}, which`;
    throw denied(`host \`${host}\`${via} is ${what} address; plugins may not reach private, loopback or ` +
      `link-local addresses unless the operator allows it (--egress-allow ${addr.toString()})`,
      { rule: 'address', host, address: addr.toString(), range });
  }
}

/** The address the client must connect to: the first one, all of which passed the check. */
function pinned(found: Array<{ address: string; family: 4 | 6 }>): { address: string; family: 4 | 6 } {
  const first = found[0];
  if (!first) throw new PlughostError('EGRESS_FAILED', 'no address to connect to');
  return { address: unbracket(first.address), family: first.family };
}

function badOption(option: string, value: string, why: string): PlughostError {
  return new PlughostError('INVALID_BODY', `invalid option: ${option} entry \`${value}\` is ${why}`, { details: [{ option, value }] });
}
