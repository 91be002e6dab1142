// The plugin registry: one immutable row per published name and version, holding the
// validated manifest and the package's files.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import type { PluginManifest } from '../packages/manifest.ts';
import { isUniqueViolation } from './dialect.ts';
import { pageBy, type Page, type PageRequest } from './page.ts';

export type PackageFiles = Map<string, Uint8Array>;

export interface PluginVersion { name: string; version: string; manifest: PluginManifest; sizeBytes: number; createdAt: number }
export interface PluginSummary { name: string; latestVersion: string; displayName: string; versions: number }
// Manifests stored before server methods and request templates existed have neither.
const withDefaults = (m: PluginManifest): PluginManifest => ({ ...m, functions: m.functions ?? {}, requests: m.requests ?? {}, openIparams: m.openIparams ?? false });

interface Row { name: string; version: string; manifest: string; size_bytes: number; created_at: number; files?: string }

const toVersion = (r: Row): PluginVersion => ({
  name: r.name, version: r.version, manifest: withDefaults(JSON.parse(r.manifest) as PluginManifest), sizeBytes: Number(r.size_bytes), createdAt: Number(r.created_at),
});

export function encodeFiles(files: PackageFiles): string {
  const out: Record<string, string> = {};
  for (const [p, bytes] of files) out[p] = Buffer.from(bytes).toString('base64');
  return JSON.stringify(out);
}

export function decodeFiles(json: string): PackageFiles {
  const files: PackageFiles = new Map();
  for (const [p, b64] of Object.entries(JSON.parse(json) as Record<string, string>)) files.set(p, Buffer.from(b64, 'base64'));
  return files;
}

/** Compares semver versions: numbers numerically, pre-releases before releases and by their
 * dot-separated identifiers (numeric ones numerically, so "-dev.10" follows "-dev.9"). */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const plain = v.split('+', 1)[0]!;
    const dash = plain.indexOf('-');
    return { core: (dash < 0 ? plain : plain.slice(0, dash)).split('.').map(Number), pre: dash < 0 ? undefined : plain.slice(dash + 1).split('.') };
  };
  const x = split(a), y = split(b);
  for (let i = 0; i < 3; i++) if ((x.core[i] ?? 0) !== (y.core[i] ?? 0)) return (x.core[i] ?? 0) - (y.core[i] ?? 0);
  if (!x.pre || !y.pre) return x.pre ? -1 : y.pre ? 1 : 0;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i], q = y.pre[i];
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    const pn = /^\d+$/.test(p), qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

export function pluginVersionsTable(db: Knex) {
  return {
    async insert(v: PluginVersion, files: PackageFiles): Promise<void> {
      try {
        await db('plugin_versions').insert({
          name: v.name, version: v.version, manifest: JSON.stringify(v.manifest), files: encodeFiles(files),
          size_bytes: v.sizeBytes, created_at: v.createdAt,
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new PlughostError('VERSION_EXISTS', `${v.name}@${v.version} is already published; published versions are immutable, so bump "version" in plugin.json`, { cause: err });
        }
        throw err;
      }
    },
    async get(name: string, version: string): Promise<PluginVersion | undefined> {
      const row = await db('plugin_versions').select('name', 'version', 'manifest', 'size_bytes', 'created_at').where({ name, version }).first();
      return row ? toVersion(row) : undefined;
    },
    async files(name: string, version: string): Promise<PackageFiles> {
      const row = await db('plugin_versions').select('files').where({ name, version }).first();
      if (!row) throw new PlughostError('PLUGIN_NOT_FOUND', `no plugin ${name}@${version}`);
      return decodeFiles(row.files);
    },
    async versions(name: string): Promise<PluginVersion[]> {
      const rows: Row[] = await db('plugin_versions').select('name', 'version', 'manifest', 'size_bytes', 'created_at').where({ name });
      return rows.map(toVersion).sort((a, b) => compareVersions(b.version, a.version));
    },
    /** The newest version by version order; throws PLUGIN_NOT_FOUND when there is none. */
    async latest(name: string): Promise<PluginVersion> {
      const [newest] = await this.versions(name);
      if (!newest) throw new PlughostError('PLUGIN_NOT_FOUND', `no plugin named \`${name}\` is published; publish it first`);
      return newest;
    },
    async list(page: PageRequest): Promise<Page<PluginSummary>> {
      const names = db('plugin_versions').distinct('name');
      const result = await pageBy<{ name: string }, string>(names, 'name', page, (r) => r.name);
      const data: PluginSummary[] = [];
      for (const name of result.data) {
        const versions = await this.versions(name);
        data.push({ name, latestVersion: versions[0]!.version, displayName: versions[0]!.manifest.displayName, versions: versions.length });
      }
      return { data, nextCursor: result.nextCursor };
    },
  };
}
export type PluginVersionsTable = ReturnType<typeof pluginVersionsTable>;
