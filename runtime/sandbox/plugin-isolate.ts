// One installation's isolate: loads its package once, then runs invocations in it. Every
// entry into the guest carries isolated-vm's timeout; a host watchdog covers code that
// awaits forever. A timeout inside guest code, a memory overrun or any other fatal error
// disposes the isolate, and the sandbox builds a fresh one for the next call.
import type { ErrorCode } from '../errors.ts';
import { isPlughostError, PlughostError } from '../errors.ts';
import type { PreparedIsolate } from './prepared-isolate.ts';
import { RunLog, type LogLevel } from './run-log.ts';
import type { InvocationKind, InvocationOutcome, InvokeRequest, LoadInfo, Ops, RouteResponse, SandboxPlugin, ServiceHandler, ServiceRequest, ServiceResult } from './types.ts';

export interface PluginIsolateOptions {
  plugin: SandboxPlugin;
  prepared: PreparedIsolate;
  ops: Ops;
  maxResultBytes: number;
  maxLogBytes: number;
  /** Host operations one invocation may have pending at once; past it an operation fails with PLUGIN_LIMIT. */
  maxPendingOps: number;
  /** Grace after the time limit before the watchdog gives up on a run. */
  watchdogMarginMs?: number;
  /** Answers the plugin's synchronous Haplo service calls. */
  services?: ServiceHandler;
  /** The host's clock (virtual in tests and `plughost dev`): plugin code's Date follows it. */
  now?: () => number;
  onFatal?: (reason: string) => void;
}

interface Invocation {
  id: number;
  kind: InvocationKind | 'service';
  log: { append(level: LogLevel, text: string): void };
  /** Made when the first host operation starts; aborted when the run ends or responds. */
  controller?: AbortController;
  startedAt: number;
  deadline: number;
  pendingOps: Set<number>;
  response?: RouteResponse;
  /** True once the guest has run any of this invocation's code. */
  started: boolean;
  onResponse?: ((response: RouteResponse) => void) | undefined;
  settled: { ok: boolean; value?: unknown; error?: { message?: string; stack?: string; code?: string; noRetry?: boolean } } | undefined;
  /** The first promise the plugin rejected and left unhandled while this run was open. */
  unhandled?: string;
  /** Set once the run's log notes that the pendingOps budget refused an operation. */
  refusalLogged?: boolean;
  finish(outcome: Omit<InvocationOutcome, 'log' | 'startedAt' | 'durationMs'>): void;
  done: Promise<InvocationOutcome>;
}

const TEXT_FILE = /\.(js|cjs|json)$/;

export interface PluginIsolate {
  readonly plugin: SandboxPlugin;
  readonly disposed: boolean;
  invoke(request: InvokeRequest): Promise<InvocationOutcome>;
  /** Loads the package now (top-level code runs), so the first call finds it ready. */
  preload(): Promise<LoadInfo>;
  /**
   * Runs this installation's implementations of a Haplo service; logs go to `log`.
   * `reentrant`: the isolate is waiting on the host inside its own O.service call, so enter it
   * synchronously (isolated-vm allows that while it waits; an async call would queue forever).
   */
  callService(request: { name: string; args: unknown; chain: string[] }, deadline: number, log: Invocation['log'], reentrant?: boolean): Promise<ServiceResult>;
  dispose(): void;
}

export function createPluginIsolate(options: PluginIsolateOptions): PluginIsolate {
  const { plugin, prepared, ops } = options;
  const clockOffset = () => (options.now ? options.now() - Date.now() : 0);
  const margin = options.watchdogMarginMs ?? 100;
  const invocations = new Map<number, Invocation>();
  let nextId = 0;
  // Guest entries in flight, oldest first: while there is one, the isolate is executing code.
  const entries: Array<{ started: boolean }> = [];
  // Routes that have sent their response finish when the guest entry that sent it returns,
  // so that what the plugin logs in the same turn (after send) is still in the run's log.
  const responded = new Set<Invocation>();
  let disposed = false;
  let loaded: Promise<LoadInfo> | undefined;
  let isLoaded = false; // loaded and settled well: calls skip the await on `loaded`

  const dispose = (reason: string) => {
    if (disposed) return;
    disposed = true;
    // isolated-vm runs an isolate's entries in order: the oldest unfinished one was executing.
    const executing = entries[0];
    if (executing) executing.started = true;
    prepared.dispose();
    options.onFatal?.(reason);
    const code: ErrorCode = reason === 'memory' ? 'PLUGIN_MEMORY_LIMIT' : reason === 'timeout' ? 'PLUGIN_TIMEOUT' : 'PLUGIN_ERROR';
    for (const inv of invocations.values()) {
      if (inv.response) {
        // A route that already sent its response keeps it: the client has it.
        inv.log.append('host', fatalMessage(reason, plugin));
        inv.finish({ status: 'succeeded', response: inv.response });
      } else if (!inv.started && reason !== 'closed') {
        // Queued behind the code that killed the isolate, it never ran: run it again afresh.
        inv.finish({ status: 'failed', error: { code: 'PLUGIN_ERROR', message: 'the isolate was restarted before this run began' }, retryable: true });
      } else {
        inv.finish({ status: code === 'PLUGIN_TIMEOUT' ? 'timed-out' : 'failed', error: { code, message: fatalMessage(reason, plugin) } });
      }
    }
  };

  /** Runs one entry into the guest under the remaining time; fatal failures dispose the isolate. */
  const enter = async (inv: Invocation | undefined, fn: (timeout: number) => Promise<unknown>) => {
    if (disposed) return;
    const entry = inv ?? { started: true };
    entries.push(entry);
    try {
      await fn(Math.max(1, (inv?.deadline ?? Date.now() + 1000) - Date.now()));
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      // This entry was executing: its invocation ran, whatever else was queued behind it.
      if (inv && !disposed) inv.started = true;
      if (/memory limit/i.test(message) || prepared.isolate.isDisposed) dispose('memory');
      else if (/timed out/i.test(message)) dispose('timeout');
      // The guest glue catches everything it runs, so what remains is a promise the plugin
      // rejected and nobody handled: worth a log line, not a dead isolate or a failed run.
      // A route keeps the response it sent; an event or hook run (no response to judge it by)
      // fails once it is over, since work the handler started went wrong after it returned.
      else if (inv && invocations.has(inv.id)) {
        inv.log.append('warn', `unhandled rejection: ${message}`);
        if (inv.kind !== 'route') inv.unhandled ??= message;
      }
    } finally {
      entries.splice(entries.indexOf(entry), 1);
      for (const inv of responded) inv.finish({ status: 'succeeded', response: inv.response! });
      responded.clear();
    }
  };

  const deliver = (opId: number, inv: Invocation | undefined, ok: boolean, payload: unknown) => {
    const json = payload === undefined ? undefined : JSON.stringify(payload);
    return enter(inv, (timeout) => prepared.deliver.apply(undefined, [opId, ok, json], { timeout, arguments: { copy: true } }));
  };

  const runOp = async (inv: Invocation, opId: number, op: string, args: Record<string, unknown>) => {
    const handler = Object.hasOwn(ops, op) ? ops[op] : undefined;
    if (inv.pendingOps.size >= options.maxPendingOps) {
      // Refused before any host work: the plugin sees the limit, the run's log notes the first refusal.
      if (!inv.refusalLogged) {
        inv.refusalLogged = true;
        inv.log.append('host', `host operation refused: ${options.maxPendingOps} already pending (limit pendingOps); this and any further ones reject with PLUGIN_LIMIT`);
      }
      const limit = new PlughostError('PLUGIN_LIMIT', `${options.maxPendingOps} host operations (timers, fetches, $db, $schedule) are already pending in this run; await some before starting more`, { details: { limit: 'pendingOps' } });
      if (invocations.has(inv.id)) await deliver(opId, inv, false, opError(limit));
      return;
    }
    inv.pendingOps.add(opId);
    try {
      if (!handler) throw Object.assign(new Error(`unknown host operation ${op}`), { status: 400 });
      const value = await handler({
        args, plugin, signal: (inv.controller ??= new AbortController()).signal, deadline: inv.deadline,
        log: (level, text) => inv.log.append(level, text),
      });
      if (invocations.has(inv.id)) await deliver(opId, inv, true, value === undefined ? null : value);
    } catch (err) {
      if (invocations.has(inv.id)) await deliver(opId, inv, false, opError(err));
    } finally {
      inv.pendingOps.delete(opId);
      checkQuiet(inv);
    }
  };

  // An event run is over once its handler has settled and no host work it started is open.
  const checkQuiet = (inv: Invocation) => {
    if (inv.kind === 'route' || !inv.settled || inv.pendingOps.size > 0) return;
    if (inv.settled.ok && inv.unhandled !== undefined) {
      inv.finish({ status: 'failed', error: { code: 'PLUGIN_ERROR', message: `unhandled rejection after the handler returned: ${inv.unhandled.split('\n')[0]}` } });
    } else if (inv.settled.ok) inv.finish({ status: 'succeeded', value: inv.settled.value });
    else inv.finish({ status: 'failed', error: pluginError(inv.settled.error, inv.kind) });
  };

  const onMessage = (text: string) => {
    if (text.length > options.maxResultBytes + 1024) return dispose('oversized message');
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(text);
    } catch {
      return dispose('malformed message');
    }
    const inv = invocations.get(Number(msg.id));
    if (inv) inv.started = true;
    if (msg.t === 'log') {
      inv?.log.append((['log', 'info', 'warn', 'error', 'debug'].includes(msg.level) ? msg.level : 'log') as LogLevel, String(msg.text));
    } else if (msg.t === 'op') {
      const opId = Number(msg.opId);
      if (!inv) void deliver(opId, undefined, false, { code: 'CANCELLED', message: 'the run that started this operation has ended', status: 499 });
      else void runOp(inv, opId, String(msg.op), (msg.args ?? {}) as Record<string, unknown>);
    } else if (msg.t === 'respond' && inv) {
      if (msg.tooLarge) {
        inv.finish({ status: 'failed', error: { code: 'PLUGIN_RESULT_TOO_LARGE', message: `the response is over ${options.maxResultBytes} bytes` } });
      } else if (!inv.response) {
        inv.response = toResponse(msg);
        inv.controller?.abort(); // outbound requests still open are cancelled
        inv.onResponse?.(inv.response);
        responded.add(inv);
      }
    } else if (msg.t === 'settled' && inv) {
      if (msg.tooLarge) {
        inv.finish({ status: 'failed', error: { code: 'PLUGIN_RESULT_TOO_LARGE', message: `the result is over ${options.maxResultBytes} bytes` } });
        return;
      }
      inv.settled = msg.ok ? { ok: true, value: msg.value } : { ok: false, error: msg.error };
      if (inv.kind !== 'route') checkQuiet(inv);
      else if (!msg.ok && inv.response) inv.log.append('error', `the plugin failed after responding: ${pluginError(msg.error, inv.kind).message}`);
      else if (!msg.ok) inv.finish({ status: 'failed', error: pluginError(msg.error, inv.kind) });
    }
  };
  const onServiceRequest = async (text: string): Promise<string> => {
    try {
      const request = JSON.parse(text) as ServiceRequest & { id: number };
      const inv = invocations.get(Number(request.id));
      if (!inv || !options.services) throw new Error('a service can only be called while the plugin is running');
      const value = await options.services(plugin, request, inv.deadline, (level, line) => inv.log.append(level, line));
      return JSON.stringify({ ok: true, value }); // undefined stays undefined: O.service moves on to the next implementation
    } catch (err) {
      const e = opError(err);
      return JSON.stringify({ ok: false, error: { message: e.code === 'INTERNAL' ? (err as Error).message : e.message, code: e.code } });
    }
  };
  prepared.listen(onMessage, onServiceRequest);

  const start = (kind: InvocationKind, payload: unknown, timeoutMs: number, onResponse?: (r: RouteResponse) => void): Invocation => {
    const id = ++nextId;
    const startedAt = Date.now();
    let resolveDone!: (o: InvocationOutcome) => void;
    const done = new Promise<InvocationOutcome>((r) => { resolveDone = r; });
    const log = new RunLog(options.maxLogBytes, options.now);
    let finished = false;
    const watchdog = setTimeout(() => {
      // Code still executing past its limit plus the margin cannot be stopped gently.
      if (entries.length > 0) dispose('timeout');
      inv.finish({ status: 'timed-out', error: { code: 'PLUGIN_TIMEOUT', message: `the plugin did not ${kind === 'route' ? 'respond' : 'finish'} within ${timeoutMs} ms` } });
    }, timeoutMs + margin);
    const inv: Invocation = {
      id, kind, log, startedAt, deadline: startedAt + timeoutMs, pendingOps: new Set(), settled: undefined, done, onResponse, started: false,
      finish(outcome) {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        invocations.delete(id);
        // Aborting builds an AbortError with a stack: only worth it when host work was started.
        inv.controller?.abort();
        if (outcome.error) log.append('host', `${outcome.error.code}: ${outcome.error.message}`);
        resolveDone({ ...outcome, log: log.toString(), startedAt, durationMs: Date.now() - startedAt });
      },
    };
    invocations.set(id, inv);
    const json = JSON.stringify(payload);
    void enter(inv, async (timeout) => {
      await prepared.dispatch.apply(undefined, [id, kind, json, clockOffset()], { timeout, arguments: { copy: true } });
      inv.started = true;
    });
    return inv;
  };

  const load = (timeoutMs: number): Promise<LoadInfo> => {
    loaded ??= (async () => {
      const files: Record<string, string> = {};
      for (const [p, bytes] of plugin.files) if (TEXT_FILE.test(p)) files[p] = Buffer.from(bytes).toString('utf8');
      const context = { workspaceId: plugin.workspaceId, installationId: plugin.installationId, namespace: plugin.namespace, iparams: plugin.iparams };
      const outcome = await start('init', { files, main: plugin.manifest.main, context }, timeoutMs).done;
      if (outcome.status !== 'succeeded') {
        const error = outcome.error?.code === 'PLUGIN_ERROR'
          ? { code: 'PLUGIN_LOAD_ERROR' as const, message: `loading ${plugin.manifest.main} failed: ${outcome.error.message}` }
          : outcome.error!;
        dispose('load failed');
        throw Object.assign(new Error(error.message), { outcome: { ...outcome, error } });
      }
      isLoaded = true;
      const names = (list: unknown) => (Array.isArray(list) ? list.filter((h): h is string => typeof h === 'string' && h.length <= 200).slice(0, 200) : []);
      const value = outcome.value as { hooks?: unknown; services?: unknown } | undefined;
      return { hooks: names(value?.hooks), services: names(value?.services) };
    })();
    return loaded;
  };

  return {
    plugin,
    get disposed() { return disposed; },
    async invoke(request) {
      const timeoutMs = request.timeoutMs ?? plugin.manifest.limits.timeoutMs;
      if (disposed) throw new Error('isolate disposed');
      if (!isLoaded) {
        try {
          await load(timeoutMs);
        } catch (err) {
          return (err as { outcome: InvocationOutcome }).outcome;
        }
      }
      return start(request.kind, request.payload, timeoutMs, request.onResponse).done;
    },
    preload: () => load(plugin.manifest.limits.timeoutMs),
    async callService(request, deadline, log, reentrant = false) {
      await load(plugin.manifest.limits.timeoutMs);
      const id = ++nextId;
      const inv = { id, kind: 'service', log, deadline, pendingOps: new Set(), started: false } as unknown as Invocation;
      inv.finish = () => { invocations.delete(id); inv.controller?.abort(); };
      invocations.set(id, inv);
      let answer: string | undefined;
      const args: [number, string, string, number] = [id, 'service', JSON.stringify(request), clockOffset()];
      const call = enter(inv, async (timeout) => {
        answer = (reentrant
          ? prepared.dispatch.applySync(undefined, args, { timeout, arguments: { copy: true }, result: { copy: true } })
          : await prepared.dispatch.apply(undefined, args, { timeout, arguments: { copy: true }, result: { copy: true } })) as unknown as string;
      });
      // The isolate may be busy with other work: waiting in its queue counts against the deadline too.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())); });
      await Promise.race([call, late]);
      clearTimeout(timer);
      inv.finish({ status: 'succeeded' });
      if (answer === undefined) return { ok: false, error: { message: disposed ? `the ${plugin.namespace} plugin's isolate failed during the service call` : `the service call to ${plugin.namespace} ran out of time`, code: 'PLUGIN_TIMEOUT' } };
      return JSON.parse(answer) as ServiceResult;
    },
    dispose: () => dispose('closed'),
  };
}

function toResponse(msg: Record<string, any>): RouteResponse {
  const body = typeof msg.bodyBase64 === 'string' ? Buffer.from(msg.bodyBase64, 'base64') : Buffer.from(String(msg.bodyText ?? ''), 'utf8');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((msg.headers ?? {}) as Record<string, unknown>)) if (v !== undefined) headers[k] = String(v);
  return { status: Number(msg.status) || 200, headers, body };
}

function pluginError(error: { message?: string; stack?: string; code?: string; noRetry?: boolean } | undefined, kind: Invocation['kind']): { code: ErrorCode; message: string; noRetry?: boolean } {
  // Frames of the host's guest glue say nothing useful to a plugin author.
  const message = (error?.stack ?? error?.message ?? 'the plugin failed').split('\n').filter((l) => !l.includes('plughost:///')).join('\n');
  if (error?.code === 'PLUGIN_NO_HANDLER') return { code: 'PLUGIN_NO_HANDLER', message: error.message ?? message };
  if (kind === 'init') return { code: 'PLUGIN_LOAD_ERROR', message };
  return { code: 'PLUGIN_ERROR', message, ...(error?.noRetry ? { noRetry: true } : {}) };
}

/** What the guest receives when an op fails: never a host stack or an internal message. */
function opError(err: unknown): { code: string; message: string; status: number; limit?: string } {
  if (isPlughostError(err)) {
    const limit = (err.details as { limit?: unknown } | undefined)?.limit;
    return { code: err.code, message: err.expose ? err.message : 'internal error', status: err.status, ...(typeof limit === 'string' ? { limit } : {}) };
  }
  const e = err as { status?: unknown; message?: unknown; code?: unknown };
  if (e && typeof e.status === 'number' && typeof e.message === 'string') {
    return { code: typeof e.code === 'string' ? e.code : 'OP_FAILED', message: e.message, status: e.status };
  }
  return { code: 'INTERNAL', message: 'internal error', status: 500 };
}

function fatalMessage(reason: string, plugin: SandboxPlugin): string {
  if (reason === 'memory') return `the plugin ran out of memory (limit ${plugin.manifest.limits.memoryMb} MiB); its isolate was restarted`;
  if (reason === 'timeout') return `the plugin ran past its time limit (${plugin.manifest.limits.timeoutMs} ms); its isolate was restarted`;
  if (reason === 'closed') return 'the plugin was stopped (host shutting down or plugin updated)';
  return `the plugin's isolate failed (${reason}) and was restarted`;
}
