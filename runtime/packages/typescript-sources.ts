// TypeScript plugin sources: at `dev`, `pack`, `validate` and `publish`, each `*.ts` of a plugin
// folder (not `.d.ts`, not under node_modules/ or test/) becomes the `*.js` the isolate runs,
// its types stripped by Node (erasable syntax only, as Node runs TypeScript itself: no enums,
// namespaces or parameter properties). The code stays as written otherwise, so plugin code in
// TypeScript is CommonJS like the JavaScript kind (`exports.run = …`, `require('./lib')`).
// The manifest's references to a converted file (`"main": "plugin.ts"`) are rewritten with it.
import module from 'node:module';
import { PlughostError } from '../errors.ts';
import type { PackageFiles } from './archive.ts';

const SOURCE = /^(?!.*(?:^|\/)(?:node_modules|test)\/).*(?<!\.d)\.ts$/;
const MANIFESTS = ['plugin.json', 'manifest.json'];

/** Node's type stripping, without its one-time "experimental" warning on the author's terminal. */
function strip(code: string): string {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(typeof warning === 'string' ? warning : warning.message).includes('stripTypeScriptTypes')) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return module.stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    process.emitWarning = emit;
  }
}

/** The folder's files with its TypeScript sources as JavaScript; unchanged when it has none. */
export function compileTypeScriptSources(files: PackageFiles): PackageFiles {
  const sources = [...files.keys()].filter((p) => SOURCE.test(p));
  if (sources.length === 0) return files;
  const out: PackageFiles = new Map(files);
  const renamed = new Map<string, string>();
  for (const source of sources) {
    const target = source.replace(/\.ts$/, '.js');
    if (files.has(target)) {
      throw new PlughostError('INVALID_MANIFEST', `${source} and ${target} are both in the folder; keep one (the .ts becomes ${target} when packed)`, { details: [{ path: source, message: `${target} exists too` }] });
    }
    let code: string;
    try {
      code = strip(Buffer.from(files.get(source)!).toString('utf8'));
    } catch (err) {
      throw new PlughostError('INVALID_MANIFEST', `${source}: ${(err as Error).message.split('\n')[0]} (plugin TypeScript must be erasable syntax: types only, no enums or namespaces)`, { details: [{ path: source, message: (err as Error).message.split('\n')[0]! }] });
    }
    out.delete(source);
    out.set(target, new Uint8Array(Buffer.from(code)));
    renamed.set(source, target);
  }
  for (const name of MANIFESTS) {
    const bytes = out.get(name);
    if (!bytes) continue;
    let text = Buffer.from(bytes).toString('utf8');
    for (const [from, to] of renamed) {
      text = text.split(JSON.stringify(from)).join(JSON.stringify(to)).split(JSON.stringify(`./${from}`)).join(JSON.stringify(`./${to}`));
    }
    out.set(name, new Uint8Array(Buffer.from(text)));
  }
  return out;
}
