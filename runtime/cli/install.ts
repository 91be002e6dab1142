// `plughost install <plugin> --workspace <ws>`: installs a published plugin into a workspace,
// saying on stderr what it is doing while the host loads it (and runs an app's onAppInstall).
import type { Command } from 'commander';
import { call, withClientOptions, type ClientOptions } from './client.ts';

interface InstallFlags extends ClientOptions { workspace: string; version?: string; iparam?: string[]; inactive?: boolean }

export function installCommand(program: Command): void {
  withClientOptions(program.command('install <plugin>'))
    .description('install a published plugin into a workspace')
    .requiredOption('--workspace <id>', 'workspace to install into')
    .option('--version <version>', 'plugin version (default: the newest)')
    .option('--iparam <name=value>', 'installation parameter (repeatable; value parsed as JSON when it can be)', (v: string, all: string[] = []) => [...all, v])
    .option('--inactive', 'install without activating')
    .action(async (plugin: string, flags: InstallFlags) => {
      const iparams: Record<string, unknown> = {};
      for (const pair of flags.iparam ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`--iparam ${pair}: expected name=value`);
        const raw = pair.slice(eq + 1);
        let value: unknown = raw;
        try { value = JSON.parse(raw); } catch { value = raw; }
        iparams[pair.slice(0, eq)] = value;
      }
      // An install loads the code and may run the app's onAppInstall, which can take its time limit.
      process.stderr.write(`installing ${plugin}${flags.version ? `@${flags.version}` : ' (newest version)'} into ${flags.workspace}…\n`);
      const result = await call(flags, 'POST', `/api/v1/workspaces/${encodeURIComponent(flags.workspace)}/installations`, {
        json: { plugin, ...(flags.version ? { version: flags.version } : {}), iparams, active: !flags.inactive },
      });
      process.stdout.write(`installed ${result.plugin}@${result.version} as ${result.id} (${result.active ? 'active' : 'inactive'})\n`);
      for (const r of result.routes ?? []) process.stdout.write(`  ${new URL(r.path, flags.url)}\n`);
      if (result.loadError) process.stderr.write(`its code failed to load: ${result.loadError.code}: ${String(result.loadError.message).split('\n')[0]}\n`);
    });
}
