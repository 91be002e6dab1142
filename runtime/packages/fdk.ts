// Freshworks FDK apps as FDK lays them out: manifest.json (platform 2.x `product.<name>`, 3.x
// `modules.<name>`), server/server.js, config/iparams.json and config/requests.json. They are
// read into the same manifest a plugin.json gives, so the rest of the host sees one shape.
// FDK's manifest names no app, version or namespace: those come from the publisher (flags or
// query parameters), with the version defaulting to 1.0.0 and the namespace to the name.
import { PlughostError } from '../errors.ts';
import type { PackageFiles } from './archive.ts';
import { parseManifest, type ManifestProblem, type PluginManifest } from './manifest.ts';

/** What the publisher says of a package; `fallbackName` (a folder's name) names an FDK app given no name. */
export interface PackageIdentity { name?: string; version?: string; namespace?: string; fallbackName?: string }

const SERVER_MAIN = 'server/server.js';
// FDK's iparam types that plughost's differ from; the rest have the same name.
const IPARAM_TYPE: Record<string, string> = { radio: 'dropdown', api_key: 'text', domain: 'text' };

// `{event: 'onTicketCreate', callback: 'onTicketCreateHandler'}` (the callback may be the function itself, named).
const LEGACY_EVENT = /\bevent\s*:\s*['"]((?:on|after)[A-Z][A-Za-z]*)['"]\s*,\s*callback\s*:\s*['"]?([A-Za-z_$][\w$]*)['"]?/g;

export const isFdkApp = (files: PackageFiles): boolean => !files.has('plugin.json') && files.has('manifest.json');

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function readJson(files: PackageFiles, path: string, problems: ManifestProblem[]): Json | undefined {
  const bytes = files.get(path);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (isObject(value)) return value;
    problems.push({ path, message: 'must be a JSON object' });
  } catch (err) {
    problems.push({ path, message: `is not valid UTF-8 JSON: ${(err as Error).message}` });
  }
  return undefined;
}

/** The sections of manifest.json that carry events and functions: 2.x products, 3.x modules. */
function sections(manifest: Json, problems: ManifestProblem[]): Json[] {
  const version = String(manifest['platform-version'] ?? '');
  const key = version.startsWith('3.') ? 'modules' : version.startsWith('2.') ? 'product' : undefined;
  if (key === undefined) {
    problems.push({ path: 'manifest.json platform-version', message: `is ${JSON.stringify(manifest['platform-version'])}; plughost runs FDK platform 2.x and 3.x apps` });
    return [];
  }
  const holder = manifest[key];
  if (!isObject(holder)) return [];
  return Object.values(holder).filter(isObject);
}

function iparamsOf(raw: Json): Json {
  const out: Json = {};
  for (const [name, spec] of Object.entries(raw)) {
    if (!isObject(spec)) { out[name] = spec; continue; }
    const secure = spec.secure === true;
    const type = typeof spec.type === 'string' ? IPARAM_TYPE[spec.type] ?? spec.type : spec.type;
    out[name] = {
      type,
      secure,
      required: spec.required === true,
      ...(spec.default_value !== undefined && !secure ? { default: spec.default_value } : {}),
      ...(Array.isArray(spec.options) ? { options: spec.options } : {}),
      ...(typeof spec.display_name === 'string' ? { displayName: spec.display_name.slice(0, 200) } : {}),
      ...(typeof spec.description === 'string' ? { description: spec.description.slice(0, 2000) } : {}),
    };
  }
  return out;
}

/** 2.x `whitelisted-domains` are URLs ("https://*.example.com"); permissions.hosts wants host names. */
function hostsOf(domains: unknown, problems: ManifestProblem[]): string[] {
  if (!Array.isArray(domains)) return [];
  const hosts: string[] = [];
  for (const d of domains) {
    if (typeof d !== 'string') continue;
    if (d.includes('<%')) {
      problems.push({ path: 'manifest.json whitelisted-domains', message: `${JSON.stringify(d)} is a template; plughost needs the host named, or a request template in config/requests.json` });
      continue;
    }
    hosts.push(d.replace(/^[a-z]+:\/\//i, '').replace(/[/?#].*$/, ''));
  }
  return hosts;
}

function requestsOf(raw: Json | undefined, problems: ManifestProblem[]): Json {
  const out: Json = {};
  for (const [name, t] of Object.entries(raw ?? {})) {
    if (!isObject(t)) { out[name] = t; continue; }
    const options = isObject(t.options) ? t.options : {};
    for (const key of ['oauth', 'isOAuth']) {
      if (options[key] !== undefined && options[key] !== false) {
        problems.push({ path: `config/requests.json ${name}.options.${key}`, message: 'OAuth request templates are not supported by plughost; send the token in a header from an iparam' });
      }
    }
    const { oauth: _oauth, isOAuth: _isOAuth, ...kept } = options;
    out[name] = { schema: t.schema, options: kept };
  }
  return out;
}

/** A plugin name made from a folder or app name: lowercase, within the manifest rules. */
export function sanitizedName(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64) || 'fdk-app';
}

/** Reads an FDK app's manifest and config into plughost's manifest, reporting every problem at once. */
export function fdkManifest(files: PackageFiles, identity: PackageIdentity = {}): PluginManifest {
  const problems: ManifestProblem[] = [];
  const manifest = readJson(files, 'manifest.json', problems) ?? {};
  const iparams = readJson(files, 'config/iparams.json', problems);
  const requests = readJson(files, 'config/requests.json', problems);
  const events: Json = {};
  const functions: Json = {};
  const declaredRequests = new Set<string>();
  for (const section of sections(manifest, problems)) {
    if (isObject(section.events)) Object.assign(events, section.events);
    if (isObject(section.functions)) {
      for (const [name, f] of Object.entries(section.functions)) {
        const seconds = isObject(f) && typeof f.timeout === 'number' ? f.timeout : undefined;
        functions[name] = seconds === undefined ? {} : { timeoutMs: Math.round(seconds * 1000) };
      }
    }
    if (isObject(section.requests)) for (const name of Object.keys(section.requests)) declaredRequests.add(name);
  }
  // The older form names handlers in server.js itself: `exports = {events: [{event, callback}], …}`.
  const server = files.get(SERVER_MAIN);
  if (server) {
    for (const [, event, callback] of Buffer.from(server).toString('utf8').matchAll(LEGACY_EVENT)) {
      if (!Object.hasOwn(events, event!)) events[event!] = { handler: callback };
    }
  }
  const templates = requestsOf(requests, problems);
  const hosts = hostsOf(manifest['whitelisted-domains'], problems);
  for (const name of declaredRequests) {
    if (!requests || !Object.hasOwn(requests, name)) problems.push({ path: `manifest.json requests.${name}`, message: 'names a request template that config/requests.json does not define' });
  }
  const name = identity.name ?? identity.fallbackName;
  if (!name) problems.push({ path: 'name', message: 'is not in an FDK manifest; give it when publishing (--name, or ?name= on POST /api/v1/plugins)' });
  if (problems.length > 0) failFdk(problems);
  const hasMain = files.has(SERVER_MAIN);
  if (!hasMain && (Object.keys(events).length > 0 || Object.keys(functions).length > 0)) {
    failFdk([{ path: SERVER_MAIN, message: 'is missing, but manifest.json declares events or functions it must export' }]);
  }
  try {
    return parseManifest({
      name,
      version: identity.version ?? '1.0.0',
      namespace: identity.namespace ?? sanitizedName(name!).replace(/\./g, '-'),
      main: hasMain ? SERVER_MAIN : null,
      events,
      functions,
      iparams: iparamsOf(iparams ?? {}),
      requests: templates,
      permissions: { hosts },
      // A custom installation page sets parameters the host cannot learn: any are taken, kept secure.
      openIparams: files.has('config/iparams.html') && !iparams,
    }, new Set(files.keys()));
  } catch (err) {
    // The problems name plughost's fields; say that they came from the FDK app's files.
    if (err instanceof PlughostError && err.code === 'INVALID_MANIFEST') {
      failFdk((err.details as ManifestProblem[]).map((p) => ({ path: fdkPath(p.path), message: p.message })));
    }
    throw err;
  }
}

/** Where a field of the translated manifest came from in the FDK app. */
function fdkPath(path: string): string {
  if (path.startsWith('iparams')) return `config/iparams.json${path.slice('iparams'.length)}`;
  if (path.startsWith('requests')) return `config/requests.json${path.slice('requests'.length)}`;
  if (path.startsWith('events') || path.startsWith('functions')) return `manifest.json ${path}`;
  if (path.startsWith('permissions.hosts')) return `manifest.json whitelisted-domains${path.slice('permissions.hosts'.length)}`;
  return path;
}

function failFdk(problems: ManifestProblem[]): never {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const shown = problems.slice(0, 10).map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new PlughostError('INVALID_MANIFEST', `the FDK app has ${count}: ${shown}${problems.length > 10 ? `; and ${problems.length - 10} more (see details)` : ''}.`, { details: problems });
}
