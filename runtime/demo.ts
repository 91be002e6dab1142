// The `demo` workspace that `npm start` (`plughost serve --demo`) seeds on an empty store:
// every example plugin published and installed, and a to-do form with records for the
// Zengine tutorial to read.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host } from './host.ts';
import { readPackageDirectory } from './packages/pack.ts';

export const examplesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples');

/** Seeds the demo workspace unless it exists; returns true when it seeded. */
export async function seedDemo(host: Host, progress: (line: string) => void = () => {}): Promise<boolean> {
  if (await host.store.workspaces.get('demo')) return false;
  await host.workspaces.create({ id: 'demo', name: 'Demo workspace', timezone: 'UTC' });
  const folders = fs.readdirSync(examplesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(examplesDir, d.name, 'plugin.json')))
    .map((d) => d.name).sort();
  for (const folder of folders) {
    const { manifest, files } = await readPackageDirectory(path.join(examplesDir, folder));
    if (!(await host.store.pluginVersions.get(manifest.name, manifest.version))) await host.registry.publishFiles(manifest, files);
    const required = Object.entries(manifest.iparams).filter(([, spec]) => spec.required && spec.default === undefined);
    const iparams = Object.fromEntries(required.map(([name, spec]) => [name, spec.type === 'number' ? 0 : `demo-${name}`]));
    await host.installations.install('demo', { plugin: manifest.name, iparams });
    progress(`installed example ${manifest.name}@${manifest.version} at /workspaces/demo/${manifest.namespace}`);
  }
  const form = await host.store.data.createForm('demo', 'To do');
  for (const name of ['Frontend Interface', 'Backend API', 'Documentation']) {
    await host.store.data.createRecord('demo', form.id, { name, folderId: 0, fields: {} }, host.clock.now());
  }
  progress(`created form ${form.id} "To do" with 3 records`);
  return true;
}
