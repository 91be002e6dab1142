// The host under attack in the hostile bench: a real `plughost serve` process (the CLI entry,
// product defaults for every budget except the isolate memory budget the bench passes with
// `--limits isolateMemoryMb=…`, so the RSS check has a known budget), on a fresh temp SQLite
// data dir, listening on a free loopback port. Plugins are published and installed through
// its admin API, as an operator would. Its memory and CPU are read from /proc/<pid>.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packFiles } from '../../runtime/packages/pack.ts';
import { api as adminApi } from '../shutdown/fixtures/serve-process.ts';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'runtime/cli/plughost.ts');
const TOKEN = 'bench-hostile-operator-token-0123456789';
/** Kept of the host's output, for error messages (a flood must not grow the bench). */
const TAIL_BYTES = 16 * 1024;

export interface HostProcess {
  url: string;
  pid: number;
  /** Resolves when the process exits; `exitedWith` is then set. */
  exited: Promise<void>;
  exitedWith: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** The last few KiB of its stdout and stderr. */
  tail(): string;
  api(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Publishes an inline package (`{'plugin.json': {...}, 'go.js': '...'}`); throws unless 201. */
  publish(files: Record<string, string | object>): Promise<void>;
  /** Creates the workspace (if new) and installs `plugin` into it; throws unless 201. */
  install(workspaceId: string, plugin: string): Promise<void>;
  /** SIGTERM (a graceful stop, `drainSec` at most), SIGKILL after that; removes the data dir. */
  close(): Promise<void>;
}

export interface HostProcessOptions {
  isolateMemoryMb: number;
  /** Passed as --egress-map (host=base URL), e.g. loopback stubs. */
  egressMap?: Record<string, string>;
  /** --drain-timeout of the serve process (seconds). */
  drainSec?: number;
}

export async function startHostProcess(opts: HostProcessOptions): Promise<HostProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bench-hostile-'));
  const env: Record<string, string | undefined> = { ...process.env };
  // The product's defaults: nothing from the bench's own environment leaks in.
  for (const k of Object.keys(env)) if (k.startsWith('PLUGHOST_') || k === 'PORT' || k === 'DATABASE_URL' || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') delete env[k];
  const map = Object.entries(opts.egressMap ?? {}).map(([h, base]) => `${h}=${base}`).join(',');
  const args = [
    '--no-node-snapshot', cli, 'serve', '--port', '0', '--data', dataDir, '--operator-token', TOKEN,
    '--limits', `isolateMemoryMb=${opts.isolateMemoryMb}`, '--drain-timeout', String(opts.drainSec ?? 2),
    ...(map ? ['--egress-map', map] : []),
  ];
  const proc: ChildProcess = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const onData = (c: Buffer) => {
    out += c.toString();
    if (out.length > 2 * TAIL_BYTES) out = out.slice(-TAIL_BYTES);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exitedWith: HostProcess['exitedWith'] = null;
  const exited = new Promise<void>((resolve) => proc.once('exit', (code, signal) => { exitedWith = { code, signal }; resolve(); }));
  const tail = () => out.slice(-TAIL_BYTES);
  const removeDir = () => fs.rmSync(dataDir, { recursive: true, force: true });

  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`plughost serve did not listen within 60 s\n${tail()}`)), 60_000);
      const look = () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) { clearTimeout(timer); proc.stdout!.off('data', look); resolve(m[1]!.replace('localhost', '127.0.0.1')); }
      };
      proc.stdout!.on('data', look);
      void exited.then(() => { clearTimeout(timer); reject(new Error(`plughost serve exited (${JSON.stringify(exitedWith)}) before listening\n${tail()}`)); });
    });
  } catch (err) {
    if (!exitedWith) proc.kill('SIGKILL');
    await exited;
    removeDir();
    throw err;
  }

  const api: HostProcess['api'] = (method, p, body) => adminApi(url, TOKEN, method, p, body);
  const workspaces = new Set<string>();
  return {
    url, pid: proc.pid!, exited, tail,
    get exitedWith() { return exitedWith; },
    api,
    async publish(files) {
      const packed = new Map<string, Uint8Array>();
      for (const [name, content] of Object.entries(files)) packed.set(name, Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)));
      const res = await fetch(url + '/api/v1/plugins', {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' }, body: await packFiles(packed),
      });
      if (res.status !== 201) throw new Error(`publishing failed: ${res.status} ${await res.text()}`);
    },
    async install(workspaceId, plugin) {
      if (!workspaces.has(workspaceId)) {
        const ws = await api('POST', '/api/v1/workspaces', { id: workspaceId, name: workspaceId });
        if (ws.status !== 201) throw new Error(`creating workspace ${workspaceId} failed: ${ws.status} ${JSON.stringify(ws.body)}`);
        workspaces.add(workspaceId);
      }
      const inst = await api('POST', `/api/v1/workspaces/${workspaceId}/installations`, { plugin });
      if (inst.status !== 201) throw new Error(`installing ${plugin} into ${workspaceId} failed: ${inst.status} ${JSON.stringify(inst.body)}`);
    },
    async close() {
      if (!exitedWith) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => { if (!exitedWith) proc.kill('SIGKILL'); }, ((opts.drainSec ?? 2) + 8) * 1000);
        await exited;
        clearTimeout(killer);
      }
      removeDir();
    },
  };
}

/** Memory of a process from /proc/<pid>/status, MiB: resident now and its high-water mark. */
export function readMemory(pid: number): { rssMiB: number; hwmMiB: number } | null {
  let text: string;
  try { text = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return null; }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

let clockTicks: number | undefined;
/** CPU time (user + system, all threads: the isolates' too) a process has used so far, ms. */
export function readCpuMs(pid: number): number | null {
  clockTicks ??= (() => {
    try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
  })();
  let text: string;
  try { text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000;
}

/** Samples VmRSS every `everyMs` until stopped; `peakMiB` is the largest seen. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number; readonly peakMiB: number } {
  let peak = 0;
  const take = () => { const m = readMemory(pid); if (m && m.rssMiB > peak) peak = m.rssMiB; };
  take();
  const timer = setInterval(take, everyMs);
  return {
    get peakMiB() { return peak; },
    stop() { clearInterval(timer); take(); return peak; },
  };
}
