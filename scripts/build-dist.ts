// `npm pack`'s prepack step: compiles the TypeScript the package runs (runtime/, sdk/) to
// JavaScript with .d.ts files under dist/, and copies beside it what the code reads as files
// (the guest glue, the init templates, the demo's examples). Node does not strip types under
// node_modules, so an installed plughost runs dist/; the repository itself runs the .ts as it is.
//   node scripts/build-dist.ts          (postpack removes dist/ again: node scripts/build-dist.ts --clean)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);

process.stderr.write('plughost: compiling runtime/ and sdk/ to dist/…\n');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
const copies: Array<[string, (file: string) => boolean]> = [
  ['runtime/sandbox/guest', (f) => f.endsWith('.js')],
  ['sdk/templates', () => true],
  // The demo seeds the examples' plugins; their tests stay in the repository.
  ['examples', (f) => !f.split(path.sep).some((part) => part === 'node_modules' || part === 'test')],
];
for (const [dir, keep] of copies) {
  fs.cpSync(path.join(root, dir), path.join(dist, dir), { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || keep(path.relative(root, src)) });
}
process.stderr.write(`plughost: dist/ ready\n`);
