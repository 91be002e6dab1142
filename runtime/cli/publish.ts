// `plughost publish <dir>`: packs a plugin folder and publishes it to a running host. A
// Freshworks FDK app (manifest.json, no plugin.json) is published as it is: its name defaults
// to the folder's, its version to 1.0.0 and its namespace to the name.
import path from 'node:path';
import type { Command } from 'commander';
import { isFdkApp, sanitizedName, type PackageIdentity } from '../packages/fdk.ts';
import { packDirectory, readPackageDirectory } from '../packages/pack.ts';
import { call, withClientOptions, type ClientOptions } from './client.ts';

interface PublishOptions extends ClientOptions { name?: string; version?: string; namespace?: string }

export function publishCommand(program: Command): void {
  withClientOptions(program.command('publish <dir>'))
    .description('validate, pack and publish a plugin folder (plugin.json, or an FDK app\'s manifest.json, at its root)')
    .option('--name <name>', 'plugin name for an FDK app (default: the folder name)')
    .option('--version <version>', 'version for an FDK app (default: 1.0.0)')
    .option('--namespace <namespace>', 'namespace for an FDK app (default: the name)')
    .action(async (dir: string, opts: PublishOptions) => {
      process.stderr.write(`checking ${dir}…\n`);
      const probe = await readPackageDirectory(dir, identityFor(dir, opts));
      // FDK and Haplo manifests say less than plughost's: the server is told what was chosen here.
      const fdk = isFdkApp(probe.files);
      const named = fdk || probe.manifest.haplo !== undefined;
      const identity = named ? { name: probe.manifest.name, version: probe.manifest.version, namespace: probe.manifest.namespace } : {};
      process.stderr.write(`packing ${probe.manifest.name}@${probe.manifest.version}${fdk ? ' (FDK app)' : probe.manifest.haplo ? ' (Haplo plugin)' : ''}…\n`);
      const bytes = await packDirectory(dir, identity);
      process.stderr.write(`uploading ${bytes.length} bytes to ${opts.url}…\n`);
      const query = named ? `?${new URLSearchParams(identity as Record<string, string>)}` : '';
      const result = await call(opts, 'POST', `/api/v1/plugins${query}`, { bytes, type: 'application/gzip' });
      process.stdout.write(`published ${result.name}@${result.version}\n`);
    });
}

function identityFor(dir: string, opts: PublishOptions): PackageIdentity {
  return { fallbackName: sanitizedName(path.basename(path.resolve(dir))), ...(opts.name ? { name: opts.name } : {}), ...(opts.version ? { version: opts.version } : {}), ...(opts.namespace ? { namespace: opts.namespace } : {}) };
}
