// The plugin registry: publishing a package (validated, immutable per version) and reading
// what is published.
import type { HostEvents } from './events.ts';
import { loadPackage, type ArchiveKind } from './packages/archive.ts';
import type { PackageIdentity } from './packages/fdk.ts';
import type { PackageFiles } from './sandbox/types.ts';
import type { PageRequest } from './store/page.ts';
import type { Store } from './store/store.ts';

export function createRegistry(deps: { store: Store; events: HostEvents; now: () => number }) {
  const { store, events, now } = deps;
  const publishFiles = async (manifest: Awaited<ReturnType<typeof loadPackage>>['manifest'], files: PackageFiles) => {
    let size = 0;
    for (const bytes of files.values()) size += bytes.length;
    await store.pluginVersions.insert({ name: manifest.name, version: manifest.version, manifest, sizeBytes: size, createdAt: now() }, files);
    events.emit('plugin:published', { name: manifest.name, version: manifest.version });
    return { name: manifest.name, version: manifest.version, namespace: manifest.namespace, displayName: manifest.displayName };
  };
  return {
    /** Publishes a .zip or .tar.gz; the whole package is checked before anything is stored. `identity` names an FDK app. */
    async publish(bytes: Uint8Array, kind?: ArchiveKind, identity?: PackageIdentity) {
      const { manifest, files } = await loadPackage(bytes, kind, identity);
      return publishFiles(manifest, files);
    },
    publishFiles,
    list: (page: PageRequest) => store.pluginVersions.list(page),
    async versions(name: string) {
      const versions = await store.pluginVersions.versions(name);
      return versions.map((v) => ({ name: v.name, version: v.version, manifest: v.manifest, sizeBytes: v.sizeBytes, createdAt: new Date(v.createdAt).toISOString() }));
    },
  };
}
export type Registry = ReturnType<typeof createRegistry>;
