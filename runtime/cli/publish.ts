// `plughost publish <dir>`: checks a plugin folder as `plughost validate` does, packs it as
// `plughost pack` does and publishes it to a running host. A Freshworks FDK app
// (manifest.json, no plugin.json) is published as it is: its name defaults to the folder's,
// its version to 1.0.0 and its namespace to the name.
import type { Command } from 'commander';
import { packDirectory } from '../packages/pack.ts';
import { call, withClientOptions, type ClientOptions } from './client.ts';
import { checkOrExplain, identityFor, kindName, withIdentityOptions, type IdentityFlags } from './validate.ts';

export function publishCommand(program: Command): void {
  withIdentityOptions(withClientOptions(program.command('publish <dir>')))
    .description('validate, pack and publish a plugin folder (plugin.json, or an FDK app\'s manifest.json, at its root)')
    .action(async (dir: string, opts: ClientOptions & IdentityFlags) => {
      const identity = identityFor(dir, opts);
      process.stderr.write(`checking ${dir}…\n`);
      const checked = await checkOrExplain(dir, identity, process.stderr);
      const m = checked.manifest;
      // FDK and Haplo manifests say less than plughost's: the server is told what was chosen here.
      const named = checked.kind !== 'plughost';
      process.stderr.write(`packing ${m.name}@${m.version}${named ? ` (${kindName(checked.kind)})` : ''}…\n`);
      const bytes = await packDirectory(dir, identity);
      process.stderr.write(`uploading ${bytes.length} bytes to ${opts.url}…\n`);
      const query = named ? `?${new URLSearchParams({ name: m.name, version: m.version, namespace: m.namespace })}` : '';
      const result = await call(opts, 'POST', `/api/v1/plugins${query}`, { bytes, type: 'application/gzip' });
      process.stdout.write(`published ${result.name}@${result.version}\n`);
    });
}
