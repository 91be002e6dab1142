// The sandbox: one warm isolate per installation, capped by an LRU, and a few blank
// isolates prepared ahead so that a cold installation only has to load its own code.
// A plugin whose isolate died (timeout, memory, load error) gets a fresh one on its next call.
// Memory: every warm isolate (and every spare) counts its configured limit against the host's
// budget (limits.isolateMemoryMb); idle ones are evicted LRU to keep under it, and a call that
// cannot fit even so is refused (PLUGIN_LIMIT). Fairness: one installation may have at most
// limits.invocationsPerInstallation invocations (runs and service calls into it) running or
// queued at once; more are refused at once (PLUGIN_LIMIT), as failed outcomes.
import { isPlughostError, PlughostError } from '../errors.ts';
import { createPluginIsolate, type PluginIsolate } from './plugin-isolate.ts';
import { prepareIsolate, type GuestLimits, type PreparedIsolate } from './prepared-isolate.ts';
import { RunLog, type LogLevel } from './run-log.ts';
import type { HostOptions } from '../options.ts';
import type { PluginManifest } from '../packages/manifest.ts';
import type { InvocationOutcome, InvokeRequest, LoadInfo, Ops, SandboxPlugin, ServiceHandler, ServiceResult } from './types.ts';

export interface SandboxOptions {
  ops: Ops;
  memoryMb: number;
  maxIsolates: number;
  maxResultBytes: number;
  maxLogBytes: number;
  spareIsolates: number;
  /** The host's plugin budgets (options.limits). */
  limits: HostOptions['limits'];
  /** Answers plugins' synchronous Haplo service calls. */
  services?: ServiceHandler;
  /** The host's clock, for plugin code's Date and run-log times (default: real time). */
  now?: () => number;
  /** Told when an isolate is disposed for a fatal reason (for logs and metrics). */
  onFatal?: (plugin: SandboxPlugin, reason: string) => void;
}

export interface Sandbox {
  invoke(plugin: SandboxPlugin, request: InvokeRequest): Promise<InvocationOutcome>;
  /**
   * Loads the plugin's isolate ahead of its first call: what it registered, or why its code
   * failed to load; neither when there is no room for it now (its first call loads it).
   */
  warm(plugin: SandboxPlugin): Promise<{ loaded?: LoadInfo; error?: { code: string; message: string } }>;
  /** Runs one installation's implementations of a Haplo service (see PluginIsolate.callService). */
  callService(plugin: SandboxPlugin, request: { name: string; args: unknown; chain: string[] }, deadline: number, log: { append(level: LogLevel, text: string): void } | ((level: LogLevel, text: string) => void), reentrant?: boolean): Promise<ServiceResult>;
  /**
   * Throws PLUGIN_LIMIT (limit isolateMemoryMb) when an isolate of the manifest's memoryMb
   * can never be had (larger than the whole budget) or, for an `active` installation, cannot
   * be had now (busy isolates hold the rest). The installation's own isolate counts as free:
   * a change replaces it.
   */
  admit(manifest: Pick<PluginManifest, 'name' | 'limits'>, opts: { installationId?: string; active: boolean }): void;
  /** Drops an installation's isolate (uninstalled, upgraded, deactivated). */
  evict(installationId: string): void;
  stats(): SandboxStats;
  close(): Promise<void>;
}

export interface SandboxStats {
  warm: number;
  spare: number;
  /** Isolate memory counted against the budget: each warm and spare isolate's configured limit (MiB). */
  memoryMb: number;
  /** The host-wide budget (limits.isolateMemoryMb). */
  memoryBudgetMb: number;
  /** Warm isolates disposed to stay under the budget or maxIsolates (not uninstalls or changes). */
  evictions: number;
  /** Invocations, service calls and preloads running or queued, all installations together. */
  inFlight: number;
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const guestLimits: GuestLimits = { maxResultBytes: options.maxResultBytes, maxLogBytes: options.maxLogBytes };
  const warm = new Map<string, Promise<PluginIsolate>>();
  // The same isolates once created, for the hot path to reach without a promise hop.
  const ready = new Map<string, PluginIsolate>();
  const spares: Promise<PreparedIsolate>[] = [];
  let closed = false;
  const budgetMb = options.limits.isolateMemoryMb;
  const perInstallation = options.limits.invocationsPerInstallation;
  // What each warm isolate counts against the budget: its configured limit, not what it uses now.
  const sizeOf = new WeakMap<Promise<PluginIsolate>, number>();
  // Invocations, service calls and preloads running or queued, per installation: an isolate
  // with any is never evicted (that would kill them).
  const busy = new Map<string, number>();
  let inFlight = 0;
  let evictions = 0;
  const usedMb = () => {
    let mb = spares.length * options.memoryMb;
    for (const p of warm.values()) mb += sizeOf.get(p) ?? 0;
    return mb;
  };
  const drop = (installationId: string, p: Promise<PluginIsolate>) => {
    warm.delete(installationId);
    ready.delete(installationId);
    evictions++;
    void p.then((iso) => iso.dispose(), () => undefined);
  };
  /**
   * What making room for an isolate of `memoryMb` for `installationId` takes: how many MiB
   * are over the budget, and the idle warm isolates (least recently used first) that may go.
   * The installation's own isolate is left out: it is being replaced. Throws PLUGIN_LIMIT when
   * freeing every spare and every idle isolate would still not be enough.
   */
  const plan = (name: string, installationId: string | undefined, memoryMb: number) => {
    const own = installationId === undefined ? undefined : warm.get(installationId);
    const used = usedMb() - (own ? sizeOf.get(own) ?? 0 : 0);
    const over = used + memoryMb - budgetMb;
    const idle = over > 0 ? [...warm].filter(([id]) => id !== installationId && !busy.has(id)) : [];
    const freeable = spares.length * options.memoryMb + idle.reduce((mb, [, p]) => mb + (sizeOf.get(p) ?? 0), 0);
    if (over > freeable) {
      const held = used - freeable;
      throw new PlughostError('PLUGIN_LIMIT', memoryMb > budgetMb
        ? `the ${name} plugin's isolate (limits.memoryMb ${memoryMb} MiB) is larger than the host's whole isolate memory budget (limits.isolateMemoryMb ${budgetMb} MiB), so it can never run on this host: lower its memoryMb or raise the budget`
        : `no room for the ${name} plugin's isolate (${memoryMb} MiB): isolates busy with runs hold ${held} MiB of the host's ${budgetMb} MiB isolate memory budget (limits.isolateMemoryMb); try again later`,
      { details: { limit: 'isolateMemoryMb', budgetMb, requestedMb: memoryMb, heldMb: held } });
    }
    return { over, idle };
  };
  /** Makes room under the budget for a new isolate: spares go first (cheap to prepare again), then idle warm isolates, LRU first. */
  const makeRoom = (plugin: SandboxPlugin, memoryMb: number) => {
    if (memoryMb === options.memoryMb && spares.length > 0) return; // take() hands it a spare: its share passes on
    let { over, idle } = plan(plugin.manifest.name, plugin.installationId, memoryMb);
    while (over > 0 && spares.length > 0) {
      over -= options.memoryMb;
      void spares.pop()!.then((spare) => spare.dispose(), () => undefined);
    }
    for (const [id, p] of idle) {
      if (over <= 0) break;
      over -= sizeOf.get(p) ?? 0;
      drop(id, p);
    }
  };
  // Calls waiting for room under the budget, oldest first: each isolate that goes idle (or
  // away) wakes the oldest that now fits, which evicts it if it must. So isolates kept busy back to back
  // cannot lock the others out: they take turns, each wait bounded by the caller's time limit.
  const waiting: Array<() => boolean> = [];
  /** Wakes the oldest waiter that now fits; those that still do not fit keep their place. */
  const wakeWaiter = () => {
    if (closed) return;
    for (let i = 0; i < waiting.length; i++) {
      if (waiting[i]!()) {
        waiting.splice(i, 1);
        return;
      }
    }
  };
  const waitForRoom = (plugin: SandboxPlugin, memoryMb: number, refusal: PlughostError, timeoutMs: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = waiting.indexOf(wake);
        if (at >= 0) waiting.splice(at, 1);
        reject(new PlughostError('PLUGIN_LIMIT', `${refusal.message} (waited ${timeoutMs} ms, the call's time limit)`, { details: refusal.details }));
      }, timeoutMs);
      /** True (and done) when the room is made now; false to keep waiting. */
      const wake = (): boolean => {
        try {
          makeRoom(plugin, memoryMb);
        } catch (err) {
          if (isLimit(err)) return false;
          clearTimeout(timer);
          reject(err);
          return true;
        }
        clearTimeout(timer);
        resolve();
        return true;
      };
      waiting.push(wake);
    });
  /** Past maxIsolates, idle warm isolates go, least recently used first (busy ones wait until idle). */
  const trim = () => {
    for (const [id, p] of warm) {
      if (warm.size <= options.maxIsolates) break;
      if (!busy.has(id)) drop(id, p);
    }
  };
  const enter = (installationId: string) => {
    busy.set(installationId, (busy.get(installationId) ?? 0) + 1);
    inFlight++;
  };
  const leave = (installationId: string) => {
    inFlight--;
    const n = (busy.get(installationId) ?? 1) - 1;
    if (n > 0) busy.set(installationId, n);
    else {
      busy.delete(installationId);
      if (warm.size > options.maxIsolates) trim();
      wakeWaiter();
    }
  };
  /** The refusal for an installation already at its share of invocations, if it is. */
  const overCap = (plugin: SandboxPlugin): PlughostError | undefined => {
    const running = busy.get(plugin.installationId) ?? 0;
    if (running < perInstallation) return undefined;
    return new PlughostError('PLUGIN_LIMIT',
      `the ${plugin.manifest.name} plugin already has ${running} invocations running or queued in this installation, its share of the host (limits.invocationsPerInstallation ${perInstallation}); try again later`,
      { details: { limit: 'invocationsPerInstallation', max: perInstallation } });
  };
  /** A refused invocation as a failed outcome, so that it is recorded as a run like any other. */
  const refused = (err: PlughostError): InvocationOutcome => {
    const log = new RunLog(options.maxLogBytes, options.now);
    log.append('host', `${err.code}: ${err.message}`);
    return { status: 'failed', error: { code: err.code, message: err.message, details: err.details }, log: log.toString(), startedAt: Date.now(), durationMs: 0 };
  };
  const isLimit = (err: unknown): err is PlughostError => isPlughostError(err, 'PLUGIN_LIMIT');

  const refill = () => {
    // Spares never push the warm isolates out: one is prepared only where the budget has room.
    while (!closed && spares.length < options.spareIsolates && usedMb() + options.memoryMb <= budgetMb) {
      const p = prepareIsolate(options.memoryMb, guestLimits);
      p.catch(() => undefined); // a failed spare is dropped when taken; take() then prepares afresh
      spares.push(p);
    }
  };

  const take = async (memoryMb: number): Promise<PreparedIsolate> => {
    if (memoryMb === options.memoryMb && spares.length > 0) {
      const spare = spares.shift()!; // isolateFor refills once the new isolate is counted
      try {
        return await spare;
      } catch {
        return prepareIsolate(memoryMb, guestLimits);
      }
    }
    return prepareIsolate(memoryMb, guestLimits);
  };

  const isolateFor = (plugin: SandboxPlugin, timeoutMs = plugin.manifest.limits.timeoutMs): Promise<PluginIsolate> => {
    if (closed) return Promise.reject(new Error('the sandbox is closed'));
    const existing = warm.get(plugin.installationId);
    if (existing) {
      warm.delete(plugin.installationId);
      warm.set(plugin.installationId, existing); // most recently used last
      return existing.then((iso) => {
        if (!iso.disposed && iso.plugin.revision === plugin.revision) return iso;
        if (warm.get(plugin.installationId) === existing) warm.delete(plugin.installationId);
        if (!iso.disposed) iso.dispose();
        return isolateFor(plugin, timeoutMs);
      });
    }
    const memoryMb = plugin.manifest.limits.memoryMb;
    try {
      makeRoom(plugin, memoryMb);
    } catch (err) {
      // Busy isolates hold the budget: wait for one to go idle, as long as the call may take.
      if (!isLimit(err) || memoryMb > budgetMb || timeoutMs <= 0) throw err;
      const until = Date.now() + timeoutMs;
      return waitForRoom(plugin, memoryMb, err, timeoutMs).then(() => isolateFor(plugin, Math.max(0, until - Date.now())));
    }
    const created = take(memoryMb).then((prepared) =>
      createPluginIsolate({
        plugin, prepared, ops: options.ops, maxResultBytes: options.maxResultBytes, maxLogBytes: options.maxLogBytes, maxPendingOps: options.limits.pendingOps, maxPendingOpBytes: options.limits.pendingOpBytes, maxGuestMessages: options.limits.guestMessages,
        ...(options.services ? { services: options.services } : {}),
        ...(options.now ? { now: options.now } : {}),
        onFatal: (reason) => {
          if (warm.get(plugin.installationId) === created) warm.delete(plugin.installationId);
          if (ready.get(plugin.installationId)?.plugin === plugin) ready.delete(plugin.installationId);
          if (reason !== 'closed') options.onFatal?.(plugin, reason);
          wakeWaiter();
          refill();
        },
      }),
    );
    warm.set(plugin.installationId, created);
    sizeOf.set(created, memoryMb);
    refill();
    created.then((iso) => { if (warm.get(plugin.installationId) === created) ready.set(plugin.installationId, iso); }, () => undefined);
    created.catch(() => { if (warm.get(plugin.installationId) === created) warm.delete(plugin.installationId); });
    if (warm.size > options.maxIsolates) trim();
    return created;
  };

  refill();

  return {
    async invoke(plugin, request) {
      if (closed) throw new Error('the sandbox is closed');
      const over = overCap(plugin);
      if (over) return refused(over);
      enter(plugin.installationId);
      try {
        const hot = ready.get(plugin.installationId);
        const fresh = hot && !hot.disposed && hot.plugin.revision === plugin.revision;
        if (fresh) {
          const p = warm.get(plugin.installationId)!;
          warm.delete(plugin.installationId);
          warm.set(plugin.installationId, p); // most recently used last
        }
        const timeoutMs = request.timeoutMs ?? plugin.manifest.limits.timeoutMs;
        let iso = fresh ? hot : await isolateFor(plugin, timeoutMs);
        // Another run may have killed this isolate since it was handed out: take a fresh one.
        if (iso.disposed) iso = await isolateFor(plugin, timeoutMs);
        const outcome = await iso.invoke(request);
        if (!outcome.retryable || closed) return outcome;
        return await (await isolateFor(plugin, timeoutMs)).invoke(request);
      } catch (err) {
        if (isLimit(err)) return refused(err); // no room for its isolate
        throw err;
      } finally {
        leave(plugin.installationId);
      }
    },
    async warm(plugin) {
      enter(plugin.installationId);
      try {
        const iso = await isolateFor(plugin, 0); // a preload never waits for room
        try {
          return { loaded: await iso.preload() };
        } catch (err) {
          const error = (err as { outcome?: InvocationOutcome }).outcome?.error;
          return { error: { code: error?.code ?? 'PLUGIN_LOAD_ERROR', message: (error?.message ?? (err as Error).message).split('\n')[0]!.slice(0, 2000) } };
        }
      } catch (err) {
        if (isLimit(err)) return {}; // no room now: the first real call loads it, or is refused
        throw err;
      } finally {
        leave(plugin.installationId);
      }
    },
    async callService(plugin, request, deadline, log, reentrant = false) {
      if (closed) throw new Error('the sandbox is closed');
      // A re-entrant call runs inside an entry already counted, and cannot queue.
      const over = reentrant ? undefined : overCap(plugin);
      if (over) return { ok: false, error: { code: over.code, message: over.message } };
      const sink = typeof log === 'function' ? { append: log } : log;
      enter(plugin.installationId);
      try {
        let iso = await isolateFor(plugin, deadline - Date.now());
        if (iso.disposed) iso = await isolateFor(plugin, deadline - Date.now());
        return await iso.callService(request, deadline, sink, reentrant);
      } catch (err) {
        if (isLimit(err)) return { ok: false, error: { code: err.code, message: err.message } };
        throw err;
      } finally {
        leave(plugin.installationId);
      }
    },
    admit(manifest, { installationId, active }) {
      if (active || manifest.limits.memoryMb > budgetMb) plan(manifest.name, installationId, manifest.limits.memoryMb);
    },
    evict(installationId) {
      const existing = warm.get(installationId);
      if (!existing) return;
      warm.delete(installationId);
      ready.delete(installationId);
      void existing.then((iso) => iso.dispose(), () => undefined);
      wakeWaiter();
      refill(); // its share of the budget may go to a spare again
    },
    stats: () => ({ warm: warm.size, spare: spares.length, memoryMb: usedMb(), memoryBudgetMb: budgetMb, evictions, inFlight }),
    async close() {
      if (closed) return;
      closed = true;
      const all = [...warm.values()];
      warm.clear();
      ready.clear();
      for (const iso of await Promise.allSettled(all)) if (iso.status === 'fulfilled') iso.value.dispose();
      for (const spare of await Promise.allSettled(spares.splice(0))) if (spare.status === 'fulfilled') spare.value.dispose();
    },
  };
}
