// One system of the scheduler-peers bench in its own process (forked by scheduler-peers.ts with
// an IPC channel): it gets one `DrainConfig` message, drains `jobs` units of work all due at one
// instant on the given PostgreSQL database and schema, answers one `{type: 'result', result}`
// (or `{type: 'error', message}`) and exits.
//
// - plughost: a whole host (servers.ts startTempHost on PostgreSQL, the schema given) with the
//   scheduler bench plugin (scheduler-host.ts); `jobs` daily scheduled webhooks calling its route
//   in-process, inserted through the store in one transaction. Done = `occurrence:finished`.
//   Then a short route load over loopback HTTP, for statements per route request.
// - graphile-worker: `run()` with `concurrency`, `pollInterval` 500 ms; `jobs` no-op jobs added
//   with one `addJobs`, all `runAt` the due instant. Done = the task handler returned.
// - pg-boss: one `work()` fetching batches of `concurrency` jobs (burst while batches come back
//   full, 0.5 s poll otherwise), running each batch's no-op handlers concurrently; `jobs` jobs
//   inserted with one `insert`, all `startAfter` the due instant. Done = the batch handler returned.
//
// CPU is this process's own (process.cpuUsage: user + system, all threads) from just before the
// due instant to the last done; PostgreSQL's own CPU is in no system's figure.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Host } from '../../runtime/host.ts';
import { packFiles } from '../../runtime/packages/pack.ts';
import { buildSchedules, insertSchedules, routeOf, schedPluginFiles, SCHED_PLUGIN, type SchedBenchHost } from './scheduler-host.ts';
import { startTempHost } from './servers.ts';

export type PeerSystem = 'pg-boss' | 'graphile-worker' | 'plughost';

export interface DrainConfig {
  system: PeerSystem;
  /** postgres://… of the bench's own database. */
  url: string;
  /** A schema of this round's own in that database (created here, dropped with the database). */
  schema: string;
  jobs: number;
  concurrency: number;
  /** How far after the end of the insert the due instant lies (at least; rounded up to a whole second). */
  leadMs: number;
  /** plughost only: route requests of the short load (0: none). */
  routeRequests: number;
}

export interface DrainResult {
  system: PeerSystem;
  jobs: number;
  concurrency: number;
  insertMs: number;
  /** How far ahead the due instant was when the workers started. */
  leadMs: number;
  /** Due instant → last done. */
  drainMs: number;
  jobsPerSec: number;
  /** Done − due, over every job. */
  lateness: { minMs: number; p50Ms: number; p99Ms: number; maxMs: number };
  cpuMsPerJob: number;
  /**
   * plughost only: knex 'query' events (BEGIN and COMMIT included) from just before the due
   * instant to the last run record written; `bySql`: the count of each statement's first 90 characters.
   */
  statements: { total: number; perOccurrence: number; bySql: Record<string, number> } | null;
  /** plughost only: knex 'query' events over a short route load, the run records flushed. */
  route: { requests: number; connections: number; ms: number; statements: number; perRequest: number } | null;
}

interface Drain {
  insertMs: number;
  leadMs: number;
  due: number;
  /** Done times (ms since epoch), one per job. */
  doneAt: number[];
  cpuMicros: number;
  statements: DrainResult['statements'];
  route: DrainResult['route'];
}

/** The route load's connections, as the route-throughput bench's default. */
const ROUTE_CONNECTIONS = 32;

const cpuNow = () => { const u = process.cpuUsage(); return u.user + u.system; };

/** The due instant: the estimated insert time plus the lead, rounded up to a whole second (webhooks need whole seconds). */
const dueAfter = (estimatedInsertMs: number, leadMs: number) => Math.ceil((Date.now() + estimatedInsertMs + leadMs) / 1000) * 1000;

function checkLead(system: string, due: number, insertMs: number): number {
  const lead = due - Date.now();
  if (lead < 300) throw new Error(`${system}: the insert took ${Math.round(insertMs)} ms and left ${lead} ms before the due instant; raise --lead`);
  return lead;
}

/**
 * Waits until `count` jobs are done (`doneAt` filled by the caller's handler); snapshots CPU just
 * before the due instant. Gives up with an error after `timeoutMs` past it.
 */
function watch(system: string, due: number, count: number, doneAt: number[], onSnapshot: () => void): { finished: Promise<number>; notify(): void } {
  let resolveAll!: (cpu: number) => void;
  let cpuStart = 0;
  const finished = new Promise<number>((resolve, reject) => {
    resolveAll = (cpuEnd) => resolve(cpuEnd - cpuStart);
    const timeoutMs = Math.max(120_000, count * 30);
    const timer = setTimeout(() => reject(new Error(`${system}: only ${doneAt.length} of ${count} done ${timeoutMs} ms after the due instant`)), due - Date.now() + timeoutMs);
    timer.unref();
  });
  const snap = setTimeout(() => { cpuStart = cpuNow(); onSnapshot(); }, Math.max(0, due - Date.now() - 100));
  snap.unref();
  return { finished, notify: () => { if (doneAt.length === count) resolveAll(cpuNow()); } };
}

async function drainPlughost(cfg: DrainConfig): Promise<Drain> {
  const b: SchedBenchHost = await startTempHost('plughost-peers-', async (host: Host) => {
    const files = new Map<string, Uint8Array>();
    for (const [name, text] of Object.entries(schedPluginFiles)) files.set(name, Buffer.from(text));
    await host.registry.publish(await packFiles(files), 'gzip');
    await host.workspaces.create({ id: 'bench0', name: 'bench0' });
    const inst = await host.installations.install('bench0', { plugin: SCHED_PLUGIN });
    const probe = await host.webhooks.create('bench0', { url: routeOf('bench0'), frequency: 'daily', start: '2099-01-01 00:00:00', timezone: 'UTC', isActive: false });
    const webhookSecret = (await host.store.schedules.get(probe.id))!.secret!;
    await host.store.schedules.delete(probe.id);
    return { installations: [{ workspaceId: 'bench0', installationId: inst.id }], webhookSecret };
  }, { databaseUrl: cfg.url, deps: { schema: cfg.schema } });
  const { host } = b;
  try {
    if (host.options.schedules.concurrency !== cfg.concurrency) throw new Error(`plughost runs ${host.options.schedules.concurrency} at once, the bench asked for ${cfg.concurrency}`);
    let queries = 0;
    let counting = false;
    const bySql = new Map<string, number>();
    host.store.db.on('query', (q: { sql: string }) => {
      queries++;
      if (!counting) return;
      const key = q.sql.slice(0, 90);
      bySql.set(key, (bySql.get(key) ?? 0) + 1);
    });
    const due = dueAfter(1_000 + cfg.jobs * 0.6, cfg.leadMs);
    const schedules = buildSchedules(b, 'webhook', cfg.jobs, () => due, 'peers');
    const t0 = performance.now();
    await insertSchedules(host, schedules);
    const insertMs = performance.now() - t0;
    const doneAt: number[] = [];
    const seen = new Set<string>();
    let failed = 0;
    let queriesAtDue = 0;
    const w = watch('plughost', due, cfg.jobs, doneAt, () => { queriesAtDue = queries; counting = true; });
    host.events.on('occurrence:finished', (info) => {
      if (seen.has(info.occurrenceId)) throw new Error(`plughost: occurrence ${info.occurrenceId} finished twice`);
      seen.add(info.occurrenceId);
      if (info.status !== 'succeeded') failed++;
      doneAt.push(Date.now());
      w.notify();
    });
    await host.start();
    const leadMs = checkLead('plughost', due, insertMs);
    const cpuMicros = await w.finished;
    if (failed) throw new Error(`plughost: ${failed} of ${cfg.jobs} occurrences did not succeed`);
    await host.scheduler.idle();
    await host.recorder.flush();
    const statements = { total: queries - queriesAtDue, perOccurrence: (queries - queriesAtDue) / cfg.jobs, bySql: Object.fromEntries([...bySql].sort((a, b) => b[1] - a[1])) };
    counting = false;
    await host.scheduler.stop();
    const route = cfg.routeRequests > 0 ? await routeLoad(host, cfg.routeRequests, () => queries) : null;
    return { insertMs, leadMs, due, doneAt, cpuMicros, statements, route };
  } finally {
    await b.close();
  }
}

/** `requests` GETs of the plugin route over ROUTE_CONNECTIONS kept-alive loopback connections (closed loop), after 100 uncounted ones. */
async function routeLoad(host: Host, requests: number, queries: () => number): Promise<DrainResult['route']> {
  const base = await host.listen(0, '127.0.0.1');
  const agent = new http.Agent({ keepAlive: true, maxSockets: ROUTE_CONNECTIONS });
  const get = () => new Promise<void>((resolve, reject) => {
    http.get(base + routeOf('bench0'), { agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`route answered ${res.statusCode}`))));
    }).on('error', reject);
  });
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: ROUTE_CONNECTIONS }, async () => { while (next++ < n) await get(); }));
  };
  try {
    await run(100);
    await host.recorder.flush();
    const q0 = queries();
    const t0 = performance.now();
    await run(requests);
    const ms = performance.now() - t0;
    await host.recorder.flush();
    const statements = queries() - q0;
    return { requests, connections: ROUTE_CONNECTIONS, ms, statements, perRequest: statements / requests };
  } finally {
    agent.destroy();
  }
}

async function drainGraphile(cfg: DrainConfig): Promise<Drain> {
  const { makeWorkerUtils, run, Logger } = await import('graphile-worker');
  const logger = new Logger(() => () => {});
  const utils = await makeWorkerUtils({ connectionString: cfg.url, schema: cfg.schema, logger });
  try {
    await utils.migrate();
    const due = dueAfter(500 + cfg.jobs * 0.1, cfg.leadMs);
    const runAt = new Date(due);
    const t0 = performance.now();
    await utils.addJobs(Array.from({ length: cfg.jobs }, (_, i) => ({ identifier: 'noop', payload: { i }, runAt })));
    const insertMs = performance.now() - t0;
    const doneAt: number[] = [];
    const seen = new Uint8Array(cfg.jobs);
    const w = watch('graphile-worker', due, cfg.jobs, doneAt, () => {});
    const runner = await run({
      connectionString: cfg.url, schema: cfg.schema, concurrency: cfg.concurrency, pollInterval: 500, noHandleSignals: true, logger,
      taskList: {
        noop: async (payload) => {
          const i = (payload as { i: number }).i;
          if (seen[i]++) throw new Error(`graphile-worker: job ${i} ran twice`);
          doneAt.push(Date.now());
          w.notify();
        },
      },
    });
    try {
      const leadMs = checkLead('graphile-worker', due, insertMs);
      const cpuMicros = await w.finished;
      return { insertMs, leadMs, due, doneAt, cpuMicros, statements: null, route: null };
    } finally {
      await runner.stop();
    }
  } finally {
    await utils.release();
  }
}

async function drainPgBoss(cfg: DrainConfig): Promise<Drain> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: cfg.url, schema: cfg.schema, supervise: false, schedule: false });
  boss.on('error', (err: Error) => process.stderr.write(`pg-boss: ${err.message}\n`));
  await boss.start();
  try {
    await boss.createQueue('noop');
    const due = dueAfter(500 + cfg.jobs * 0.1, cfg.leadMs);
    const startAfter = new Date(due);
    const t0 = performance.now();
    await boss.insert('noop', Array.from({ length: cfg.jobs }, (_, i) => ({ data: { i }, startAfter })));
    const insertMs = performance.now() - t0;
    const doneAt: number[] = [];
    const seen = new Uint8Array(cfg.jobs);
    const w = watch('pg-boss', due, cfg.jobs, doneAt, () => {});
    const noop = async (i: number) => {
      if (seen[i]++) throw new Error(`pg-boss: job ${i} ran twice`);
      doneAt.push(Date.now());
    };
    await boss.work<{ i: number }>('noop', { batchSize: cfg.concurrency, localConcurrency: 1, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true }, async (jobs) => {
      await Promise.all(jobs.map((j) => noop(j.data.i)));
      w.notify();
    });
    const leadMs = checkLead('pg-boss', due, insertMs);
    const cpuMicros = await w.finished;
    return { insertMs, leadMs, due, doneAt, cpuMicros, statements: null, route: null };
  } finally {
    await boss.stop({ graceful: true, close: true, timeout: 10_000 });
  }
}

function nearestRank(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export async function drain(cfg: DrainConfig): Promise<DrainResult> {
  const d = cfg.system === 'plughost' ? await drainPlughost(cfg) : cfg.system === 'graphile-worker' ? await drainGraphile(cfg) : await drainPgBoss(cfg);
  const late = d.doneAt.map((t) => t - d.due).sort((a, b) => a - b);
  // graphile-worker and pg-boss compare with PostgreSQL's clock, on this machine: a job done well before it was due means the bench is wrong.
  if (late[0]! < -1_000) throw new Error(`${cfg.system}: a job was done ${-late[0]!} ms before it was due`);
  const drainMs = Math.max(1, late.at(-1)!);
  return {
    system: cfg.system, jobs: cfg.jobs, concurrency: cfg.concurrency, insertMs: d.insertMs, leadMs: d.leadMs, drainMs,
    jobsPerSec: cfg.jobs / drainMs * 1000,
    lateness: { minMs: late[0]!, p50Ms: nearestRank(late, 50), p99Ms: nearestRank(late, 99), maxMs: late.at(-1)! },
    cpuMsPerJob: d.cpuMicros / 1000 / cfg.jobs,
    statements: d.statements,
    route: d.route,
  };
}

if (import.meta.main) {
  process.once('message', (cfg: DrainConfig) => {
    drain(cfg).then(
      (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
      (err: Error) => process.send!({ type: 'error', message: err.stack ?? err.message }, () => process.exit(1)),
    );
  });
}
