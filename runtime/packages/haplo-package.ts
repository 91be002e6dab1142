// Haplo plugins as Haplo lays them out: a plugin.json with `pluginName`, `pluginVersion`,
// `displayName`, `apiVersion`, `load` (the files evaluated in order with `P`, `O`, `_` and
// `XDate` in scope), `respond` (the URL roots it answers), `privilegesRequired` and `depend`.
// It is read into the same manifest a plughost plugin.json gives. Haplo's version is a whole
// number, so `pluginVersion: 3` is version 3.0.0 unless the publisher names another; the
// namespace defaults to the plugin name.
import { PlughostError } from '../errors.ts';
import type { PackageFiles } from './archive.ts';
import type { PackageIdentity } from './fdk.ts';
import { parseManifest, type ManifestProblem, type PluginManifest } from './manifest.ts';

type Json = Record<string, unknown>;

/** A Haplo plugin.json is told apart from plughost's by its `pluginName`. */
export function isHaploManifest(raw: unknown): raw is Json {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && typeof (raw as Json).pluginName === 'string' && (raw as Json).name === undefined;
}

export function haploManifest(raw: Json, files: PackageFiles, identity: PackageIdentity = {}): PluginManifest {
  const problems: ManifestProblem[] = [];
  const load = Array.isArray(raw.load) ? raw.load : [];
  if (!Array.isArray(raw.load) || load.length === 0) problems.push({ path: 'load', message: 'must list the files to evaluate, such as ["js/my_plugin.js"]' });
  for (const [i, file] of load.entries()) {
    if (typeof file !== 'string' || !files.has(file)) problems.push({ path: `load[${i}]`, message: `names ${JSON.stringify(file)}, which is not in the package` });
  }
  const respond = Array.isArray(raw.respond) ? raw.respond : [];
  for (const [i, root] of respond.entries()) {
    if (typeof root !== 'string' || !/^\/(do|api)\/[A-Za-z0-9_-]+$/.test(root)) problems.push({ path: `respond[${i}]`, message: 'must be a root such as "/do/my-plugin" or "/api/my-plugin"' });
  }
  const version = identity.version ?? (Number.isInteger(raw.pluginVersion) && (raw.pluginVersion as number) >= 0 ? `${raw.pluginVersion}.0.0` : undefined);
  if (version === undefined) problems.push({ path: 'pluginVersion', message: 'must be a whole number, as Haplo numbers plugin versions (or give --version)' });
  if (problems.length > 0) failHaplo(problems);
  const name = identity.name ?? String(raw.pluginName);
  try {
    const manifest = parseManifest({
      name,
      version,
      namespace: identity.namespace ?? name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-'),
      ...(typeof raw.displayName === 'string' && raw.displayName.length > 0 ? { displayName: raw.displayName.slice(0, 100) } : {}),
      main: null,
    }, new Set(files.keys()));
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, 100) : []);
    const privileges = strings(raw.privilegesRequired);
    // Haplo's pHTTPClient lets a plugin call any host; the host's egress policy (no private
    // addresses unless --egress-allow, --egress-map) still applies to every request.
    const permissions = { ...manifest.permissions, hosts: privileges.includes('pHTTPClient') ? ['*'] : [] };
    // An installation's keychain is its `iparams.keychain` (write-only, like every undeclared iparam).
    return { ...manifest, permissions, openIparams: true, haplo: { pluginName: String(raw.pluginName), load: load as string[], respond: respond as string[], privileges, depend: strings(raw.depend) } };
  } catch (err) {
    if (err instanceof PlughostError && err.code === 'INVALID_MANIFEST') {
      failHaplo((err.details as ManifestProblem[]).map((p) => ({ path: p.path === 'name' ? 'pluginName' : p.path, message: p.message })));
    }
    throw err;
  }
}

function failHaplo(problems: ManifestProblem[]): never {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  throw new PlughostError('INVALID_MANIFEST', `the Haplo plugin.json has ${count}: ${problems.slice(0, 10).map((p) => `${p.path}: ${p.message}`).join('; ')}.`, { details: problems });
}
