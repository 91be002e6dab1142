// The dev host behind `plughost dev <dir>`: a whole host with the production limits, on a
// virtual clock that follows real time, serving one plugin folder in a `dev` workspace.
// Each save re-publishes the folder as `<version>-dev.<n>` (published versions are
// immutable) and upgrades the installation; a save whose manifest, syntax or top-level code
// is broken is reported and the previous version keeps running. `POST /api/v1/dev/clock`
// (operator only, mounted here and never in the production app) moves the clock, stepping
// through every due time so that each occurrence fires as it would have; asked for
// `application/x-ndjson`, it answers one line per run as each finishes, progress lines and a
// final summary, flushed as they happen. Times are printed in the run's workspace zone.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { bearerOf } from './auth.ts';
import { createVirtualClock, type VirtualClock } from './clock.ts';
import type { Lookup } from './egress/index.ts';
import { PlughostError } from './errors.ts';
import { createHost, type Host } from './host.ts';
import { jsonBody, validate } from './http/body.ts';
import { parseInstant } from './http/routes/triggers.ts';
import { errorMiddleware } from './http/error-middleware.ts';
import { newToken } from './ids.ts';
import { createLogger, type Logger } from './logger.ts';
import { resolveOptions, type HostOptions } from './options.ts';
import { sanitizedName } from './packages/fdk.ts';
import { validateIparams } from './packages/iparams.ts';
import type { PluginManifest } from './packages/manifest.ts';
import { readPackageDirectory } from './packages/pack.ts';
import { devPage, type DevPageState } from './dev/dev-page.ts';
import { checkSyntax, clockProgressLine, devVersion, formatInstant, formatRun, hashFiles, isInside, jsonLines, problemOf, watchTree } from './dev/dev-tools.ts';
import type { PackageFiles, SandboxPlugin } from './sandbox/types.ts';
import type { Installation } from './store/installations.ts';
import type { Run } from './store/runs.ts';
import { isTimeZone } from './workspaces.ts';

export interface DevServerOptions {
  /** The plugin folder (plugin.json at its root). */
  dir: string;
  /** HTTP port (default 3000; 0 for any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1: the dev host prints its operator token). */
  listenHost?: string;
  /** Data directory; default a temporary one, removed on close. Must be outside `dir`. */
  dataDir?: string;
  /** PostgreSQL instead of SQLite, and its schema (the test suite runs on both). */
  databaseUrl?: string;
  schema?: string;
  workspace?: string;
  /** IANA zone of the dev workspace when it is created (default UTC). */
  timezone?: string;
  /** Installation parameters, given again on every reload. */
  iparams?: Record<string, unknown>;
  /** Default: a new random one, printed at start. */
  operatorToken?: string;
  egressAllow?: string[];
  egressMap?: Record<string, string>;
  lookup?: Lookup;
  /** Where the virtual clock starts (epoch ms; default now). */
  startAt?: number;
  /** How often the virtual clock catches up with real time (ms; default 1000; 0: never). */
  tickMs?: number;
  /** Least real time between two progress reports of a clock move (ms; default 1000; 0: after every due time). */
  progressMs?: number;
  /** Quiet time after the last change before reloading (ms; default 50). */
  debounceMs?: number;
  /** Watch the folder (default true). */
  watch?: boolean;
  logger?: Logger;
  /** Receives every line the dev host prints (URLs, reloads, runs). */
  print?: (line: string) => void;
}

export type ReloadResult =
  | { status: 'reloaded'; plugin: string; version: string; installationId: string; urls: string[]; onScheduledEvent: string | null; hooks: string[];
      /** Freshworks server methods, each as the URL it is called at; other events the app handles. */
      functions: string[]; events: string[]; durationMs: number }
  | { status: 'failed'; error: { code: string; message: string; details?: unknown }; running: string | null; durationMs: number }
  | { status: 'unchanged'; running: string | null; durationMs: number };

export interface DevEventMap {
  reload: [result: ReloadResult];
  /** Every run of the host as it finishes. */
  run: [run: Run];
  clock: [info: { now: number }];
}

export interface ClockMove { advance?: number | undefined; set?: number | undefined }

/** Where a long clock move stands: the virtual time reached, its target, and the runs so far. */
export interface ClockProgress { now: number; target: number; runs: number }

/** What a caller of a clock move hears while it goes: each run as it finishes, and progress at most every `progressMs`. */
export interface ClockWatch { onRun?: (run: Run) => void; onProgress?: (progress: ClockProgress) => void }

export { devVersion, formatInstant, formatRun, runLine, watchTree } from './dev/dev-tools.ts';

const DAY = 86_400_000;
const clockInput = z.object({
  advance: z.number().int().positive().max(366 * DAY).optional(),
  set: z.string().max(40).refine((s) => parseInstant(s) !== undefined, 'must be an ISO date-time with a zone, such as 2026-06-10T07:00:00Z').optional(),
}).strict().refine((v) => (v.advance === undefined) !== (v.set === undefined), 'give exactly one of `advance` (ms) and `set` (ISO date-time)');

export async function startDevServer(options: DevServerOptions) {
  const dir = path.resolve(options.dir);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a folder');
  } catch (err) {
    throw new PlughostError('INVALID_ARCHIVE', `cannot serve ${options.dir}: ${(err as Error).message}; give the folder that holds plugin.json`);
  }
  if (options.timezone !== undefined && !isTimeZone(options.timezone)) {
    throw new PlughostError('INVALID_BODY', `${options.timezone} is not an IANA time zone; use one such as Europe/Rome or UTC`);
  }
  if (options.dataDir && isInside(path.resolve(options.dataDir), dir)) {
    throw new PlughostError('INVALID_BODY', `the data directory ${options.dataDir} is inside the plugin folder; it would be packed into the plugin. Choose one outside it`);
  }
  const print = options.print ?? (() => {});
  const events = new EventEmitter<DevEventMap>();
  const workspaceId = options.workspace ?? 'dev';
  const operatorToken = options.operatorToken ?? newToken('pho');
  const tempData = options.dataDir === undefined;
  // Options are checked (a short token, a bad port) before a temporary directory exists.
  const raw = { operatorToken, port: options.port ?? 3000, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) };
  resolveOptions({ ...raw, data: options.dataDir ?? os.tmpdir() }, {});
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-dev-'));
  const hostOptions: HostOptions = { ...resolveOptions({ ...raw, data: dataDir }, {}), egressAllow: options.egressAllow ?? [], egressMap: options.egressMap ?? {} };
  const clock: VirtualClock = createVirtualClock(options.startAt ?? Date.now());
  const log = options.logger ?? createLogger('silent');

  let host: Host;
  try {
    host = await createHost(hostOptions, { clock, logger: log, ...(options.lookup ? { lookup: options.lookup } : {}), ...(options.schema ? { schema: options.schema } : {}) });
  } catch (err) {
    if (tempData) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  const cleanups: Array<() => Promise<void> | void> = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    while (cleanups.length) {
      try { await cleanups.pop()!(); } catch (err) { log.error({ err }, 'error while stopping the dev host'); }
    }
  };
  cleanups.push(async () => {
    await host.close();
    if (tempData) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  try {
    if (!(await host.store.workspaces.get(workspaceId))) {
      await host.workspaces.create({ id: workspaceId, name: 'Development', ...(options.timezone ? { timezone: options.timezone } : {}) });
    }
    // Times are printed in the zone of the run's workspace; a zone is fixed when its workspace is made.
    const devZone = (await host.store.workspaces.require(workspaceId)).timezone;
    const zones = new Map<string, string>([[workspaceId, devZone]]);
    const zoneOf = async (ws: string): Promise<string> => {
      let zone = zones.get(ws);
      if (zone === undefined) {
        zone = (await host.store.workspaces.get(ws))?.timezone ?? 'UTC';
        zones.set(ws, zone);
      }
      return zone;
    };
    // Runs are printed one after another, in the order they finished, each once its zone is known.
    let printing: Promise<unknown> = Promise.resolve();

    // ---- the virtual clock: moves one at a time, whether the ticker or the endpoint moves it
    let clockQueue: Promise<unknown> = Promise.resolve();
    const serially = <T>(fn: () => Promise<T>): Promise<T> => {
      const p = clockQueue.then(fn);
      clockQueue = p.catch(() => undefined);
      return p;
    };
    /** The earliest schedule or retry time in (now, target], if any. */
    const nextDue = async (target: number): Promise<number | undefined> => {
      const now = clock.now();
      const next = await host.store.occurrences.nextWake();
      const times = [next.schedule, next.pending, next.lease]
        .filter((t): t is number => t !== null && t > now && t <= target);
      return times.length ? Math.min(...times) : undefined;
    };
    /** Refuses a move backwards; checked again when the move's turn comes. */
    const checkMove = (move: ClockMove) => {
      if (move.set !== undefined && move.set < clock.now()) {
        throw new PlughostError('INVALID_BODY', `the clock only moves forward; it is ${new Date(clock.now()).toISOString()}`, { details: [{ path: 'set', message: 'is before the current virtual time' }] });
      }
    };
    const progressMs = options.progressMs ?? 1000;
    const moveClock = async (move: ClockMove, watch: ClockWatch = {}): Promise<{ now: number; runs: Run[] }> => {
      checkMove(move);
      return serially(async () => {
        checkMove(move);
        const target = move.set ?? clock.now() + (move.advance ?? 0);
        const runs: Run[] = [];
        const collect = (run: Run) => {
          runs.push(run);
          watch.onRun?.(run);
        };
        // Real time, not virtual: this only keeps a long move from going silent, or from flooding.
        let reported = performance.now();
        const progress = () => {
          if (performance.now() - reported < progressMs) return;
          reported = performance.now();
          const p = { now: clock.now(), target, runs: runs.length };
          print(clockProgressLine(p.now, devZone, p.runs));
          watch.onProgress?.(p);
        };
        host.events.on('run:finished', collect);
        try {
          await host.scheduler.idle(); // nothing in flight may outlive its lease while time jumps
          // Step through each due time so every occurrence fires at its time, not coalesced.
          for (let i = 0; i < 100_000; i++) {
            const next = await nextDue(target);
            if (next === undefined) break;
            await clock.set(next);
            await host.scheduler.wake();
            await host.scheduler.idle();
            progress();
          }
          await clock.set(target);
          await host.scheduler.wake();
          await host.scheduler.idle();
        } finally {
          host.events.off('run:finished', collect);
        }
        await printing; // the console shows every run of the move before the move is answered
        events.emit('clock', { now: clock.now() });
        return { now: clock.now(), runs };
      });
    };
    const tickMs = options.tickMs ?? 1000;
    if (tickMs > 0) {
      let lastReal = Date.now();
      const ticker = setInterval(() => {
        const real = Date.now();
        const elapsed = real - lastReal;
        lastReal = real;
        if (elapsed <= 0) return;
        void serially(async () => {
          await clock.advance(elapsed);
          events.emit('clock', { now: clock.now() });
        }).catch((err) => log.error({ err }, 'the virtual clock could not advance'));
      }, tickMs);
      ticker.unref();
      cleanups.push(() => clearInterval(ticker));
    }

    // ---- publishing and upgrading on each save
    let installationId: string | undefined;
    let running: { plugin: string; version: string; hash: string } | undefined;
    let lastAttempt: string | undefined;
    let devNumber = 0;
    let checks = 0;
    let url = '';

    const nextDevNumber = async (name: string, version: string) => {
      const prefix = devVersion(version, 0).replace(/0(\+.*)?$/, '');
      for (const v of await host.registry.versions(name)) {
        if (!v.version.startsWith(prefix)) continue;
        const n = Number(/^\d+/.exec(v.version.slice(prefix.length))?.[0]);
        if (Number.isInteger(n)) devNumber = Math.max(devNumber, n);
      }
      return ++devNumber;
    };

    /** Loads the code in a throwaway isolate under the plugin's limits; throws what a broken load would record. */
    const checkLoads = async (manifest: PluginManifest, files: PackageFiles, iparams: Record<string, unknown>) => {
      if (!manifest.main) return;
      const plugin: SandboxPlugin = {
        installationId: `${installationId ?? 'dev'}-check-${++checks}`, workspaceId, namespace: manifest.namespace,
        revision: `check:${checks}`, manifest, files, iparams,
      };
      try {
        // A hook nobody registers: loading runs the top-level code, the call itself does nothing.
        const outcome = await host.sandbox.invoke(plugin, { kind: 'hook', payload: { hook: 'plughost:dev-check', args: [], response: {} } });
        if (outcome.status !== 'succeeded') {
          const e = outcome.error ?? { code: 'PLUGIN_LOAD_ERROR', message: 'the plugin failed to load' };
          throw new PlughostError(e.code, e.message);
        }
      } finally {
        host.sandbox.evict(plugin.installationId);
      }
    };

    /** The installation to upgrade, after clearing the way for a renamed plugin or namespace. */
    const currentInstallation = async (manifest: PluginManifest): Promise<Installation | undefined> => {
      let current = installationId ? await host.store.installations.get(workspaceId, installationId) : undefined;
      const occupying = await host.store.installations.byNamespace(workspaceId, manifest.namespace);
      if (!current && occupying?.pluginName === manifest.name) current = occupying; // a restart on the same --data
      return current;
    };

    /** What the dev page shows as loaded. */
    let loadedNow: ReturnType<DevPageState['loaded']>;
    const reloadOnce = async (): Promise<ReloadResult> => {
      const started = performance.now();
      const ms = () => Math.round(performance.now() - started);
      const runningName = () => (running ? `${running.plugin}@${running.version}` : null);
      let hash: string | undefined;
      try {
        // An FDK app names no plugin: the folder does, as at publish.
        const { manifest, files } = await readPackageDirectory(dir, { fallbackName: sanitizedName(path.basename(path.resolve(dir))) });
        hash = hashFiles(files);
        if (hash === running?.hash || hash === lastAttempt) return { status: 'unchanged', running: runningName(), durationMs: ms() };
        lastAttempt = hash;
        checkSyntax(files);
        const current = await currentInstallation(manifest);
        const upgrade = current && current.pluginName === manifest.name && current.namespace === manifest.namespace ? current : undefined;
        // Check the installation parameters as install/upgrade will, before anything changes.
        const kept = upgrade ? (await host.installations.toSandboxPlugin(upgrade)).iparams : {};
        const declared = Object.fromEntries(Object.entries(kept).filter(([k]) => manifest.openIparams || Object.hasOwn(manifest.iparams, k)));
        const { plain, secure } = validateIparams(manifest, { ...declared, ...options.iparams }, {});
        await checkLoads(manifest, files, { ...plain, ...secure });
        // Only a save that loads gets a version: -dev.<n> is the n-th good save.
        const version = devVersion(manifest.version, await nextDevNumber(manifest.name, manifest.version));
        const devManifest: PluginManifest = { ...manifest, version };
        const devFiles: PackageFiles = new Map(files);
        // plugin.json says the dev version too; an FDK app's manifest.json names none.
        const pluginJson = files.get('plugin.json');
        if (pluginJson) {
          const json = JSON.parse(Buffer.from(pluginJson).toString('utf8')) as Record<string, unknown>;
          devFiles.set('plugin.json', Buffer.from(JSON.stringify({ ...json, version }, null, 2) + '\n'));
        }
        await host.registry.publishFiles(devManifest, devFiles);
        let view;
        if (upgrade) {
          view = await host.installations.change(workspaceId, upgrade.id, { version, active: true, ...(options.iparams ? { iparams: options.iparams } : {}) });
        } else {
          // The dev workspace is the dev host's own: a renamed plugin replaces what held its place.
          if (current) await host.installations.uninstall(workspaceId, current.id);
          const occupying = await host.store.installations.byNamespace(workspaceId, manifest.namespace);
          if (occupying) await host.installations.uninstall(workspaceId, occupying.id);
          view = await host.installations.install(workspaceId, { plugin: manifest.name, version, iparams: options.iparams ?? {}, active: true });
        }
        installationId = view.id;
        running = { plugin: manifest.name, version, hash };
        const hooks = (await host.store.schedules.ofInstallation(view.id, 'hook')).map((h) => h.name!).sort();
        return {
          status: 'reloaded', plugin: manifest.name, version, installationId: view.id, urls: view.routes.map((r) => url + r.path),
          onScheduledEvent: manifest.events.onScheduledEvent?.handler ?? null, hooks,
          functions: Object.keys(manifest.functions).map((f) => `${url}/workspaces/${workspaceId}/${manifest.namespace}/smi/${f}`),
          events: Object.keys(manifest.events).filter((e) => e !== 'onScheduledEvent').sort(), durationMs: ms(),
        };
      } catch (err) {
        return { status: 'failed', error: problemOf(err), running: runningName(), durationMs: ms() };
      }
    };

    const report = (r: ReloadResult) => {
      if (r.status === 'reloaded') {
        loadedNow = { name: `${r.plugin}@${r.version}`, installationId: r.installationId, events: [...(r.onScheduledEvent ? ['onScheduledEvent'] : []), ...r.events], hooks: r.hooks };
        print(`loaded ${r.plugin}@${r.version} (installation ${r.installationId}) in ${r.durationMs} ms`);
        for (const u of r.urls) print(`  ${u}`);
        if (r.onScheduledEvent) print(`  onScheduledEvent: ${r.onScheduledEvent} (plughost trigger event ${r.installationId})`);
        for (const hook of r.hooks) print(`  hook ${hook} (plughost trigger hook ${r.installationId} ${hook})`);
        for (const f of r.functions) print(`  server method: POST ${f} (JSON arguments, the operator token)`);
        for (const e of r.events) print(`  ${e} (plughost trigger event ${r.installationId} ${e})`);
      } else if (r.status === 'failed') {
        print(`reload failed: ${r.error.code}: ${r.error.message}`);
        // Several problems (a manifest's) one per line; a single one is already in the message.
        const details = Array.isArray(r.error.details) ? r.error.details as Array<{ path?: string; message?: string }> : [];
        for (const d of details) if (d.path && (details.length > 1 || !r.error.message.includes(d.message ?? '\0'))) print(`  ${d.path}: ${d.message}`);
        print(r.running ? `still running ${r.running}; fix the problem and save again` : 'nothing is running yet; fix the problem and save again');
      }
    };

    let reloadQueue: Promise<unknown> = Promise.resolve();
    const reload = (): Promise<ReloadResult> => {
      const p = reloadQueue.then(async () => {
        if (closed) return { status: 'unchanged', running: running ? `${running.plugin}@${running.version}` : null, durationMs: 0 } as ReloadResult;
        const result = await reloadOnce();
        report(result);
        events.emit('reload', result);
        return result;
      });
      reloadQueue = p.catch(() => undefined);
      return p;
    };
    cleanups.push(() => reloadQueue.then(() => undefined));

    // ---- runs, printed as they finish
    const onRun = (run: Run) => {
      printing = printing.then(async () => {
        print(formatRun(run, await zoneOf(run.workspaceId)));
        events.emit('run', run);
      }).catch((err) => log.error({ err }, 'a run could not be printed'));
    };
    host.events.on('run:finished', onRun);
    cleanups.push(() => void host.events.off('run:finished', onRun));

    // ---- HTTP: the dev endpoints, then everything else to the host's own app
    const devApp = new Koa();
    devApp.silent = true;
    devApp.use(errorMiddleware(log));
    const devRouter = new Router({ prefix: '/api/v1/dev' });
    devRouter.use(async (ctx, next) => {
      host.auth.checkOperator(await host.auth.require(bearerOf(ctx.get('authorization'))));
      ctx.set('cache-control', 'no-store');
      await next();
    });
    devRouter.get('/clock', (ctx) => {
      ctx.body = { now: new Date(clock.now()).toISOString(), timezone: devZone };
    });
    devRouter.post('/clock', async (ctx) => {
      const input = validate(clockInput, await jsonBody(ctx, hostOptions.http.maxBodyBytes));
      const move = { advance: input.advance, set: input.set === undefined ? undefined : parseInstant(input.set) };
      if (ctx.accepts('application/json', 'application/x-ndjson') !== 'application/x-ndjson') {
        const result = await moveClock(move);
        ctx.body = { now: new Date(result.now).toISOString(), timezone: devZone, runs: result.runs };
        return;
      }
      checkMove(move); // a refused move is a plain error answer, before the stream starts
      // One JSON object per line: {type: 'run', run, timezone} as each run finishes,
      // {type: 'progress', now, target, runs}, then {type: 'done', now, timezone, runs} or
      // {type: 'error', error}. Written in order, each as soon as it is known.
      const out = jsonLines((err) => log.error({ err }, 'a clock line could not be written'));
      const iso = (ms: number) => new Date(ms).toISOString();
      ctx.type = 'application/x-ndjson';
      ctx.body = out.stream;
      void moveClock(move, {
        onRun: (run) => out.send(async () => ({ type: 'run', run, timezone: await zoneOf(run.workspaceId) })),
        onProgress: (p) => out.send(() => ({ type: 'progress', now: iso(p.now), target: iso(p.target), timezone: devZone, runs: p.runs })),
      }).then(
        (result) => out.send(() => ({ type: 'done', now: iso(result.now), timezone: devZone, runs: result.runs.length })),
        (err) => out.send(() => ({ type: 'error', error: problemOf(err) })),
      ).finally(() => out.end());
    });
    devApp.use(devRouter.routes());
    devApp.use(devRouter.allowedMethods({ throw: true }));
    const devHandler = devApp.callback();
    const listenHost = options.listenHost ?? '127.0.0.1';
    // The host's own server, so a stop drains in-flight requests like `plughost serve`.
    const pageKey = randomBytes(12).toString('hex');
    let pageHandler: ReturnType<typeof devPage> | undefined;
    url = await host.listen(options.port ?? 3000, listenHost, (req) => {
      const p = (req.url ?? '/').split('?')[0]!;
      return p === '/api/v1/dev' || p.startsWith('/api/v1/dev/') ? (rq, rs) => void devHandler(rq, rs) : pageHandler?.(req);
    }).catch((err: Error & { code?: string }) => {
      throw err.code === 'EADDRINUSE'
        ? new Error(`port ${options.port ?? 3000} on ${listenHost} is in use (another plughost?); pass --port with a free port, or --port 0 for any`)
        : err;
    });
    await host.start();

    print(`listening on ${url} (data in ${hostOptions.databaseUrl ? 'PostgreSQL' : dataDir}${tempData ? ', removed on exit' : ''})`);
    print(`operator token: ${operatorToken}`);
    pageHandler = devPage({ url, workspaceId, zone: devZone, operatorToken, dir, loaded: () => loadedNow }, pageKey);
    print(`dev page: ${url}/dev/${pageKey} (fire events and hooks, move the clock, see the runs)`);
    print(`workspace ${workspaceId} (${devZone}); virtual clock at ${formatInstant(clock.now(), devZone)}, following real time`);
    await reload();

    // ---- watching the folder
    if (options.watch ?? true) {
      const debounceMs = options.debounceMs ?? 50;
      let timer: NodeJS.Timeout | undefined;
      const stop = watchTree(dir, (name) => {
        if (name === '.git' || name.startsWith(`.git${path.sep}`) || name.includes(`${path.sep}.git${path.sep}`)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), debounceMs);
      }, (err) => print(`watching ${dir} failed: ${err.message}`));
      cleanups.push(() => { clearTimeout(timer); stop(); });
      print(`watching ${dir} for changes`);
    }

    return {
      url, operatorToken, workspaceId, dataDir, host, clock, events,
      get installationId() { return installationId; },
      /** `name@version` running now, or null before a first good load. */
      get running() { return running ? `${running.plugin}@${running.version}` : null; },
      /** Re-reads the folder now (saves do this by themselves). */
      reload,
      moveClock,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export type DevServer = Awaited<ReturnType<typeof startDevServer>>;
