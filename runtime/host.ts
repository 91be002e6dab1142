// createHost: wires the store, sandbox, egress, registry, installations, executor and HTTP
// app into one handle. `listen()` serves HTTP; `close()` releases everything in reverse
// order of acquisition and is safe to call twice.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuth } from './auth.ts';
import { systemClock, type Clock } from './clock.ts';
import { createDataApi } from './data-api.ts';
import { createEgressClient, createEgressPolicy, type Lookup } from './egress/index.ts';
import { HostEvents } from './events.ts';
import { createCloneGuard } from './haplo/clone-guard.ts';
import { createIntegrationMessages } from './haplo/integration-messages.ts';
import { createServiceRegistry, type ServiceRegistry } from './haplo/services.ts';
import { createExecutor } from './executor.ts';
import { createApp } from './http/app.ts';
import { createInstallations } from './installations.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import type { HostOptions } from './options.ts';
import { createRegistry } from './registry.ts';
import { createRunRecorder } from './run-recorder.ts';
import type { Headers } from './route-call.ts';
import { createFire } from './schedule/firing.ts';
import { syncHookSchedules, syncPluginSchedules } from './schedule/hooks.ts';
import { pluginScheduleOps } from './schedule/plugin-schedules.ts';
import { createScheduler } from './schedule/scheduler.ts';
import { verifySignatureHeader } from './schedule/signature.ts';
import { createWebhooks } from './schedule/webhooks.ts';
import { dataOps, httpOps, kvOps, sleepOps } from './sandbox/ops/index.ts';
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
    const store: Store = await createStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, ...(deps.schema ? { schema: deps.schema } : {}) });
    releases.push(() => store.close());
    const secrets = createSecrets(await loadSecretKey(store, options.dataDir, options.secretKey));
    const events = new HostEvents();
    const egress = createEgressClient({
      policy: createEgressPolicy({ allow: options.egressAllow, map: options.egressMap, ...(deps.lookup ? { lookup: deps.lookup } : {}) }),
      limits: { maxResponseBytes: options.egress.maxResponseBytes, timeoutMs: options.egress.timeoutMs },
    });
    const dataApi = createDataApi(store, now);
    let warmIsolates = () => 0;
    let wakeScheduler = () => {}; // bound once the scheduler exists; the ops below need it first
    let services: ServiceRegistry | undefined; // likewise: it needs the sandbox that needs it
    const cloneGuard = await createCloneGuard(store, options.dataDir);
    const messages = createIntegrationMessages({ store, egress, cloneGuard, now, registry: () => services!, timeoutMs: options.sandbox.timeoutMs });
    const metrics = createMetrics({ warmIsolates: () => warmIsolates() });
    const sandbox = await createSandbox({
      ops: {
        ...sleepOps, ...httpOps(egress), ...dataOps(dataApi), ...kvOps(store.kv, options.kv, now),
        ...pluginScheduleOps({ store, now, limits: options.schedules, changed: () => wakeScheduler() }),
      },
      memoryMb: options.sandbox.memoryMb,
      maxIsolates: options.sandbox.maxIsolates,
      maxResultBytes: options.sandbox.maxResultBytes,
      maxLogBytes: options.sandbox.maxLogBytes,
      spareIsolates: options.sandbox.spareIsolates,
      services: (caller, request, deadline, log) => services!.handler(caller, request, deadline, log),
      now,
      onFatal: (plugin, reason) => {
        metrics.fatal.inc({ reason: reason.split(':')[0]! });
        events.emit('sandbox:fatal', { installationId: plugin.installationId, workspaceId: plugin.workspaceId, reason });
      },
    });
    releases.push(() => sandbox.close());
    releases.push(() => messages.drain()); // sends record their outcome before the sandbox and store go
    warmIsolates = () => sandbox.stats().warm;
    const recorder = createRunRecorder(store, { onError: (err) => log.error({ err }, 'could not record runs') });
    releases.push(() => recorder.close());

    const auth = createAuth(store, now);
    const pluginRegistry = createRegistry({ store, events, now });
    const installations = createInstallations({
      store, secrets, sandbox, events, now,
      async afterChange(inst, loaded) {
        // Hooks are learnt by loading the code; without a load (inactive, broken) keep the known ones.
        const hooks = loaded?.hooks ?? (await store.schedules.ofInstallation(inst.id, 'hook')).map((s) => s.name!);
        await syncHookSchedules(store, inst, hooks, now());
        await syncPluginSchedules(store, inst, now());
        wakeScheduler();
        services?.invalidate(inst.workspaceId);
        if (loaded?.services.includes('haplo:integration-message:discover')) {
          await messages.discover(inst.workspaceId).catch((err) => log.warn({ err, installation: inst.id }, 'integration-message discovery failed'));
        }
      },
    });
    services = createServiceRegistry({ store, installations, sandbox, builtins: messages.builtins });
    events.on('installation:changed', (info) => {
      services?.invalidate(info.workspaceId);
      if (info.change === 'uninstalled') void store.messages.dropQueuesOf(info.installationId, []).catch((err) => log.warn({ err }, 'could not drop the queues of an uninstalled plugin'));
    });
    const executor = createExecutor({ sandbox, recorder, events, metrics, now });
    const workspaces = createWorkspaces(store, now);
    const webhooks = createWebhooks({ store, secrets, now });
    const verifySignature = async (workspaceId: string, headers: Headers, rawBody: string) => {
      const header = headers['x-plughost-signature'];
      const signature = Array.isArray(header) ? header[0] : header;
      if (!signature) return false;
      for (const s of await store.schedules.list(workspaceId, ['webhook'])) {
        if (verifySignatureHeader(signature, webhooks.secretOf(s), rawBody, now())) return true;
      }
      return false;
    };
    const routes = { auth, installations, executor, verifySignature };
    const fire = createFire({ store, installations, executor, egress, webhooks, routes, now });
    const scheduler = createScheduler({
      store, clock, events, log,
      fire: async (s, o, attempt) => {
        const result = await fire(s, o, attempt);
        // The ledger will say this occurrence finished: its run must be written first, so a
        // process killed right after cannot leave a finished occurrence without its run.
        await recorder.flush();
        return result;
      },
      options: { ...options.schedules, leaseMs: options.sandbox.maxTimeoutMs + options.schedules.leaseMarginMs },
    });
    wakeScheduler = () => void scheduler.wake();
    releases.push(() => scheduler.stop());
    const generatedOperatorToken = await auth.ensureOperatorToken(options.operatorToken);
    const app = createApp({ options, store, workspaces, registry: pluginRegistry, dataApi, recorder, log, metrics, webhooks, scheduler, clock, messages, cloneGuard, ...routes });

    let server: http.Server | undefined;
    let closing: Promise<void> | undefined;

    return {
      options, store, events, sandbox, registry: pluginRegistry, services: services!, messages, cloneGuard, installations, executor, auth, workspaces, dataApi, recorder, metrics, clock, log,
      webhooks, scheduler,
      /** Starts the scheduler (serving HTTP is `listen`). */
      start: () => scheduler.start(),
      /** The operator token made on this start (first start only); print it once. */
      generatedOperatorToken,
      callback: () => app.callback(),

      /** Serves HTTP on `port` (0 for any free port); resolves with the base URL. */
      async listen(port = options.port, host = '0.0.0.0'): Promise<string> {
        server = http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 120_000 }, app.callback());
        server.maxHeadersCount = options.http.maxHeaders;
        const s = server;
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, host, () => { s.off('error', reject); resolve(); });
        });
        releases.push(() => new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }));
        const address = s.address() as AddressInfo;
        return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
      },

      close(): Promise<void> {
        closing ??= release();
        return closing;
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

export type Host = Awaited<ReturnType<typeof createHost>>;
