// `plughost publish <dir>`: packs a plugin folder and publishes it to a running host.
import type { Command } from 'commander';
import { packDirectory, readPackageDirectory } from '../packages/pack.ts';
import { call, withClientOptions, type ClientOptions } from './client.ts';

export function publishCommand(program: Command): void {
  withClientOptions(program.command('publish <dir>'))
    .description('validate, pack and publish a plugin folder (plugin.json at its root)')
    .action(async (dir: string, opts: ClientOptions) => {
      process.stderr.write(`checking ${dir}…\n`);
      const { manifest } = await readPackageDirectory(dir);
      process.stderr.write(`packing ${manifest.name}@${manifest.version}…\n`);
      const bytes = await packDirectory(dir);
      process.stderr.write(`uploading ${bytes.length} bytes to ${opts.url}…\n`);
      const result = await call(opts, 'POST', '/api/v1/plugins', { bytes, type: 'application/gzip' });
      process.stdout.write(`published ${result.name}@${result.version}\n`);
    });
}
