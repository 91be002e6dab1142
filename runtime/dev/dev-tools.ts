// Pieces of the dev host that stand on their own: dev version numbers, a syntax check of a
// package before it is published, a folder watcher that survives editors' save-by-rename,
// and how a run is printed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { isPlughostError, PlughostError } from '../errors.ts';
import type { PackageFiles } from '../sandbox/types.ts';
import type { Run } from '../store/runs.ts';

/** `1.2.0` → `1.2.0-dev.3`; `1.2.0-beta.1` → `1.2.0-beta.1.dev.3`; build metadata kept. */
export function devVersion(version: string, n: number): string {
  const plus = version.indexOf('+');
  const core = plus < 0 ? version : version.slice(0, plus);
  const build = plus < 0 ? '' : version.slice(plus);
  return `${core}${core.includes('-') ? '.' : '-'}dev.${n}${build}`;
}

/** One run as the dev host and `plughost trigger` print it: a summary line, then its log indented. */
export function formatRun(run: Pick<Run, 'id' | 'kind' | 'trigger' | 'target' | 'status' | 'startedAt' | 'durationMs' | 'httpStatus' | 'log' | 'error'>): string {
  const http = run.httpStatus === null ? '' : ` HTTP ${run.httpStatus}`;
  const lines = [`${new Date(run.startedAt).toISOString()} ${run.kind} ${run.target} (${run.trigger}): ${run.status}${http} in ${run.durationMs ?? '?'} ms  [${run.id}]`];
  for (const l of run.log ? run.log.split('\n') : []) lines.push(`  | ${l}`);
  if (run.error && !run.log.includes(run.error.code)) lines.push(`  | ${run.error.code}: ${run.error.message}`);
  return lines.join('\n');
}

const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/** Parses every module and JSON file of the package without running it, for line-numbered syntax errors. */
export function checkSyntax(files: PackageFiles): void {
  for (const [file, bytes] of files) {
    if (file.startsWith('node_modules/') || file.includes('/node_modules/') || file === 'plugin.json') continue;
    const text = Buffer.from(bytes).toString('utf8');
    if (file.endsWith('.json')) {
      try { JSON.parse(text); } catch (err) {
        throw new PlughostError('PLUGIN_LOAD_ERROR', `${file}: ${(err as Error).message}`, { details: [{ path: file, message: (err as Error).message }] });
      }
      continue;
    }
    if (!/\.(js|cjs)$/.test(file)) continue;
    try {
      // The module wrapper the guest uses, on the first line so line numbers match the file's.
      new vm.Script(`${WRAPPER}${text}\n;return exports;\n})`, { filename: file });
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      // V8's stack starts "file:line", then the source line and a caret line.
      let [where, source, caret] = (err.stack ?? '').split('\n');
      if (source?.startsWith(WRAPPER) && caret !== undefined) {
        source = source.slice(WRAPPER.length);
        caret = caret.slice(WRAPPER.length);
      }
      const excerpt = source !== undefined && caret !== undefined && where?.startsWith(file) ? `\n    ${source.slice(0, 300)}\n    ${caret.slice(0, 300)}` : '';
      const location = where?.startsWith(file) ? where : file;
      throw new PlughostError('PLUGIN_LOAD_ERROR', `${location}: SyntaxError: ${err.message}${excerpt}`, { details: [{ path: location, message: err.message }] });
    }
  }
}

/**
 * Calls `onChange` with the changed path (relative to `root`) on every change under it.
 * macOS and Windows watch a tree natively. On Linux, Node's `recursive` option watches each
 * file by inode and goes deaf to a file once an editor saves it by writing a new file and
 * renaming it over the old one (vim, sed -i, many IDEs); there every folder is watched
 * instead, which sees those renames, and new folders are picked up as they appear.
 */
export function watchTree(root: string, onChange: (name: string) => void, onError: (err: Error) => void): () => void {
  if (process.platform === 'darwin' || process.platform === 'win32') {
    const w = fs.watch(root, { recursive: true }, (_event, name) => onChange(String(name ?? '')));
    w.on('error', onError);
    return () => w.close();
  }
  const watchers = new Map<string, fs.FSWatcher>();
  let closed = false;
  const add = (folder: string) => {
    if (closed || watchers.has(folder)) return;
    let w: fs.FSWatcher;
    try {
      w = fs.watch(folder, (event, name) => {
        if (event === 'rename') scan(folder);
        onChange(path.join(path.relative(root, folder), String(name ?? '')));
      });
    } catch (err) {
      if (folder === root) throw err;
      return; // gone already
    }
    w.on('error', (err) => {
      w.close();
      watchers.delete(folder);
      if (folder === root) onError(err);
    });
    watchers.set(folder, w);
    scan(folder);
  };
  /** Watches the sub-folders of `folder` not watched yet, and drops watchers of folders gone. */
  const scan = (folder: string) => {
    for (const [f, w] of watchers) if (f !== root && !fs.existsSync(f)) { w.close(); watchers.delete(f); }
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(folder, { withFileTypes: true }); } catch { return; }
    for (const e of entries) if (e.isDirectory() && e.name !== '.git') add(path.join(folder, e.name));
  };
  add(root);
  return () => {
    closed = true;
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

export function hashFiles(files: PackageFiles): string {
  const h = createHash('sha256');
  for (const p of [...files.keys()].sort()) {
    const bytes = files.get(p)!;
    h.update(`${p}\0${bytes.byteLength}\0`).update(bytes);
  }
  return h.digest('hex');
}

export function problemOf(err: unknown): { code: string; message: string; details?: unknown } {
  if (isPlughostError(err)) return { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) };
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}

export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
