// createHost: wires the store, sandbox, egress, registry, installations, executor and HTTP
// app into one handle. `listen()` serves HTTP; `close()` drains (no new connections or
// occurrences; in-flight requests and runs get `drainMs`, then are cut), then releases
// everything in reverse order of acquisition, and is safe to call twice.
//
// A configured operator token is stored here; a GENERATED one only by `ensureOperatorToken()`,
// which `plughost serve` calls once the host serves, right before printing it: a start that
// fails earlier (say the port is taken) stores no token nobody ever saw.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuth } from './auth.ts';
import { systemClock, type Clock } from './clock.ts';
import { createDataApi } from './data-api.ts';
import { createEgressClient, createEgressPolicy, type Lookup } from './egress/index.ts';
import { HostEvents } from './events.ts';
import { createCloneGuard } from './haplo/clone-guard.ts';
import { createIntegrationMessages } from './haplo/integration-messages.ts';
import { createAuditWrite } from './haplo/audit-write.ts';
import { createBackground, type BackgroundRequest } from './haplo/background.ts';
import { createPluginDb, type DbRequest } from './haplo/plugin-db.ts';
import { createServiceRegistry } from './haplo/services.ts';
import { createExecutor } from './runs/executor.ts';
import { createRuns } from './runs/execute.ts';
import { createRunLog } from './runs/record.ts';
import { createApp } from './http/app.ts';
import { createInstallations } from './installations.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import type { HostOptions } from './options.ts';
import { createRegistry } from './registry.ts';
import { createRunRecorder } from './runs/recorder.ts';
import { createFire } from './schedule/firing.ts';
import { syncHookSchedules, syncPluginSchedules } from './schedule/hooks.ts';
import { pluginScheduleOps } from './schedule/plugin-schedules.ts';
import { createScheduler } from './schedule/scheduler.ts';
import { createRouteSignatures } from './schedule/route-signatures.ts';
import { createWebhooks } from './schedule/webhooks.ts';
import { dataOps, fdkRequestOps, httpOps, kvOps, targetUrlOps } from './sandbox/ops/index.ts';
import { createSandbox } from './sandbox/sandbox.ts';
import { createSecrets, loadSecretKey } from './secrets.ts';
import { createStore, type Store } from './store/store.ts';
import { createWorkspaces } from './workspaces.ts';

export interface HostDeps {
  clock?: Clock;
  /** DNS for egress checks (tests resolve names to chosen addresses). */
  lookup?: Lookup;
  logger?: Logger;
  /** PostgreSQL schema (tests give each run its own). */
  schema?: string;
  /** Told the store migrations about to run at start-up (`serve` prints a progress line). */
  onMigrate?: (pending: string[]) => void;
}

export async function createHost(options: HostOptions, deps: HostDeps = {}) {
  const clock = deps.clock ?? systemClock;
  const now = () => clock.now();
  const log = deps.logger ?? createLogger(options.logLevel);
  const releases: Array<() => Promise<void> | void> = [];
  const release = async () => {
    while (releases.length) {
      try {
        await releases.pop()!();
      } catch (err) {
        log.error({ err }, 'error while shutting down');
      }
    }
  };

  try {
    const store: Store = await createStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, ...(deps.schema ? { schema: deps.schema } : {}) },
      deps.onMigrate ? { onMigrate: deps.onMigrate } : {});
    releases.push(() => store.close());
    const secrets = createSecrets(await loadSecretKey(store, options.dataDir, options.secretKey));
    const events = new HostEvents();
    const egress = createEgressClient({
      policy: createEgressPolicy({ allow: options.egressAllow, map: options.egressMap, ...(deps.lookup ? { lookup: deps.lookup } : {}) }),
      limits: { maxResponseBytes: options.egress.maxResponseBytes, timeoutMs: options.egress.timeoutMs },
      budgets: options.limits,
    });
    const dataApi = createDataApi(store, now);
    const cloneGuard = await createCloneGuard(store, options.dataDir);
    let recorderLoggedAt = -Infinity; // a failing store is retried every few seconds: log it at most every 30 s
    const recorder = createRunRecorder(store, {
      onError: (err) => {
        if (Date.now() - recorderLoggedAt < 30_000) return;
        recorderLoggedAt = Date.now();
        log.error({ err, backlog: recorder.stats().backlog }, 'could not record runs; they stay buffered and are retried');
      },
      onLost: (count, err) => {
        metrics.runsLost.inc(count);
        log.error({ err, count }, 'run records lost: the buffer bound was reached or the store refused them');
      },
    });
    releases.push(() => recorder.close()); // last before the store: every run recorded before it goes
    // The sandbox's gauge is read at scrape time only, once the sandbox exists.
    const metrics = createMetrics({
      warmIsolates: () => sandbox.stats().warm, sandbox: () => sandbox.stats(), recorder: () => recorder.stats(),
      scheduler: () => scheduler.counts(), // read at scrape time, after the scheduler exists
    });
    events.on('sandbox:fatal', ({ reason }) => metrics.fatal.inc({ reason: reason.split(':')[0]! }));
    const runLog = createRunLog({ recorder, events, metrics });
    // Plugins call services that are plugin code again (and the host's integration-message
    // builtins call plugin formatters): the registry and the sandbox need each other, so the
    // sandbox reaches the registry, created just below it, through this closure.
    const messages = createIntegrationMessages({ store, egress, cloneGuard, now, registry: () => services, timeoutMs: options.sandbox.timeoutMs, runs: runLog.record, limits: options.limits });
    let listenUrl: string | undefined; // set by listen()
    /** Where third parties reach this host: --public-url, else the address it listens on. */
    const publicBase = () => options.publicUrl ?? listenUrl ?? `http://localhost:${options.port}`;
    const pluginDb = createPluginDb({ store, options, now });
    const auditWrite = createAuditWrite({ store, now });
    const background = createBackground({ store, options, now, changed: () => events.emit('schedules:changed') });
    const sandbox = await createSandbox({
      ops: {
        ...httpOps(egress, options.limits), ...fdkRequestOps(egress, options.limits), ...dataOps(dataApi), ...kvOps(store.kv, options.kv, now, options.limits),
        ...targetUrlOps(secrets, publicBase),
        // The scheduler hears of schedule changes through the event bus (it is created later).
        ...pluginScheduleOps({ store, now, limits: options.schedules, changed: () => events.emit('schedules:changed') }),
      },
      memoryMb: options.sandbox.memoryMb,
      maxIsolates: options.sandbox.maxIsolates,
      maxResultBytes: options.sandbox.maxResultBytes,
      maxLogBytes: options.sandbox.maxLogBytes,
      spareIsolates: options.sandbox.spareIsolates,
      limits: options.limits,
      // The synchronous channel: Haplo service calls, P.db reads and writes, background jobs queued.
      services: (caller, request, deadline, log) => request.t === 'db' ? pluginDb.handle(caller, request as unknown as DbRequest)
        : request.t === 'background' ? background.enqueue(caller, request as unknown as BackgroundRequest)
          : request.t === 'audit' ? auditWrite(caller, request)
            : services.handler(caller, request, deadline, log),
      now,
      onFatal: (plugin, reason) => events.emit('sandbox:fatal', { installationId: plugin.installationId, workspaceId: plugin.workspaceId, reason }),
    });
    // Closed after the drain: runs it cuts are recorded (failed) before the recorder closes.
    releases.push(async () => {
      await sandbox.close();
      await executor.idle();
    });
    releases.push(() => messages.drain()); // sends record their outcome before the sandbox and store go

    const auth = createAuth(store, now);
    const pluginRegistry = createRegistry({ store, events, now });
    const installations = createInstallations({
      store, secrets, sandbox, events, now,
      async lifecycle(event, plugin) {
        const { run, outcome } = await (await runs.execute({ kind: 'app-event', workspaceId: plugin.workspaceId, installationId: plugin.installationId, event, payload: {}, plugin }, { trigger: 'manual' })).done;
        return run.status === 'succeeded' ? undefined : outcome?.error?.message ?? run.error?.message ?? `${event} failed`;
      },
      async afterChange(inst, loaded) {
        // Hooks are learnt by loading the code; without a load (inactive, broken) keep the known ones.
        const hooks = loaded?.hooks ?? (await store.schedules.ofInstallation(inst.id, 'hook')).map((s) => s.name!);
        await syncHookSchedules(store, inst, hooks, now());
        await syncPluginSchedules(store, inst, now());
        events.emit('schedules:changed');
        services.invalidate(inst.workspaceId);
        if (loaded?.services.includes('haplo:integration-message:discover')) {
          await messages.discover(inst.workspaceId).catch((err) => log.warn({ err, installation: inst.id }, 'integration-message discovery failed'));
        }
      },
    });
    const services = createServiceRegistry({ store, installations, sandbox, builtins: messages.builtins });
    events.on('installation:changed', (info) => {
      services.invalidate(info.workspaceId);
      if (info.change === 'uninstalled') void store.messages.dropQueuesOf(info.installationId, []).catch((err) => log.warn({ err }, 'could not drop the queues of an uninstalled plugin'));
    });
    const executor = createExecutor({ sandbox, runLog, now });
    const workspaces = createWorkspaces(store, now);
    const webhooks = createWebhooks({ store, secrets, now });
    const signatures = createRouteSignatures({ store, webhooks, now });
    const runs = createRuns({ store, installations, executor, runLog, egress, webhooks, now, routes: { auth, installations, executor, verifySignature: signatures.verify, baseUrl: publicBase } });
    const fire = createFire(runs);
    const scheduler = createScheduler({
      store, clock, events, log,
      fire,
      // The ledger will say these occurrences finished: their runs must be written first, so a
      // process killed right after cannot leave a finished occurrence without its run.
      beforeOutcomes: () => recorder.flush(),
      options: { ...options.schedules, leaseMs: options.sandbox.maxTimeoutMs + options.schedules.leaseMarginMs },
    });
    events.on('schedules:changed', () => void scheduler.wake());
    releases.push(() => scheduler.stop());
    if (options.operatorToken) await auth.ensureOperatorToken(options.operatorToken);
    let generatedOperatorToken: string | undefined;
    const app = createApp({ options, store, workspaces, registry: pluginRegistry, dataApi, recorder, log, metrics, webhooks, scheduler, clock, messages, cloneGuard, auth, installations, runs, secrets });

    let server: http.Server | undefined;
    let closing: Promise<void> | undefined;
    /** Set by `listen`: stops taking connections and waits for in-flight requests (at most `drainMs`). */
    let drainHttp: ((drainMs: number) => Promise<void>) | undefined;

    return {
      options, store, events, sandbox, egress, registry: pluginRegistry, services, messages, cloneGuard, installations, executor, runs, auth, workspaces, dataApi, recorder, metrics, clock, log,
      webhooks, scheduler,
      /** Starts the scheduler (serving HTTP is `listen`). */
      start: () => scheduler.start(),
      /** The operator token made by `ensureOperatorToken()` on this start (first start only); print it once. */
      get generatedOperatorToken(): string | undefined { return generatedOperatorToken; },
      /**
       * With no operator token configured and none stored, generates one (stored hashed) and
       * returns it, to be printed once. Call it only once the host serves (after `listen`).
       */
      async ensureOperatorToken(): Promise<string | undefined> {
        if (!options.operatorToken && generatedOperatorToken === undefined) generatedOperatorToken = await auth.ensureOperatorToken(undefined);
        return generatedOperatorToken;
      },
      callback: () => app.callback(),

      /**
       * Serves HTTP on `port` (0 for any free port); resolves with the base URL. `intercept`
       * may take some requests itself (the dev host's own endpoints); they drain like the rest.
       */
      async listen(port = options.port, host = '0.0.0.0', intercept?: (req: http.IncomingMessage) => http.RequestListener | undefined): Promise<string> {
        const appHandler = app.callback();
        const handle: http.RequestListener = (req, res) => void (intercept?.(req) ?? appHandler)(req, res);
        /** Responses not yet finished (or aborted): the requests a drain waits for. */
        const active = new Set<http.ServerResponse>();
        let draining = false;
        server = http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 120_000 }, (req, res) => {
          active.add(res);
          res.once('close', () => {
            active.delete(res);
            // Its socket may just have become idle: while draining, idle sockets are closed.
            if (draining) setImmediate(() => s.closeIdleConnections());
          });
          // A request on a kept-alive socket during the drain is served, then its socket closed.
          if (draining) noKeepAlive(res);
          handle(req, res);
        });
        server.maxHeadersCount = options.http.maxHeaders;
        const s = server;
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, host, () => { s.off('error', reject); resolve(); });
        });
        let drained: Promise<void> | undefined;
        drainHttp = (drainMs) => drained ??= (async () => {
          draining = true;
          const started = Date.now();
          const closed = new Promise<void>((resolve) => s.close(() => resolve()));
          for (const res of active) noKeepAlive(res);
          s.closeIdleConnections();
          const inFlight = active.size;
          if (inFlight > 0) log.info({ inFlight, drainMs }, `draining: waiting for ${inFlight} in-flight request(s), at most ${drainMs} ms`);
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), drainMs); });
          const outcome = await Promise.race([closed.then(() => 'closed' as const), timedOut]);
          clearTimeout(timer);
          if (outcome === 'timeout') {
            const cut = active.size;
            log.warn({ cut, drainMs }, `drain timeout after ${drainMs} ms: cutting ${cut} in-flight request(s)`);
            s.closeAllConnections();
            await closed;
          } else if (inFlight > 0) {
            log.info({ inFlight, ms: Date.now() - started }, `drained ${inFlight} in-flight request(s) in ${Date.now() - started} ms`);
          }
        })();
        releases.push(() => drainHttp!(0)); // after close() drained: done at once; else cuts now
        const address = s.address() as AddressInfo;
        listenUrl = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${address.port}`;
        return listenUrl;
      },

      /**
       * Shuts down: stops accepting connections and starting occurrences, lets in-flight HTTP
       * requests and scheduled runs finish for at most `drainMs` (default `options.drainMs`),
       * cuts what is left, then stops the scheduler, flushes the run recorder and closes the
       * sandbox and the store. Safe to call twice (the second call waits for the first).
       */
      close({ drainMs = options.drainMs }: { drainMs?: number } = {}): Promise<void> {
        closing ??= (async () => {
          const deadline = Date.now() + drainMs;
          const schedulerStopped = scheduler.stop().catch((err: unknown) => log.error({ err }, 'error while stopping the scheduler'));
          await drainHttp?.(drainMs).catch((err: unknown) => log.error({ err }, 'error while draining HTTP'));
          let timer: NodeJS.Timeout | undefined;
          const left = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())); });
          if ((await Promise.race([schedulerStopped.then(() => 'stopped' as const), left])) === 'timeout') {
            log.warn({ drainMs }, `drain timeout after ${drainMs} ms: scheduled runs still in flight are cut (their occurrences are retried after their lease)`);
          }
          clearTimeout(timer);
          await release();
        })();
        return closing;
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

export type Host = Awaited<ReturnType<typeof createHost>>;

/** The response closes its connection once sent (`connection: close`), unless its headers are out already. */
function noKeepAlive(res: http.ServerResponse): void {
  if (res.headersSent) return;
  res.shouldKeepAlive = false; // survives Koa's error path, which removes every header set before
  res.setHeader('connection', 'close');
}
