// The sandbox: one warm isolate per installation, capped by an LRU, and a few blank
// isolates prepared ahead so that a cold installation only has to load its own code.
// A plugin whose isolate died (timeout, memory, load error) gets a fresh one on its next call.
import { createPluginIsolate, type PluginIsolate } from './plugin-isolate.ts';
import { prepareIsolate, type GuestLimits, type PreparedIsolate } from './prepared-isolate.ts';
import type { LogLevel } from './run-log.ts';
import type { HostOptions } from '../options.ts';
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
  /** Loads the plugin's isolate ahead of its first call; undefined when its code fails to load. */
  warm(plugin: SandboxPlugin): Promise<LoadInfo | undefined>;
  /** Runs one installation's implementations of a Haplo service (see PluginIsolate.callService). */
  callService(plugin: SandboxPlugin, request: { name: string; args: unknown; chain: string[] }, deadline: number, log: { append(level: LogLevel, text: string): void } | ((level: LogLevel, text: string) => void), reentrant?: boolean): Promise<ServiceResult>;
  /** Drops an installation's isolate (uninstalled, upgraded, deactivated). */
  evict(installationId: string): void;
  stats(): { warm: number; spare: number };
  close(): Promise<void>;
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const guestLimits: GuestLimits = { maxResultBytes: options.maxResultBytes, maxLogBytes: options.maxLogBytes };
  const warm = new Map<string, Promise<PluginIsolate>>();
  // The same isolates once created, for the hot path to reach without a promise hop.
  const ready = new Map<string, PluginIsolate>();
  const spares: Promise<PreparedIsolate>[] = [];
  let closed = false;

  const refill = () => {
    while (!closed && spares.length < options.spareIsolates) {
      const p = prepareIsolate(options.memoryMb, guestLimits);
      p.catch(() => undefined); // a failed spare is dropped when taken; take() then prepares afresh
      spares.push(p);
    }
  };

  const take = async (memoryMb: number): Promise<PreparedIsolate> => {
    if (memoryMb === options.memoryMb && spares.length > 0) {
      const spare = spares.shift()!;
      refill();
      try {
        return await spare;
      } catch {
        return prepareIsolate(memoryMb, guestLimits);
      }
    }
    return prepareIsolate(memoryMb, guestLimits);
  };

  const isolateFor = (plugin: SandboxPlugin): Promise<PluginIsolate> => {
    const existing = warm.get(plugin.installationId);
    if (existing) {
      warm.delete(plugin.installationId);
      warm.set(plugin.installationId, existing); // most recently used last
      return existing.then((iso) => {
        if (!iso.disposed && iso.plugin.revision === plugin.revision) return iso;
        if (warm.get(plugin.installationId) === existing) warm.delete(plugin.installationId);
        if (!iso.disposed) iso.dispose();
        return isolateFor(plugin);
      });
    }
    const created = take(plugin.manifest.limits.memoryMb).then((prepared) =>
      createPluginIsolate({
        plugin, prepared, ops: options.ops, maxResultBytes: options.maxResultBytes, maxLogBytes: options.maxLogBytes, maxPendingOps: options.limits.pendingOps,
        ...(options.services ? { services: options.services } : {}),
        ...(options.now ? { now: options.now } : {}),
        onFatal: (reason) => {
          if (warm.get(plugin.installationId) === created) warm.delete(plugin.installationId);
          if (ready.get(plugin.installationId)?.plugin === plugin) ready.delete(plugin.installationId);
          if (reason !== 'closed') options.onFatal?.(plugin, reason);
        },
      }),
    );
    warm.set(plugin.installationId, created);
    created.then((iso) => { if (warm.get(plugin.installationId) === created) ready.set(plugin.installationId, iso); }, () => undefined);
    created.catch(() => { if (warm.get(plugin.installationId) === created) warm.delete(plugin.installationId); });
    while (warm.size > options.maxIsolates) {
      const [oldestId, oldest] = warm.entries().next().value!;
      warm.delete(oldestId);
      ready.delete(oldestId);
      void oldest.then((iso) => iso.dispose(), () => undefined);
    }
    return created;
  };

  refill();

  return {
    async invoke(plugin, request) {
      if (closed) throw new Error('the sandbox is closed');
      const hot = ready.get(plugin.installationId);
      const fresh = hot && !hot.disposed && hot.plugin.revision === plugin.revision;
      if (fresh) {
        const p = warm.get(plugin.installationId)!;
        warm.delete(plugin.installationId);
        warm.set(plugin.installationId, p); // most recently used last
      }
      let iso = fresh ? hot : await isolateFor(plugin);
      // Another run may have killed this isolate since it was handed out: take a fresh one.
      if (iso.disposed) iso = await isolateFor(plugin);
      const outcome = await iso.invoke(request);
      if (!outcome.retryable || closed) return outcome;
      return (await isolateFor(plugin)).invoke(request);
    },
    async warm(plugin) {
      const iso = await isolateFor(plugin);
      // A load error is not this caller's to report: the first real call records it as a run.
      return iso.preload().catch(() => undefined);
    },
    async callService(plugin, request, deadline, log, reentrant = false) {
      if (closed) throw new Error('the sandbox is closed');
      const sink = typeof log === 'function' ? { append: log } : log;
      let iso = await isolateFor(plugin);
      if (iso.disposed) iso = await isolateFor(plugin);
      return iso.callService(request, deadline, sink, reentrant);
    },
    evict(installationId) {
      const existing = warm.get(installationId);
      if (!existing) return;
      warm.delete(installationId);
      ready.delete(installationId);
      void existing.then((iso) => iso.dispose(), () => undefined);
    },
    stats: () => ({ warm: warm.size, spare: spares.length }),
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
