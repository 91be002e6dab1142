// A plugin folder on disk: read it under the same rules as an uploaded package (for the dev
// server and test harness), or pack it as a .tar.gz for `plughost publish <dir>`.

import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { PlughostError } from '../errors.ts';
import {
  PACKAGE_MAX_FILE_BYTES, PACKAGE_MAX_PACKED_BYTES, PackageBudget, addFile, checkPackageTree, entryPath, manifestOf,
} from './archive.ts';
import type { LoadedPackage, PackageFiles } from './archive.ts';
import { isFdkApp, type PackageIdentity } from './fdk.ts';
import { withDependencies } from './fdk-dependencies.ts';
import { compileTypeScriptSources } from './typescript-sources.ts';

// A fixed time makes the same folder pack to the same bytes, wherever and whenever it is packed.
const PACKED_MTIME = new Date('2020-01-01T00:00:00Z');

function unreadable(what: string, err: unknown): PlughostError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PlughostError('INVALID_ARCHIVE', `Cannot read ${what} (${reason}); check that it exists and is readable.`, { cause: err });
}

function unsafe(path: string, reason: string): PlughostError {
  return new PlughostError('INVALID_ARCHIVE', `${JSON.stringify(path)} in the plugin folder ${reason}.`, { details: [{ path, message: reason }] });
}

/**
 * Whether a dotfile or folder is left out: VCS data anywhere, any dotfile at the root, and the
 * author's tooling under the root's node_modules (plughost and what it needs, as
 * `npm install plughost-<v>.tgz` leaves them): not code the plugin loads.
 */
function skipped(walk: Walk, name: string, rel: string, atRoot: boolean): boolean {
  return name === '.git' || (atRoot && name.startsWith('.')) || walk.tooling.has(rel);
}

interface Walk {
  root: string;
  files: PackageFiles;
  budget: PackageBudget;
  /** `node_modules/<name>` paths of the author's tooling, left out. */
  tooling: Set<string>;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // absent or not JSON: it says nothing
  }
}

/**
 * When the folder's package.json lists plughost: plughost under its node_modules and every
 * package plughost needs, found there (npm hoists them), with npm's own files. A package the
 * plugin vendors stays, unless plughost needs it too (then the plugin's copy is plughost's).
 */
async function toolingOf(root: string): Promise<Set<string>> {
  const pkg = await readJson(join(root, 'package.json'));
  const lists = (p: Record<string, unknown> | undefined, keys: string[]) => keys.flatMap((k) => Object.keys((p?.[k] ?? {}) as Record<string, unknown>));
  if (!lists(pkg, ['dependencies', 'devDependencies', 'optionalDependencies']).includes('plughost')) return new Set();
  const out = new Set(['node_modules/.bin', 'node_modules/.package-lock.json']);
  const queue = ['plughost'];
  while (queue.length > 0) {
    const name = queue.shift()!;
    const rel = `node_modules/${name}`;
    if (out.has(rel)) continue;
    const manifest = await readJson(join(root, rel, 'package.json'));
    if (!manifest) continue;
    out.add(rel);
    queue.push(...lists(manifest, ['dependencies', 'optionalDependencies', 'peerDependencies']));
  }
  return out;
}

async function follow(walk: Walk, full: string, rel: string): Promise<{ real: string; stats: Stats }> {
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    throw unsafe(rel, `is a symbolic link to something that does not exist (${err instanceof Error ? err.message : String(err)}); remove it`);
  }
  if (real !== walk.root && !real.startsWith(walk.root + sep)) {
    throw unsafe(rel, `is a symbolic link to ${real}, outside the plugin folder; copy what it points to into the folder instead`);
  }
  return { real, stats: await stat(real) };
}

async function walkFolder(walk: Walk, dir: string, prefix: string, ancestors: ReadonlySet<string>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw unreadable(`folder ${dir}`, err);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const dirent of entries) {
    const rel = prefix === '' ? dirent.name : `${prefix}/${dirent.name}`;
    if (skipped(walk, dirent.name, rel, prefix === '')) continue;
    const path = entryPath(rel);
    const full = join(dir, dirent.name);
    const target = dirent.isSymbolicLink() ? await follow(walk, full, rel) : { real: full, stats: await stat(full) };
    walk.budget.claimEntry();
    if (target.stats.isDirectory()) {
      // Symlinks inside the folder may point back up it; each real folder is entered once per branch.
      if (ancestors.has(target.real)) throw unsafe(rel, 'is a symbolic link that loops back to a folder above it; remove it');
      await walkFolder(walk, target.real, path, new Set([...ancestors, target.real]));
    } else if (target.stats.isFile()) {
      // Refuse a huge file before reading it into memory; the read length is counted again below.
      if (target.stats.size > PACKAGE_MAX_FILE_BYTES) walk.budget.claimBytes(path, target.stats.size, 0);
      const data = new Uint8Array(await readFile(target.real));
      walk.budget.claimBytes(path, data.byteLength, data.byteLength);
      addFile(walk.files, rel, path, data);
    } else {
      throw unsafe(rel, 'is a socket, FIFO or device; packages may hold only regular files and folders');
    }
  }
}

/**
 * Reads a plugin folder with the limits and path rules of an uploaded package. Left out:
 * `.git` folders anywhere, dotfiles at the root, and plughost with what it needs under the
 * root's node_modules when its package.json lists plughost. Kept: other `node_modules` (plugins
 * may vendor pure-JS packages) and symlinks whose targets stay inside the folder.
 */
export async function readPackageDirectory(dir: string, identity?: PackageIdentity): Promise<LoadedPackage> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('not a folder');
  } catch (err) {
    throw unreadable(`plugin folder ${dir}`, err);
  }
  const walk: Walk = { root, files: new Map(), budget: new PackageBudget(), tooling: await toolingOf(root) };
  await walkFolder(walk, root, '', new Set([root]));
  const files = compileTypeScriptSources(walk.files);
  checkPackageTree(files);
  const manifest = manifestOf(files, identity);
  // An FDK app's manifest dependencies join its package, as `fdk pack` adds them.
  return { manifest, files: isFdkApp(files) ? await withDependencies(files) : files };
}

/** Packs files as a deterministic .tar.gz: sorted paths, fixed times, no owners. */
export async function packFiles(files: PackageFiles): Promise<Uint8Array> {
  const tar = tarPack();
  const chunks: Buffer[] = [];
  const collected = pipeline(tar, createGzip({ level: 9 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  for (const path of [...files.keys()].sort()) {
    const data = files.get(path) ?? new Uint8Array();
    tar.entry({ name: path, size: data.byteLength, mode: 0o644, mtime: PACKED_MTIME, type: 'file', uid: 0, gid: 0 }, Buffer.from(data));
  }
  tar.finalize();
  await collected;
  return new Uint8Array(Buffer.concat(chunks));
}

/** Packs a plugin folder for `plughost publish`, checking its manifest first. */
export async function packDirectory(dir: string, identity?: PackageIdentity): Promise<Uint8Array> {
  const { files } = await readPackageDirectory(dir, identity);
  const packed = await packFiles(files);
  if (packed.byteLength > PACKAGE_MAX_PACKED_BYTES) {
    const size = (packed.byteLength / (1024 * 1024)).toFixed(1);
    throw new PlughostError('PACKAGE_TOO_LARGE', `The packed plugin is ${size} MiB; the limit is ${PACKAGE_MAX_PACKED_BYTES / (1024 * 1024)} MiB. Remove files the plugin does not need.`);
  }
  return packed;
}
