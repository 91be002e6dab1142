// plugin.json: the zod schema, the rules zod cannot express (unique routes, files that must
// exist), and the normalised manifest the rest of the host reads. Every problem is reported
// at once, by field path, so an author fixes a manifest in one round trip.

import { isIP } from 'node:net';
import * as z from 'zod';
import { PlughostError } from '../errors.ts';
import { IPARAM_TYPES, checkIparamValue } from './iparams.ts';
import type { IparamSpec } from './iparams.ts';

export type { IparamSpec } from './iparams.ts';

export const MANIFEST_MAX_BYTES = 64 * 1024;
export const RESERVED_NAMESPACES: readonly string[] = ['api', 'admin', 'do'];
const LIST_MAX = 100;

export type ServiceAccess = 'public' | 'signed' | 'token';

export interface PluginService {
  route: string;
  main: string;
  access: ServiceAccess;
}

export interface PluginManifest {
  name: string;
  version: string;
  namespace: string;
  displayName: string;
  services: PluginService[];
  /** Module with event handlers and top-level P.* calls; null when the plugin has no code. */
  main: string | null;
  events: Record<string, { handler: string }>;
  iparams: Record<string, IparamSpec>;
  permissions: { hosts: string[]; offlineAccess: boolean };
  limits: { timeoutMs: number; memoryMb: number };
  /** Server methods (Freshworks SMI): exported functions callable over HTTP, each with its own time limit. */
  functions: Record<string, { timeoutMs: number }>;
  /** Request templates (Freshworks config/requests.json) for `$request.invokeTemplate`. */
  requests: Record<string, RequestTemplate>;
  /**
   * Installation parameters beyond `iparams` are taken, each kept secure: an FDK app with a
   * custom installation page (config/iparams.html) declares none the host could read.
   */
  openIparams: boolean;
  /**
   * A Haplo-format plugin: its `load` files (evaluated in order with P, O, _ and XDate), the
   * `respond` roots, `privilegesRequired` and `depend` of its plugin.json. Absent otherwise.
   */
  haplo?: { pluginName: string; load: string[]; respond: string[]; privileges: string[]; depend: string[] };
}

export interface RequestTemplate {
  schema: { protocol: 'https' | 'http'; method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; host: string; path: string; headers: Record<string, string>; query: Record<string, string> };
  options: { maxAttempts: number; retryDelay: number };
}

export interface ManifestProblem {
  path: string;
  message: string;
}

const SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const IDENTIFIER_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Why a package-relative path is unsafe or malformed, or null when it is fine. */
export function pathProblem(path: string): string | null {
  if (path === '' || path.length > 1024) return 'must be a path of 1-1024 characters';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'contains a NUL or control character; rename it';
  if (path.includes('\\')) return "contains a backslash; separate folders with '/'";
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute; make it relative to the package root';
  const segments = path.split('/');
  if (segments.includes('..')) return "contains a '..' segment; paths must stay inside the package";
  if (segments.every((s) => s === '' || s === '.')) return 'names no file; give a path such as "lib/util.js"';
  return null;
}

/** The canonical form of a path that passed `pathProblem`: no '.', empty or trailing segments. */
export function normalizePackagePath(path: string): string {
  return path.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** Why an entry of permissions.hosts is not a host, `*.domain` wildcard or IP (with optional port). */
export function hostPatternProblem(value: string): string | null {
  if (value.includes('://')) return 'must be a host name without a scheme, such as "chat.example.com"';
  if (/[/?#@\s]/.test(value)) return 'must be a host name only, without a path, query, user name or spaces';
  if (isIP(value) !== 0) return null;
  const match = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return 'must be a host name or IP address, optionally followed by :port';
  const [, ipv6, host = '', port] = match;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return 'has a port outside 1-65535';
  if (ipv6 !== undefined) return isIP(ipv6) === 6 ? null : 'has brackets around something that is not an IPv6 address';
  if (isIP(host) === 4) return null;
  // A fully qualified name may end in one dot ("metadata.google.internal."); egress treats it as the same host.
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  const wildcard = labels[0] === '*';
  const named = wildcard ? labels.slice(1) : labels;
  if (host.length > 253 || named.length === 0 || !named.every((l) => LABEL_RE.test(l)) || /^\d+$/.test(named.at(-1) ?? '')) {
    return 'must be a host name such as "api.example.com", a wildcard such as "*.example.com", or an IP address';
  }
  if (wildcard && named.length < 2) return 'is a wildcard over a whole top-level domain; name the domain, such as "*.example.com"';
  return null;
}

function modulePath(files: ReadonlySet<string> | undefined) {
  return z.string().superRefine((value, ctx) => {
    const problem = pathProblem(value) ?? (value.endsWith('.js') ? null : 'must name a .js file, such as "plugin.js"');
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    else if (files !== undefined && !files.has(normalizePackagePath(value))) {
      ctx.addIssue({ code: 'custom', message: `names ${JSON.stringify(value)}, which is not in the package; add the file or fix the path` });
    }
  });
}

const iparamSpecSchema = z.strictObject({
  type: z.enum(IPARAM_TYPES),
  secure: z.boolean().default(false),
  required: z.boolean().default(false),
  default: z.unknown().optional(),
  options: z.array(z.union([z.string().max(200), z.number()])).min(1).max(LIST_MAX).optional(),
  displayName: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
}).superRefine((spec, ctx) => {
  const takesOptions = spec.type === 'dropdown' || spec.type === 'multiselect';
  if (takesOptions && spec.options === undefined) {
    ctx.addIssue({ code: 'custom', path: ['options'], message: `is required for a ${spec.type}; list the choices` });
  } else if (!takesOptions && spec.options !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['options'], message: 'only applies to dropdown and multiselect; remove it' });
  }
  if (spec.default === undefined) return;
  if (spec.secure) {
    ctx.addIssue({ code: 'custom', path: ['default'], message: 'cannot be set on a secure iparam, since the package is not secret; remove it' });
    return;
  }
  const problem = checkIparamValue(spec, spec.default);
  if (problem !== null) ctx.addIssue({ code: 'custom', path: ['default'], message: problem });
});

// FDK's config/requests.json: the host may carry `<%= iparam.x %>`; path, headers and query
// `<%= context.x %>` and `<%= encode(…) %>` as well.
const requestTemplateSchema = z.strictObject({
  schema: z.strictObject({
    protocol: z.enum(['https', 'http']).default('https'),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    host: z.string().min(1).max(260),
    path: z.string().max(2048).default('/'),
    headers: z.record(z.string().max(256), z.string().max(8192)).default({}),
    query: z.record(z.string().max(256), z.union([z.string().max(2048), z.number()]).transform(String)).default({}),
  }),
  options: z.strictObject({
    maxAttempts: z.number().int().min(1).max(5).default(1),
    retryDelay: z.number().int().min(0).max(5000).default(1000),
  }).prefault({}),
});

function manifestSchema(files: ReadonlySet<string> | undefined) {
  return z.looseObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"),
    version: z.string().max(64).regex(SEMVER_RE, 'must be a semantic version such as 1.0.0 or 1.2.3-beta.1'),
    namespace: z.string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit")
      .refine((ns) => !RESERVED_NAMESPACES.includes(ns), { message: 'is reserved by the host; choose another namespace' }),
    displayName: z.string().min(1).max(100).optional(),
    services: z.array(z.strictObject({
      route: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '_' or '-'"),
      // Zengine's draft source calls the service module plugin.js.
      main: modulePath(files).default('plugin.js'),
      access: z.enum(['public', 'signed', 'token']).default('public'),
    })).max(LIST_MAX).default([]),
    main: modulePath(files).nullable().optional(),
    events: z.record(
      z.string().max(64).regex(/^(on|after)[A-Z][A-Za-z]*$/, 'must be an event name such as onScheduledEvent'),
      z.strictObject({ handler: z.string().max(128).regex(IDENTIFIER_RE, 'must be a JavaScript identifier such as onScheduledEventHandler') }),
    ).default({}),
    iparams: z.record(
      z.string().max(64).regex(IDENTIFIER_RE, 'must be a JavaScript identifier such as chatToken'),
      iparamSpecSchema,
    ).default({}),
    permissions: z.strictObject({
      hosts: z.array(z.string().max(260).superRefine((value, ctx) => {
        const problem = hostPatternProblem(value);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      })).max(LIST_MAX).default([]),
      offlineAccess: z.boolean().default(false),
    }).prefault({}),
    limits: z.strictObject({
      timeoutMs: z.number().int().min(100).max(60_000).default(20_000),
      memoryMb: z.number().int().min(16).max(256).default(64),
    }).prefault({}),
    functions: z.record(
      z.string().max(128).regex(IDENTIFIER_RE, 'must be a JavaScript identifier such as getBookmarks'),
      z.strictObject({ timeoutMs: z.number().int().min(100).max(60_000).optional() }),
    ).default({}),
    requests: z.record(z.string().max(128).regex(IDENTIFIER_RE, 'must be a JavaScript identifier such as getTicket'), requestTemplateSchema).default({}),
    openIparams: z.boolean().default(false),
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER_RE.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

const EXPECTED: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false',
  object: 'an object', record: 'an object', array: 'a list',
};

// Zod's own messages name types ("expected int, received number"); these read as advice.
const describe: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} entries`;
      return issue.origin === 'string' ? `must be at most ${issue.maximum} characters` : `must be at most ${issue.maximum}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} ${issue.minimum === 1 ? 'entry' : 'entries'}`;
      return issue.origin === 'string' ? 'must not be empty' : `must be at least ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_key':
      return issue.issues[0]?.message;
    default:
      return undefined;
  }
};

function toProblems(issues: readonly z.core.$ZodIssue[]): ManifestProblem[] {
  return issues.flatMap((issue): ManifestProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'is not a known field; check its spelling or remove it' }));
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

/** Rules across fields, read from the raw object so they are reported beside schema problems. */
function crossFieldProblems(raw: Record<string, unknown>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, number>();
  const services = Array.isArray(raw.services) && raw.services.length <= LIST_MAX ? raw.services : [];
  services.forEach((service: unknown, i) => {
    const route: unknown = typeof service === 'object' && service !== null ? (service as Record<string, unknown>).route : undefined;
    if (typeof route !== 'string') return;
    // Route matching is case-insensitive, so "Digest" and "digest" would collide.
    const first = seen.get(route.toLowerCase());
    if (first === undefined) seen.set(route.toLowerCase(), i);
    else problems.push({ path: `services[${i}].route`, message: `repeats the route of services[${first}]; each route must be unique` });
  });
  for (const key of ['events', 'iparams', 'functions', 'requests'] as const) {
    const value = raw[key];
    if (typeof value !== 'object' || value === null) continue;
    if (Object.keys(value).length > LIST_MAX) problems.push({ path: key, message: `must have at most ${LIST_MAX} entries` });
    // zod drops a "__proto__" key without a word; say so rather than lose the entry.
    if (Object.hasOwn(value, '__proto__')) problems.push({ path: `${key}.__proto__`, message: 'is not a usable name; choose another' });
  }
  const hasEvents = typeof raw.events === 'object' && raw.events !== null && Object.keys(raw.events).length > 0;
  const hasServices = Array.isArray(raw.services) && raw.services.length > 0;
  if (hasEvents && !hasServices && (raw.main === undefined || raw.main === null)) {
    problems.push({ path: 'main', message: 'is needed to hold the event handlers; set main to the module that exports them' });
  }
  const hasFunctions = typeof raw.functions === 'object' && raw.functions !== null && Object.keys(raw.functions).length > 0;
  if (hasFunctions && !hasServices && (raw.main === undefined || raw.main === null)) {
    problems.push({ path: 'main', message: 'is needed to hold the server methods; set main to the module that exports them' });
  }
  if (hasFunctions && services.some((s: unknown) => typeof s === 'object' && s !== null && String((s as Record<string, unknown>).route).toLowerCase() === 'smi')) {
    problems.push({ path: 'services', message: 'has a route named "smi", the path server methods are called at; rename the route' });
  }
  return problems;
}

function fail(problems: ManifestProblem[]): never {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const shown = problems.slice(0, 10).map((p) => `${p.path}: ${p.message}`).join('; ');
  const more = problems.length > 10 ? `; and ${problems.length - 10} more (see details)` : '';
  throw new PlughostError('INVALID_MANIFEST', `plugin.json has ${count}: ${shown}${more}.`, { details: problems });
}

/**
 * Validates a parsed plugin.json and returns it with defaults filled in. When `files` is
 * given (the package's paths), every module plugin.json names must be among them.
 */
export function parseManifest(raw: unknown, files?: ReadonlySet<string>): PluginManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail([{ path: '(root)', message: 'must be a JSON object with at least name, version and namespace' }]);
  }
  const parsed = manifestSchema(files).safeParse(raw, { error: describe });
  const problems = [...(parsed.success ? [] : toProblems(parsed.error.issues)), ...crossFieldProblems(raw as Record<string, unknown>)];
  if (!parsed.success || problems.length > 0) fail(problems);
  const m = parsed.data;
  const services = m.services.map((s) => ({ route: s.route, main: normalizePackagePath(s.main), access: s.access }));
  const main = typeof m.main === 'string' ? normalizePackagePath(m.main) : services[0]?.main ?? null;
  // A defaulted `main` ("plugin.js") skips the schema's own check, so check the result here.
  if (files !== undefined) {
    const missing = services.map((s, i) => [`services[${i}].main`, s.main] as const).filter(([, p]) => !files.has(p));
    if (missing.length > 0) fail(missing.map(([path, p]) => ({ path, message: `names ${p}, which is not in the package` })));
  }
  return {
    name: m.name,
    version: m.version,
    namespace: m.namespace,
    displayName: m.displayName ?? m.name,
    services,
    main,
    events: m.events,
    iparams: m.iparams,
    permissions: { hosts: m.permissions.hosts.map((h) => h.toLowerCase()), offlineAccess: m.permissions.offlineAccess },
    limits: m.limits,
    functions: Object.fromEntries(Object.entries(m.functions).map(([name, f]) => [name, { timeoutMs: f.timeoutMs ?? m.limits.timeoutMs }])),
    requests: m.requests,
    openIparams: m.openIparams,
  };
}

/** Parses plugin.json as stored in a package: bounded in size, UTF-8, JSON. */
export function parseManifestFile(bytes: Uint8Array, files?: ReadonlySet<string>): PluginManifest {
  return parseManifest(readManifestJson(bytes), files);
}

/** plugin.json's JSON, bounded in size and strict UTF-8; what it says is checked by the caller. */
export function readManifestJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MANIFEST_MAX_BYTES) {
    fail([{ path: '(root)', message: `plugin.json is ${bytes.byteLength} bytes; keep it under ${MANIFEST_MAX_BYTES / 1024} KiB` }]);
  }
  let raw: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    raw = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PlughostError('INVALID_MANIFEST', `plugin.json is not valid UTF-8 JSON (${reason}); fix the syntax and try again.`, {
      cause: err,
      details: [{ path: '(root)', message: `is not valid JSON: ${reason}` }],
    });
  }
  return raw;
}
