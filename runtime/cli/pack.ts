// `plughost pack [dir]`: writes the .tar.gz that `plughost publish` would upload, after the
// same check (`plughost validate`), and prints where and how big. The archive never goes
// inside the plugin folder, where the next pack or publish would take it in.
import fs from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { isInside } from '../dev/dev-tools.ts';
import { packDirectory } from '../packages/pack.ts';
import { checkOrExplain, identityFor, kindName, withIdentityOptions, type IdentityFlags } from './validate.ts';

/** The real path `file` would have (its folder's symlinks resolved), for the inside-the-folder check. */
function realTarget(file: string): string {
  let dir = path.dirname(file);
  const rest = [path.basename(file)];
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) { rest.unshift(path.basename(dir)); dir = path.dirname(dir); }
  return path.join(fs.realpathSync(dir), ...rest);
}

export function packCommand(program: Command): void {
  withIdentityOptions(program.command('pack [dir]'))
    .description('check a plugin folder and write the .tar.gz that publish would upload')
    .option('--out <file>', 'where to write it (default: <name>-<version>.tar.gz in the current folder, or beside the plugin folder when you are inside it)')
    .action(async (dir: string | undefined, flags: IdentityFlags & { out?: string }) => {
      const folder = dir ?? '.';
      const identity = identityFor(folder, flags);
      process.stderr.write(`checking ${folder}…\n`);
      const checked = await checkOrExplain(folder, identity, process.stderr);
      const m = checked.manifest;
      const root = fs.realpathSync(folder);
      const file = `${m.name}-${m.version}.tar.gz`;
      const out = path.resolve(flags.out ?? (isInside(realTarget(path.resolve(file)), root) ? path.join(path.dirname(root), file) : file));
      if (isInside(realTarget(out), root)) {
        throw new Error(`--out ${flags.out}: that is inside the plugin folder, and the next pack or publish would take the archive in; write it outside ${folder}`);
      }
      process.stderr.write(`packing ${m.name}@${m.version} (${kindName(checked.kind)})…\n`);
      const bytes = await packDirectory(folder, identity);
      await mkdir(path.dirname(out), { recursive: true });
      await writeFile(out, bytes);
      process.stdout.write(`${out} (${bytes.byteLength} bytes)\n`);
      // FDK and Haplo manifests say less than plughost's: the upload names what they do not.
      if (checked.kind !== 'plughost') {
        const query = new URLSearchParams({ name: m.name, version: m.version, namespace: m.namespace });
        process.stderr.write(`upload it as publish does, naming what the ${kindName(checked.kind)}'s manifest does not: POST /api/v1/plugins?${query}\n`);
      }
    });
}
