// An FDK app's manifest `dependencies`, installed into its package on the author's side (as
// `fdk pack` does): npm installs them once per set of versions into a cache folder, and their
// files join the package under `server/node_modules`, where server.js's `require` finds them.
// Plugin code has no Node built-ins, so a dependency that requires one (`http`, `net`, …) is
// refused here, by name, rather than failing at load in the isolate.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PlughostError } from '../errors.ts';
import type { PackageFiles } from './archive.ts';

const run = promisify(execFile);
const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/^node:/, '').split('/')[0]!));
// `require('x')` with a literal name, and `require('node:x')`.
const REQUIRE = /\brequire\(\s*['"](?:node:)?([^'"./][^'"]*)['"]\s*\)/g;
const TARGET = 'server/node_modules';

/** The app's `dependencies` from manifest.json, or undefined when it has none. */
export function manifestDependencies(files: PackageFiles): Record<string, string> | undefined {
  const bytes = files.get('manifest.json');
  if (!bytes) return undefined;
  try {
    const deps = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { dependencies?: unknown }).dependencies;
    if (deps === null || typeof deps !== 'object' || Array.isArray(deps) || Object.keys(deps).length === 0) return undefined;
    return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, String(v)]));
  } catch {
    return undefined; // the manifest's own check reports bad JSON
  }
}

/**
 * Adds the app's dependencies under server/node_modules (unless the app vendors that folder
 * itself). `cacheDir` keeps each installed set; by default under the user's cache folder.
 */
export async function withDependencies(files: PackageFiles, cacheDir = path.join(os.homedir(), '.cache', 'plughost', 'fdk-deps')): Promise<PackageFiles> {
  const deps = manifestDependencies(files);
  if (!deps || [...files.keys()].some((p) => p.startsWith(`${TARGET}/`))) return files;
  const key = createHash('sha256').update(JSON.stringify(Object.entries(deps).sort())).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir, key);
  if (!existsSync(path.join(dir, 'done'))) await install(deps, dir);
  const installed = await collect(path.join(dir, 'node_modules'));
  refuseBuiltins(installed, deps);
  const out = new Map(files);
  for (const [p, bytes] of installed) out.set(`${TARGET}/${p}`, bytes);
  return out;
}

async function install(deps: Record<string, string>, dir: string): Promise<void> {
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await writeFile(path.join(work, 'package.json'), JSON.stringify({ name: 'fdk-app-dependencies', private: true, dependencies: deps }));
  try {
    // No install scripts: what runs in the isolate is the packages' files, nothing they build.
    await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--install-links', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], { cwd: work, timeout: 300_000 });
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    const detail = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-3).join(' ');
    throw new PlughostError('INVALID_MANIFEST', `installing the manifest's dependencies (${Object.keys(deps).join(', ')}) failed: ${detail}`, { cause: err });
  }
  await writeFile(path.join(work, 'done'), '');
  await rm(dir, { recursive: true, force: true });
  await rename(work, dir);
}

async function collect(root: string, rel = '', out: PackageFiles = new Map()): Promise<PackageFiles> {
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.name === '.bin' || entry.name.startsWith('.package-lock')) continue;
    if (entry.isDirectory()) await collect(root, p, out);
    else if (entry.isFile()) out.set(p, new Uint8Array(await readFile(path.join(root, p))));
  }
  return out;
}

/** The installed package a file belongs to: `request`, `@scope/name`. */
function packageOf(p: string): string {
  const parts = p.split('/');
  const i = parts.lastIndexOf('node_modules');
  const from = i >= 0 ? parts.slice(i + 1) : parts;
  return from[0]!.startsWith('@') ? `${from[0]}/${from[1]}` : from[0]!;
}

function refuseBuiltins(installed: PackageFiles, deps: Record<string, string>): void {
  // What each installed package requires of Node, and what it depends on (npm's flat layout).
  const needs = new Map<string, Set<string>>();
  const dependsOn = new Map<string, string[]>();
  for (const [p, bytes] of installed) {
    const pkg = packageOf(p);
    if (p === `${pkg}/package.json`) {
      try {
        dependsOn.set(pkg, Object.keys((JSON.parse(Buffer.from(bytes).toString('utf8')) as { dependencies?: object }).dependencies ?? {}));
      } catch { /* a broken package.json requires nothing */ }
    }
    if (!p.endsWith('.js') && !p.endsWith('.cjs')) continue;
    for (const [, name] of Buffer.from(bytes).toString('utf8').matchAll(REQUIRE)) {
      const base = name!.split('/')[0]!;
      if (!BUILTINS.has(base)) continue;
      if (!needs.has(pkg)) needs.set(pkg, new Set());
      needs.get(pkg)!.add(base);
    }
  }
  // Each direct dependency, with the built-ins it and everything under it require.
  const problems: Array<{ dep: string; builtins: string[]; through: string[] }> = [];
  for (const dep of Object.keys(deps)) {
    const seen = new Set<string>();
    const stack = [dep];
    const builtins = new Set<string>();
    const through: string[] = [];
    while (stack.length > 0) {
      const pkg = stack.pop()!;
      if (seen.has(pkg)) continue;
      seen.add(pkg);
      const wanted = needs.get(pkg);
      if (wanted) {
        for (const b of wanted) builtins.add(b);
        if (pkg !== dep) through.push(pkg);
      }
      stack.push(...(dependsOn.get(pkg) ?? []));
    }
    if (builtins.size > 0) problems.push({ dep, builtins: [...builtins].sort(), through: through.sort() });
  }
  if (problems.length === 0) return;
  const said = problems.map((x) => `${x.dep} needs ${x.builtins.slice(0, 8).join(', ')}${x.builtins.length > 8 ? ', …' : ''}${x.through.length ? ` (through ${x.through.slice(0, 3).join(', ')}${x.through.length > 3 ? `, ${x.through.length - 3} more` : ''})` : ''}`);
  throw new PlughostError('INVALID_MANIFEST',
    `manifest.json dependencies need Node built-ins, which plugin code does not have: ${said.join('; ')}. Replace ${problems.map((x) => x.dep).join(', ')} with fetch or $request, or vendor a pure-JS package under server/node_modules.`,
    { details: problems.map((x) => ({ path: `manifest.json dependencies.${x.dep}`, message: `requires Node's ${x.builtins.join(', ')}` })) });
}
