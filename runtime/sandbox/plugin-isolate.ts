// One installation's isolate: loads its package once, then runs invocations in it. Every
// entry into the guest carries isolated-vm's timeout; a host watchdog covers code that
// awaits forever. A timeout inside guest code, a memory overrun or any other fatal error
// disposes the isolate, and the sandbox builds a fresh one for the next call.
import { PlughostError, type ErrorCode } from '../errors.ts';
import { defaults } from '../options.ts';
import type { ChannelHandler, PreparedIsolate } from './prepared-isolate.ts';
import { fatalMessage, opError, pluginError, REFUSALS, type Refusal } from './guest-errors.ts';
import { haploLibraries } from './haplo-libraries.ts';
import { toResponse } from './route-response.ts';
import { RunLog, type LogLevel } from './run-log.ts';
import { WithBody, type InvocationKind, type InvocationOutcome, type InvokeRequest, type LoadInfo, type Ops, type RouteResponse, type SandboxPlugin, type ServiceHandler, type ServiceRequest, type ServiceResult } from './types.ts';

export interface PluginIsolateOptions {
  plugin: SandboxPlugin;
  prepared: PreparedIsolate;
  ops: Ops;
  maxResultBytes: number;
  maxLogBytes: number;
  /** Host operations and timers one invocation may have pending at once; past it one fails with PLUGIN_LIMIT. */
  maxPendingOps: number;
  /** Log lines and host operations one invocation may send; past it they are dropped (counted) or refused. */
  maxGuestMessages?: number;
  /** Bytes of arguments (JSON) of the host operations one invocation has pending. */
  maxPendingOpBytes?: number;
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
  log: { append(level: LogLevel, text: string): void; dropped?(lines: number, bytes: number): void };
  /** Made when the first host operation starts; aborted when the run ends or responds. */
  controller?: AbortController;
  startedAt: number;
  deadline: number;
  pendingOps: Set<number>;
  /** Bytes of the arguments of the pending operations. */
  pendingOpBytes: number;
  /** Log lines and operations received from the guest: the host's own count, behind the guest's. */
  messages: number;
  /** O.audit.write entries this run wrote. */
  audits?: number;
  /** True while the guest holds timers of this invocation: an event run is not over then. */
  timers: boolean;
  /** True once the guest said it dropped log lines of this invocation: read the count at the end. */
  dropped: boolean;
  response?: RouteResponse;
  /** True once the guest has run any of this invocation's code. */
  started: boolean;
  onResponse?: ((response: RouteResponse) => void) | undefined;
  settled: { ok: boolean; value?: unknown; error?: { message?: string; stack?: string; code?: string; noRetry?: boolean } } | undefined;
  /** The first promise the plugin rejected and left unhandled while this run was open. */
  unhandled?: string;
  /** Budgets whose first refusal the run's log already notes. */
  refusalsLogged?: Set<string>;
  finish(outcome: Omit<InvocationOutcome, 'log' | 'startedAt' | 'durationMs'>): void;
  done: Promise<InvocationOutcome>;
}

/** O.audit.write entries one run may write: the audit log is the workspace's, not the plugin's. */
const MAX_AUDITS_PER_RUN = 100;
const objectOf = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
const TEXT_FILE = /\.(js|cjs|json)$/;
const LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);

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
  // Event runs whose last timer went during the current entry: over once it has returned, if quiet.
  const quietAfterEntry = new Set<Invocation>();
  // Invocations over since the last dispatch or tick: the guest drops what they left with the next one.
  const endedIds: number[] = [];
  const takeEnded = () => (endedIds.length === 0 ? '' : JSON.stringify(endedIds.splice(0)));
  const maxMessages = options.maxGuestMessages ?? defaults.limits.guestMessages;
  const maxOpBytes = options.maxPendingOpBytes ?? defaults.limits.pendingOpBytes;
  // The one wake-up this isolate's timers have on the host: for the earliest, of invocation `wakeFor`.
  let wake: NodeJS.Timeout | undefined;
  let wakeFor = 0;
  // Messages for runs that are over, since the last dispatch: bounded like a run's.
  let orphans = 0;
  let disposed = false;
  let loaded: Promise<LoadInfo> | undefined;
  let isLoaded = false; // loaded and settled well: calls skip the await on `loaded`

  const dispose = (reason: string) => {
    if (disposed) return;
    disposed = true;
    clearTimeout(wake);
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
      for (const inv of quietAfterEntry) checkQuiet(inv);
      quietAfterEntry.clear();
    }
  };

  const onWake = () => {
    wake = undefined;
    const inv = invocations.get(wakeFor);
    const args: [number, string] = [wakeFor, takeEnded()];
    // A run that is over still gets its tick: the guest drops its timers and asks for the next wake-up.
    void enter(inv, (timeout) => prepared.tick.apply(undefined, args, { timeout, arguments: { copy: true } }));
  };

  const deliver = (opId: number, inv: Invocation | undefined, ok: boolean, payload: unknown) => {
    const args = payload instanceof WithBody
      ? [opId, ok, JSON.stringify(payload.value), payload.key, payload.body]
      : [opId, ok, payload === undefined ? undefined : JSON.stringify(payload)];
    return enter(inv, (timeout) => prepared.deliver.apply(undefined, args as [number, boolean, string], { timeout, arguments: { copy: true } }));
  };

  /** The run's log notes the first refusal by each budget; the plugin sees every one. */
  const noteRefusal = (inv: Invocation, limit: Refusal) => {
    inv.refusalsLogged ??= new Set();
    if (inv.refusalsLogged.has(limit)) return;
    inv.refusalsLogged.add(limit);
    inv.log.append('host', `host operation refused: ${REFUSALS[limit].note(budgetOf(limit))}`);
  };
  const budgetOf = (limit: Refusal) => (limit === 'pendingOps' ? options.maxPendingOps : limit === 'pendingOpBytes' ? maxOpBytes : maxMessages);

  const refuseOp = (inv: Invocation, opId: number, limit: Refusal) => {
    noteRefusal(inv, limit);
    return deliver(opId, inv, false, opError(new PlughostError('PLUGIN_LIMIT', REFUSALS[limit].error(budgetOf(limit)), { details: { limit } })));
  };

  const runOp = async (inv: Invocation, opId: number, op: string, argsJson: string) => {
    const handler = Object.hasOwn(ops, op) ? ops[op] : undefined;
    // The guest keeps these budgets itself; the host holds them too, before parsing anything.
    if (inv.pendingOps.size >= options.maxPendingOps) return refuseOp(inv, opId, 'pendingOps');
    if (inv.pendingOpBytes + argsJson.length > maxOpBytes) return refuseOp(inv, opId, 'pendingOpBytes');
    if (argsJson.length > options.maxResultBytes) {
      return deliver(opId, inv, false, { code: 'PLUGIN_RESULT_TOO_LARGE', message: `the arguments are over ${options.maxResultBytes} bytes`, status: 413 });
    }
    inv.pendingOps.add(opId);
    inv.pendingOpBytes += argsJson.length;
    let value: unknown;
    try {
      if (!handler) throw Object.assign(new Error(`unknown host operation ${op}`), { status: 400 });
      const args = JSON.parse(argsJson) as Record<string, unknown>;
      value = await handler({
        args, plugin, signal: (inv.controller ??= new AbortController()).signal, deadline: inv.deadline,
        log: (level, text) => inv.log.append(level, text),
      });
      if (invocations.has(inv.id)) await deliver(opId, inv, true, value === undefined ? null : value);
    } catch (err) {
      if (invocations.has(inv.id)) await deliver(opId, inv, false, opError(err));
    } finally {
      if (value instanceof WithBody) value.release(); // delivered, or never will be
      inv.pendingOps.delete(opId);
      inv.pendingOpBytes -= argsJson.length;
      checkQuiet(inv);
    }
  };

  // An event run is over once its handler has settled and no host work it started is open.
  const checkQuiet = (inv: Invocation) => {
    if (inv.kind === 'route' || !inv.settled || inv.pendingOps.size > 0 || inv.timers) return;
    if (inv.settled.ok && inv.unhandled !== undefined) {
      inv.finish({ status: 'failed', error: { code: 'PLUGIN_ERROR', message: `unhandled rejection after the handler returned: ${inv.unhandled.split('\n')[0]}` } });
    } else if (inv.settled.ok) inv.finish({ status: 'succeeded', value: inv.settled.value });
    else inv.finish({ status: 'failed', error: pluginError(inv.settled.error, inv.kind) });
  };

  /**
   * One message from the guest. It is counted and its size checked before anything is parsed;
   * past the run's budget a log line costs one comparison and a counter.
   */
  const onMessage: ChannelHandler = (type, id, a, b, c) => {
    const inv = invocations.get(id);
    // The glue keeps each run within maxMessages; far past it, the glue itself is subverted.
    if (inv === undefined ? ++orphans > maxMessages : ++inv.messages > 2 * maxMessages + 64) return dispose('message flood');
    if (type === 'wake') {
      clearTimeout(wake);
      wakeFor = id;
      wake = setTimeout(onWake, Math.min(Math.max(0, Number(a) || 0), 2 ** 31 - 1));
      return;
    }
    if (inv === undefined) {
      // The run is over: an operation still gets an answer, so that the guest lets it go.
      if (type === 'op') void deliver(Number(a), undefined, false, { code: 'CANCELLED', message: 'the run that started this operation has ended', status: 499 });
      return;
    }
    inv.started = true;
    if (type === 'log') {
      const text = typeof b === 'string' ? b : '';
      if (inv.messages > maxMessages || text.length > options.maxLogBytes) {
        if (inv.log.dropped) inv.log.dropped(1, text.length);
        return;
      }
      inv.log.append((LEVELS.has(a as string) ? a : 'log') as LogLevel, text);
    } else if (type === 'op') {
      const opId = Number(a);
      if (inv.messages > maxMessages) void refuseOp(inv, opId, 'guestMessages');
      else void runOp(inv, opId, String(b), typeof c === 'string' ? c : '{}');
    } else if (type === 'timers') {
      inv.timers = a === 1;
      if (!inv.timers) quietAfterEntry.add(inv);
    } else if (type === 'dropped') {
      inv.dropped = true;
    } else if (type === 'note') {
      if (typeof a === 'string' && Object.hasOwn(REFUSALS, a)) noteRefusal(inv, a as Refusal);
    } else if (type === 'msg') {
      const text = typeof a === 'string' ? a : '';
      if (text.length > options.maxResultBytes + 1024) return dispose('oversized message');
      let msg: Record<string, any>;
      try {
        msg = JSON.parse(text);
      } catch {
        return dispose('malformed message');
      }
      onStructured(inv, msg);
    }
  };
  const onStructured = (inv: Invocation, msg: Record<string, any>) => {
    if (msg.t === 'respond') {
      if (msg.tooLarge) {
        inv.finish({ status: 'failed', error: { code: 'PLUGIN_RESULT_TOO_LARGE', message: `the response is over ${options.maxResultBytes} bytes` } });
      } else if (!inv.response) {
        try {
          inv.response = toResponse(msg);
        } catch (err) {
          // A status or header Node would refuse to send: the plugin's mistake, named.
          inv.finish({ status: 'failed', error: { code: 'PLUGIN_ERROR', message: (err as Error).message } });
          return;
        }
        inv.controller?.abort(); // outbound requests still open are cancelled
        inv.onResponse?.(inv.response);
        responded.add(inv);
      }
    } else if (msg.t === 'settled') {
      if (msg.tooLarge) {
        inv.finish({ status: 'failed', error: { code: 'PLUGIN_RESULT_TOO_LARGE', message: `the result is over ${options.maxResultBytes} bytes` } });
        return;
      }
      inv.settled = msg.ok ? { ok: true, value: msg.value } : { ok: false, error: msg.error };
      // Over once the entry returns, if quiet: work started later in the same entry still counts.
      if (inv.kind !== 'route') quietAfterEntry.add(inv);
      else if (!msg.ok && inv.response) inv.log.append('error', `the plugin failed after responding: ${pluginError(msg.error, inv.kind).message}`);
      else if (!msg.ok) inv.finish({ status: 'failed', error: pluginError(msg.error, inv.kind) });
    }
  };
  const onServiceRequest = async (text: string): Promise<string> => {
    try {
      const request = JSON.parse(text) as ServiceRequest & { id: number };
      const inv = invocations.get(Number(request.id));
      if (!inv || !options.services) throw new Error('a service can only be called while the plugin is running');
      // Counted here as well as in the glue: plugin code shares the glue's scope and can forge
      // a request the glue never counted (P.db, O.background, O.audit, services alike).
      if (++inv.messages > 2 * maxMessages + 64) {
        dispose('message flood');
        throw new PlughostError('PLUGIN_LIMIT', 'this run sent the host far more messages than its limit (guestMessages); its isolate was stopped', { details: { limit: 'guestMessages' } });
      }
      if (inv.messages > maxMessages) {
        throw new PlughostError('PLUGIN_LIMIT', `this run has sent the host ${maxMessages} messages, its limit (guestMessages); synchronous calls (services, P.db, O.background, O.audit) count too`, { details: { limit: 'guestMessages' } });
      }
      if (request.t === 'audit' && (inv.audits = (inv.audits ?? 0) + 1) > MAX_AUDITS_PER_RUN) {
        throw new PlughostError('PLUGIN_LIMIT', `a run writes at most ${MAX_AUDITS_PER_RUN} audit entries (O.audit.write)`, { details: { limit: 'auditEntries' } });
      }
      const value = await options.services(plugin, request, inv.deadline, (level, line) => inv.log.append(level, line));
      return JSON.stringify({ ok: true, value }); // undefined stays undefined: O.service moves on to the next implementation
    } catch (err) {
      const e = opError(err);
      return JSON.stringify({ ok: false, error: { message: e.code === 'INTERNAL' ? (err as Error).message : e.message, code: e.code, ...(e.limit ? { limit: e.limit } : {}) } });
    }
  };
  prepared.listen(onMessage, onServiceRequest);

  /** Adds to `log` the lines the guest dropped for invocation `id`; never fails. */
  const readDropped = async (id: number, log: Invocation['log']) => {
    try {
      const [lines = 0, bytes = 0] = String(await prepared.droppedOf.apply(undefined, [id], { timeout: 1000 })).split(',').map(Number);
      if (log.dropped) log.dropped(lines, bytes);
      else log.append('host', `${lines} log lines (${bytes} bytes of text) dropped: over the log limit`);
    } catch {
      // The isolate went away: the log says it was truncated, without the count.
    }
  };

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
      id, kind, log, startedAt, deadline: startedAt + timeoutMs, pendingOps: new Set(), pendingOpBytes: 0, messages: 0, timers: false, dropped: false,
      settled: undefined, done, onResponse, started: false,
      finish(outcome) {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        invocations.delete(id);
        // Aborting builds an AbortError with a stack: only worth it when host work was started.
        inv.controller?.abort();
        if (outcome.error) log.append('host', `${outcome.error.code}: ${outcome.error.message}`);
        const durationMs = Date.now() - startedAt;
        const resolve = () => resolveDone({ ...outcome, log: log.toString(), startedAt, durationMs });
        // Lines the guest kept back once the log was full: counted there, read once, at the end.
        if (inv.dropped && !disposed) readDropped(id, log).finally(resolve);
        else resolve();
        endedIds.push(id);
      },
    };
    invocations.set(id, inv);
    const json = JSON.stringify(payload);
    orphans = 0;
    void enter(inv, async (timeout) => {
      await prepared.dispatch.apply(undefined, [id, kind, json, clockOffset(), takeEnded()], { timeout, arguments: { copy: true } });
      inv.started = true;
    });
    return inv;
  };

  const load = (timeoutMs: number): Promise<LoadInfo> => {
    loaded ??= (async () => {
      const files: Record<string, string> = {};
      for (const [p, bytes] of plugin.files) if (TEXT_FILE.test(p)) files[p] = Buffer.from(bytes).toString('utf8');
      const context = { workspaceId: plugin.workspaceId, installationId: plugin.installationId, namespace: plugin.namespace, iparams: plugin.iparams };
      const budgets = { pendingOps: options.maxPendingOps, pendingOpBytes: maxOpBytes, guestMessages: maxMessages };
      // A Haplo-format plugin's load files, and the libraries Haplo gives it as globals.
      const haplo = plugin.manifest.haplo ? {
        pluginName: plugin.manifest.haplo.pluginName, load: plugin.manifest.haplo.load, privileges: plugin.manifest.haplo.privileges, libraries: haploLibraries(),
        application: { name: plugin.workspace?.name ?? plugin.workspaceId, hostname: plugin.workspace?.domain ?? `${plugin.workspaceId}.plughost.local` },
        // O.application.config: the workspace's config data; O.keychain: the installation's iparams.keychain.
        config: plugin.workspace?.config ?? {}, keychain: objectOf(plugin.iparams.keychain),
      } : undefined;
      const outcome = await start('init', { files, main: plugin.manifest.main, context, budgets, haplo }, timeoutMs).done;
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
      const inv = { id, kind: 'service', log, deadline, pendingOps: new Set(), pendingOpBytes: 0, messages: 0, timers: false, dropped: false, started: false } as unknown as Invocation;
      inv.finish = () => {
        invocations.delete(id);
        inv.controller?.abort();
        if (inv.dropped && !disposed) void readDropped(id, log);
        endedIds.push(id);
      };
      invocations.set(id, inv);
      let answer: string | undefined;
      const args: [number, string, string, number, string] = [id, 'service', JSON.stringify(request), clockOffset(), takeEnded()];
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
