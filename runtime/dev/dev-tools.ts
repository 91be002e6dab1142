// Pieces of the dev host that stand on their own: dev version numbers, a syntax check of a
// package before it is published, a folder watcher that survives editors' save-by-rename,
// how a run and a time are printed (in the workspace's zone), and the clock's progress line.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import vm from 'node:vm';
import { isPlughostError, PlughostError } from '../errors.ts';
import type { PackageFiles } from '../sandbox/types.ts';
import { formatInZone, instantToWall } from '../schedule/zoned-time.ts';
import type { Run } from '../store/runs.ts';

/** `1.2.0` → `1.2.0-dev.3`; `1.2.0-beta.1` → `1.2.0-beta.1.dev.3`; build metadata kept. */
export function devVersion(version: string, n: number): string {
  const plus = version.indexOf('+');
  const core = plus < 0 ? version : version.slice(0, plus);
  const build = plus < 0 ? '' : version.slice(plus);
  return `${core}${core.includes('-') ? '.' : '-'}dev.${n}${build}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * `2026-06-11T06:00:00+02:00`: an instant as the wall time of `timeZone`, in whole seconds
 * (or milliseconds), with its offset, so that it reads as local time and parses back to it.
 */
export function formatInstant(instant: number, timeZone: string, milliseconds = false): string {
  const wall = instantToWall(instant, timeZone);
  const local = new Date(wall).toISOString().slice(0, milliseconds ? 23 : 19);
  const offset = Math.round((wall - instant) / 60_000);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

type PrintedRun = Pick<Run, 'id' | 'kind' | 'trigger' | 'target' | 'status' | 'startedAt' | 'durationMs' | 'httpStatus' | 'error'>;

/** A run's summary line, as the dev host, `plughost trigger` and `plughost runs` print it: its start in `timeZone`. */
export function runLine(run: PrintedRun, timeZone = 'UTC'): string {
  const http = run.httpStatus === null ? '' : ` HTTP ${run.httpStatus}`;
  return `${formatInstant(run.startedAt, timeZone)} ${run.kind} ${run.target} (${run.trigger}): ${run.status}${http} in ${run.durationMs ?? '?'} ms  [${run.id}]`;
}

// A captured log line starts with its UTC time (runtime/sandbox/run-log.ts); it is shown in the zone too.
const LOG_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)(?= \[)/;

/** One run with its log: the summary line, then the log indented (and the error when the log does not name it). */
export function formatRun(run: PrintedRun & Pick<Run, 'log'>, timeZone = 'UTC'): string {
  const lines = [runLine(run, timeZone)];
  for (const l of run.log ? run.log.split('\n') : []) {
    lines.push(`  | ${l.replace(LOG_TIME, (utc) => formatInstant(Date.parse(utc), timeZone, true))}`);
  }
  if (run.error && !run.log.includes(run.error.code)) lines.push(`  | ${run.error.code}: ${run.error.message}`);
  return lines.join('\n');
}

/** What a long clock move says while it works: `advanced to 2026-06-11 06:00 (Europe/Rome), 12 runs so far…`. */
export function clockProgressLine(now: number, timeZone: string, runs: number): string {
  return `advanced to ${formatInZone(now, timeZone).slice(0, 16)} (${timeZone}), ${runs} run${runs === 1 ? '' : 's'} so far…`;
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

/**
 * An NDJSON body: each `send` writes one line, in the order sent, as soon as its value is
 * known; `end()` ends the stream after the last. Lines for a client that went away are dropped.
 */
export function jsonLines(onError: (err: unknown) => void) {
  const stream = new PassThrough();
  let chain: Promise<void> = Promise.resolve();
  return {
    stream,
    send(value: () => unknown): void {
      chain = chain.then(async () => {
        const v = await value();
        if (!stream.destroyed) stream.write(`${JSON.stringify(v)}\n`);
      }).catch(onError);
    },
    end(): void {
      void chain.then(() => stream.end());
    },
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

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `1h`, `1h30m`, `2d`, `250ms` → milliseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim()) {
    throw new Error(`${JSON.stringify(text)} is not a duration; write e.g. 90s, 30m, 1h, 1h30m or 2d`);
  }
  const ms = Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0));
  if (ms <= 0) throw new Error(`${JSON.stringify(text)} is not a positive duration`);
  return ms;
}
