// Scheduler firing on the REAL clock: `count` schedules all due at the same instant a few
// seconds ahead (or spread over `spreadMs`), on SQLite, fire through the host's own scheduler
// with default options. Checked: every schedule fired exactly once (the ledger has `count`
// occurrences, each `succeeded` at attempt 1, `count` runs with distinct idempotency keys,
// one `schedule:fired` per occurrence). Measured: lateness (run start − due, both real
// clock) p50/p99/max, the planning phase, the firing phase, and the firing throughput.
//
// Then, in the same process on the same occurrences table (scheduler stopped), the baseline:
// a bare claim loop that takes `count` fresh pending rows in batches and does only the claim
// UPDATE and the finish UPDATE of each (the same conditional statements as
// runtime/store/occurrences.ts), with knex, no plugin execution. Ratio = scheduler firing
// throughput / bare loop throughput.
import { performance } from 'node:perf_hooks';
import { newId } from '../../runtime/ids.ts';
import { occurrencesTable, type Occurrence } from '../../runtime/store/occurrences.ts';
import { buildSchedules, insertSchedules, PER_INSTALLATION, startSchedBenchHost, type BenchKind } from './scheduler-host.ts';
import { percentile } from './stats.ts';

export interface FiringOptions {
  count?: number;
  kind?: BenchKind;
  /** How far ahead of the end of the insert the (first) due time lies. */
  leadMs?: number;
  /** 0: all due at one instant; otherwise due times spread evenly over this window. */
  spreadMs?: number;
  /** Gives up (with an error naming what is missing) after this long past the last due time. */
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface FiringResult {
  kind: BenchKind;
  count: number;
  spreadMs: number;
  concurrency: number;
  /** Time to insert the schedules (one transaction through store.schedules.insert). */
  insertMs: number;
  /** How far ahead the first due time was when the scheduler was started. */
  leadMs: number;
  lateness: { p50Ms: number; p99Ms: number; maxMs: number; minMs: number };
  /** First due time → first `schedule:fired` (a pass plans every due schedule before it claims any). */
  firstFireAfterDueMs: number;
  /** First `schedule:fired` → last occurrence finished. */
  firingPhaseMs: number;
  /** Occurrences per second over the firing phase. */
  firingPerSec: number;
  /** Occurrences per second from the (first) due time to the last finish: planning included. */
  endToEndPerSec: number;
  check: { occurrences: number; succeeded: number; attemptOne: number; distinctSchedules: number; runs: number; distinctRunKeys: number; firedEvents: number; distinctFired: number; noneTwice: boolean };
  bare: { count: number; ms: number; perSec: number; succeeded: number };
  /** firingPerSec / bare.perSec. */
  ratio: number;
  /** endToEndPerSec / bare.perSec. */
  ratioEndToEnd: number;
}

export async function measureFiring(opts: FiringOptions = {}): Promise<FiringResult> {
  const count = opts.count ?? 10_000;
  const kind = opts.kind ?? 'webhook';
  const spreadMs = opts.spreadMs ?? 0;
  const progress = opts.onProgress ?? (() => {});
  const b = await startSchedBenchHost({ workspaces: kind === 'plugin' ? Math.ceil(count / PER_INSTALLATION) : 1 });
  const { host } = b;
  const db = host.store.db;
  try {
    // The due time: the insert's estimated length plus the lead, rounded up to a whole second.
    const lead = opts.leadMs ?? 5_000;
    const estimatedInsertMs = 500 + count * 0.3;
    const due0 = Math.ceil((Date.now() + estimatedInsertMs + lead) / 1000) * 1000;
    const step = count > 1 && spreadMs > 0 ? Math.floor(spreadMs / (count - 1) / 1000) * 1000 : 0;
    if (kind === 'webhook' && spreadMs > 0 && step === 0) throw new Error('webhook due times are whole seconds: spread them over at least count-1 seconds, or use --kind plugin');
    const dueOf = (i: number) => (kind === 'webhook' ? due0 + step * i : due0 + Math.floor((spreadMs * i) / Math.max(1, count - 1)));
    const schedules = buildSchedules(b, kind, count, dueOf, 'fire');
    const t0 = performance.now();
    await insertSchedules(host, schedules);
    const insertMs = performance.now() - t0;
    const leadMs = due0 - Date.now();
    if (leadMs < 500) throw new Error(`inserting ${count} schedules took ${Math.round(insertMs)} ms and left only ${leadMs} ms before the due time; raise --lead`);
    progress(`scheduler fire: ${count} ${kind} schedules inserted in ${Math.round(insertMs)} ms; due in ${leadMs} ms`);

    const fired = new Map<string, number>();
    let firstFireAt = 0;
    let finished = 0;
    let lastFinishAt = 0;
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => { allDone = resolve; });
    host.events.on('schedule:fired', (info) => {
      if (firstFireAt === 0) firstFireAt = Date.now();
      fired.set(info.occurrenceId, (fired.get(info.occurrenceId) ?? 0) + 1);
    });
    host.events.on('occurrence:finished', () => {
      finished++;
      lastFinishAt = Date.now();
      if (finished % Math.max(1, Math.round(count / 10)) === 0) progress(`scheduler fire: ${finished}/${count} finished`);
      if (finished >= count) allDone();
    });
    await host.start();

    const lastDue = dueOf(count - 1);
    const timeoutMs = opts.timeoutMs ?? Math.max(120_000, count * 30);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${finished} of ${count} occurrences finished within ${timeoutMs} ms after the last due time (${fired.size} fired)`)), lastDue - Date.now() + timeoutMs);
    })]).finally(() => clearTimeout(timer));
    await host.scheduler.idle();
    await host.scheduler.stop();
    await host.recorder.flush();

    // The ledger: every schedule fired once, and only once.
    const ids = schedules.map((s) => s.id);
    const occ: Array<{ id: string; schedule_id: string; due_at: number; idempotency_key: string; status: string; attempt: number }> = [];
    for (let i = 0; i < ids.length; i += 500) {
      occ.push(...await db('occurrences').whereIn('schedule_id', ids.slice(i, i + 500)).select('id', 'schedule_id', 'due_at', 'idempotency_key', 'status', 'attempt'));
    }
    const runs: Array<{ idempotency_key: string; started_at: number; status: string }> = await db('runs').whereNotNull('schedule_id').select('idempotency_key', 'started_at', 'status');
    const dueByKey = new Map(occ.map((o) => [o.idempotency_key, Number(o.due_at)]));
    const lateness = runs.filter((r) => dueByKey.has(r.idempotency_key)).map((r) => Number(r.started_at) - dueByKey.get(r.idempotency_key)!);
    const check = {
      occurrences: occ.length,
      succeeded: occ.filter((o) => o.status === 'succeeded').length,
      attemptOne: occ.filter((o) => Number(o.attempt) === 1).length,
      distinctSchedules: new Set(occ.map((o) => o.schedule_id)).size,
      runs: runs.length,
      distinctRunKeys: new Set(runs.map((r) => r.idempotency_key)).size,
      firedEvents: [...fired.values()].reduce((a, n) => a + n, 0),
      distinctFired: fired.size,
      noneTwice: false,
    };
    check.noneTwice = check.occurrences === count && check.succeeded === count && check.attemptOne === count && check.distinctSchedules === count
      && check.runs === count && check.distinctRunKeys === count && check.firedEvents === count && check.distinctFired === count;
    const firingPhaseMs = lastFinishAt - firstFireAt;

    // The baseline on the same table: claim + finish UPDATEs only.
    const bare = await bareClaimLoop(host.store.db, schedules.map((s) => ({ id: s.id, workspaceId: s.workspaceId })), host.options.schedules.batch, progress);

    const firingPerSec = count / Math.max(firingPhaseMs, 1) * 1000;
    const endToEndPerSec = count / Math.max(lastFinishAt - due0, 1) * 1000;
    return {
      kind, count, spreadMs, concurrency: host.options.schedules.concurrency, insertMs, leadMs,
      lateness: { p50Ms: percentile(lateness, 50), p99Ms: percentile(lateness, 99), maxMs: Math.max(...lateness), minMs: Math.min(...lateness) },
      firstFireAfterDueMs: firstFireAt - due0, firingPhaseMs, firingPerSec, endToEndPerSec, check, bare,
      ratio: firingPerSec / bare.perSec, ratioEndToEnd: endToEndPerSec / bare.perSec,
    };
  } finally {
    await b.close();
  }
}

/**
 * Inserts one fresh pending occurrence per schedule, then claims and finishes them all with the
 * ledger's own statements (runtime/store/occurrences.ts): `claimBatch` of `batch` rows, then one
 * `finishMany` for them, until nothing is claimable.
 */
export async function bareClaimLoop(db: import('knex').Knex, schedules: Array<{ id: string; workspaceId: string }>, batch: number, progress: (line: string) => void) {
  const now = Date.now();
  const rows: Occurrence[] = schedules.map((s) => ({
    id: newId('occ', now), scheduleId: s.id, workspaceId: s.workspaceId, dueAt: now, idempotencyKey: `bare:${s.id}@${now}`, trigger: 'schedule',
    status: 'pending', attempt: 0, failures: 0, availableAt: now, leaseOwner: null, leaseUntil: null, lastRunId: null, error: null, createdAt: now, finishedAt: null,
  }));
  const ledger = occurrencesTable(db);
  await db.transaction((trx) => ledger.insertNew(rows, trx));
  const owner = 'bare-loop';
  const t0 = performance.now();
  let done = 0;
  for (;;) {
    const at = Date.now();
    const claimed = (await ledger.claimBatch(at, owner, at + 90_000, batch)).filter((o) => o.status === 'running');
    if (claimed.length === 0) break;
    const finished = await ledger.finishMany(owner, claimed.map((o) => ({ id: o.id, status: 'succeeded', failures: 0, lastRunId: null, error: null, finishedAt: Date.now() })));
    done += finished.size;
  }
  const ms = performance.now() - t0;
  progress(`bare claim loop: ${done}/${rows.length} claimed and finished in ${Math.round(ms)} ms`);
  const keys = rows.map((r) => r.idempotencyKey);
  let succeeded = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const row = await db('occurrences').whereIn('idempotency_key', keys.slice(i, i + 500)).andWhere({ status: 'succeeded', attempt: 1 }).count({ n: '*' }).first();
    succeeded += Number(row?.n ?? 0);
  }
  return { count: rows.length, ms, perSec: rows.length / Math.max(ms, 1) * 1000, succeeded };
}

