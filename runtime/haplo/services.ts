// Haplo's service registry across the installations of one workspace (never across
// workspaces). `O.service` asks for a plan (who implements the name, in install order), then
// calls each in turn until one returns something other than undefined; the calling
// installation runs its own implementations itself. A call that would come back to an
// installation already waiting in the chain fails at once instead of deadlocking.
import { PlughostError } from '../errors.ts';
import type { Installations } from '../installations.ts';
import type { LogLevel } from '../sandbox/run-log.ts';
import type { Sandbox } from '../sandbox/sandbox.ts';
import type { SandboxPlugin, ServiceHandler, ServiceResult } from '../sandbox/types.ts';
import type { Store } from '../store/store.ts';

/** A service the host itself implements (the integration-message services). */
/** `chain`: the installations waiting on this call, the caller last. */
export type BuiltinService = (caller: SandboxPlugin, args: unknown[], deadline: number, log: (level: LogLevel, text: string) => void, chain: string[]) => Promise<unknown>;

/** For host calls made while installations wait on the host (inside their O.service calls). */
export interface HostCallOptions { waiting?: readonly string[] | undefined }

export const BUILTIN = '@host';

export function createServiceRegistry(deps: { store: Store; installations: Installations; sandbox: Sandbox; builtins: Map<string, BuiltinService> }) {
  const { store, installations, sandbox, builtins } = deps;
  const cache = new Map<string, Promise<Array<{ id: string; services: Set<string> }>>>();

  const implementersOf = (workspaceId: string) => {
    let p = cache.get(workspaceId);
    if (!p) {
      p = store.installations.active(workspaceId).then((list) => list.map((i) => ({ id: i.id, services: new Set(i.services) })));
      p.catch(() => cache.delete(workspaceId));
      cache.set(workspaceId, p);
    }
    return p;
  };

  /**
   * Installation ids implementing `name` in a workspace, in install order, then the host when it
   * implements it too: a plugin that implements a host service (a Haplo-format integration-messages
   * plugin's own `haplo:integration-message:add`) answers first, the host's is the fallback.
   */
  const targets = async (workspaceId: string, name: string): Promise<string[]> => {
    const plugins = (await implementersOf(workspaceId)).filter((i) => i.services.has(name)).map((i) => i.id);
    return builtins.has(name) ? [...plugins, BUILTIN] : plugins;
  };

  const pluginOf = async (workspaceId: string, id: string): Promise<SandboxPlugin> => {
    const inst = await store.installations.byId(id);
    if (!inst || inst.workspaceId !== workspaceId || !inst.active) throw new PlughostError('INSTALLATION_NOT_FOUND', `installation ${id} is not active in this workspace`);
    return installations.toSandboxPlugin(inst);
  };

  const callOne = async (workspaceId: string, target: string, name: string, args: unknown, chain: string[], deadline: number, log: (level: LogLevel, text: string) => void, options: HostCallOptions = {}): Promise<ServiceResult> => {
    // The host itself calling back into an installation that is waiting on it (a send asked for
    // somewhere up the chain needs that installation's formatter) enters its isolate re-entrantly. A chain of plugins that
    // comes back round is refused instead: that is the deadlock Haplo code must not build.
    const reentrant = options.waiting?.includes(target) ?? false;
    if (!reentrant && chain.includes(target)) {
      throw new PlughostError('SERVICE_DEADLOCK', `service ${name}: installation ${target} is already waiting on this chain of calls (${chain.join(' → ')}); calling back into it would deadlock`);
    }
    return sandbox.callService(await pluginOf(workspaceId, target), { name, args, chain }, deadline, log, reentrant);
  };

  /** What plugin code's O.service / serviceMaybe / serviceImplemented ask. */
  const handler: ServiceHandler = async (caller, request, deadline, log) => {
    if (typeof request.name !== 'string' || request.name.length > 200) throw new PlughostError('INVALID_BODY', 'a service name is a string of at most 200 characters');
    if (request.t === 'plan') return { self: caller.installationId, targets: await targets(caller.workspaceId, request.name) };
    const chain = [...(Array.isArray(request.chain) ? request.chain.map(String) : []), caller.installationId];
    if (request.target === BUILTIN) {
      const builtin = builtins.get(request.name);
      if (!builtin) throw new PlughostError('SERVICE_NOT_IMPLEMENTED', `the host implements no service ${request.name}`);
      return builtin(caller, Array.isArray(request.args) ? request.args : [], deadline, log, chain);
    }
    const result = await callOne(caller.workspaceId, String(request.target), request.name, request.args, chain, deadline, log);
    if (!result.ok) throw Object.assign(new Error(result.error?.message ?? 'the service failed'), { status: 500, code: result.error?.code ?? 'PLUGIN_ERROR' });
    return result.value;
  };

  return {
    handler,
    targets,
    /** Drops what is known of a workspace's implementations (an installation changed). */
    invalidate(workspaceId: string) {
      cache.delete(workspaceId);
    },
    /** The host calling a plugin service: each implementation in order until one answers. */
    async callFirst(workspaceId: string, name: string, args: unknown[], deadline: number, log: (level: LogLevel, text: string) => void, options: HostCallOptions = {}): Promise<{ installationId: string; result: ServiceResult } | undefined> {
      for (const target of await targets(workspaceId, name)) {
        if (target === BUILTIN) continue;
        const result = await callOne(workspaceId, target, name, args, [], deadline, log, options);
        // An http-client setup answers by what it did to the client, not by what it returns.
        if (!result.ok || result.value !== undefined || result.effects?.httpRequest?.url) return { installationId: target, result };
      }
      return undefined;
    },
    /** The host calling every implementation (discovery), with the installation each came from. */
    async callAll(workspaceId: string, name: string, args: unknown[], deadline: number, log: (level: LogLevel, text: string) => void, options: HostCallOptions = {}): Promise<Array<{ installationId: string; result: ServiceResult }>> {
      const out: Array<{ installationId: string; result: ServiceResult }> = [];
      for (const target of await targets(workspaceId, name)) {
        if (target !== BUILTIN) out.push({ installationId: target, result: await callOne(workspaceId, target, name, args, [], deadline, log, options) });
      }
      return out;
    },
  };
}
export type ServiceRegistry = ReturnType<typeof createServiceRegistry>;
