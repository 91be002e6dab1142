// The scheduler decides what is due and claims it; `fire` (one function for every kind) runs
// it. A pass plans due schedules into ledger rows, claims what it can run, and sleeps on the
// injected clock until the earliest next due time, lease expiry or retry (capped by
// `pollMs`, so changes made by other nodes are seen). `stop()` wakes and ends the loop.
import type { Clock, TimerHandle } from '../clock.ts';
import type { HostEvents } from '../events.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import type { Occurrence, OccurrenceTrigger } from '../store/occurrences.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import { createOutcomes } from './outcomes.ts';
import { planSchedule } from './planner.ts';

export interface FireResult { ok: boolean; runId: string | null; error?: string | undefined; noRetry?: boolean | undefined }
export type Fire = (schedule: Schedule, occurrence: Occurrence, run: { trigger: OccurrenceTrigger | 'retry'; attempt: number }) => Promise<FireResult>;

export interface SchedulerOptions {
  graceMs: number;
  catchUpCap: number;
  concurrency: number;
  leaseMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  pollMs: number;
  batch: number;
  /** How long a finished occurrence's outcome waits for others' (while runs are in flight) before they are written together. */
  outcomeDelayMs: number;
}

export interface SchedulerDeps {
  store: Store; clock: Clock; events: HostEvents; log: Logger; fire: Fire; options: SchedulerOptions; nodeId?: string;
  /** Called before each write of outcomes: the runs they name must be on record first. */
  beforeOutcomes?: () => Promise<void>;
}

export function createScheduler(deps: SchedulerDeps) {
  const { store, clock, events, log, fire, options } = deps;
  const nodeId = deps.nodeId ?? newId('node');
  /** Every occurrence this node has started and not yet recorded. */
  const inFlight = new Set<Promise<void>>();
  /** Occurrences whose run is going (the concurrency limit counts these). */
  let executing = 0;
  /**
   * Schedules as the current pass read them to plan, by id, until their occurrence is claimed:
   * a claim need not read them again. Cleared at every pass, so an edit is seen by the next.
   */
  let planned = new Map<string, Schedule>();
  let timer: TimerHandle | undefined;
  /** A real-clock look again while another node holds work (see arm). */
  let recheck: NodeJS.Timeout | undefined;
  let contendedMs = 0;
  let started = false;
  let stopped = false;
  let lastPassAt: number | null = null;
  let passes = 0;
  const counts: SchedulerCounts = { claims: 0, claimed: 0, planConflicts: 0, lostLeases: 0 };

  const outcomes = createOutcomes({
    store, log, owner: nodeId, leaseMs: options.leaseMs, delayMs: options.outcomeDelayMs, maxBatch: options.batch,
    busy: () => executing > 0,
    ...(deps.beforeOutcomes ? { beforeWrite: deps.beforeOutcomes } : {}),
  });

  /** Plans one batch of due schedules in one transaction; true when there may be more. */
  const planBatch = async (now: number): Promise<boolean> => store.db.transaction(async (trx) => {
    // Locked while planned (PostgreSQL), so other nodes planning at once take other schedules.
    const due = await store.schedules.due(now, options.batch, trx);
    if (due.length === 0) return false;
    for (const s of due) planned.set(s.id, s);
    const plans = due.map((s) => ({ s, p: planSchedule(s, now, options.graceMs, options.catchUpCap) }));
    // Only the node that moves next_run_at inserts; the unique key guards the rest.
    const moved = await store.schedules.advanceMany(plans.map(({ s, p }) => ({ id: s.id, from: s.nextRunAt!, to: p.next })), trx);
    counts.planConflicts += plans.length - moved.size;
    const rows: Occurrence[] = [];
    for (const { s, p } of plans) {
      if (!moved.has(s.id)) continue;
      for (const o of p.occurrences) {
        rows.push({
          id: newId('occ', now), scheduleId: s.id, workspaceId: s.workspaceId, dueAt: o.dueAt, idempotencyKey: `${s.id}@${o.dueAt}`,
          trigger: o.trigger, status: 'pending', attempt: 0, failures: 0, availableAt: o.dueAt, leaseOwner: null, leaseUntil: null,
          lastRunId: null, error: null, createdAt: now, finishedAt: null,
        });
      }
    }
    if (rows.length > 0) await store.occurrences.insertNew(rows, trx);
    return due.length === options.batch;
  });

  const execute = async (s: Schedule, o: Occurrence, attempt: number) => {
    const trigger = attempt > 1 ? 'retry' : o.trigger;
    events.emit('schedule:fired', { scheduleId: s.id, occurrenceId: o.id, idempotencyKey: o.idempotencyKey, trigger, attempt });
    let result: FireResult;
    executing++;
    try {
      result = await fire(s, o, { trigger, attempt });
    } catch (err) {
      log.error({ err, occurrence: o.id }, 'firing a schedule failed in the host');
      result = { ok: false, runId: null, error: (err as Error).message };
    } finally {
      executing--;
      refillIfRoom();
    }
    const now = clock.now();
    let status: Occurrence['status'] = result.ok ? 'succeeded' : 'failed';
    const failures = o.failures + (result.ok ? 0 : 1);
    let availableAt: number | undefined;
    // Manual runs (run now) are never retried: a failure is final, whatever maxRetries says.
    if (!result.ok && !result.noRetry && o.trigger !== 'manual' && failures <= s.maxRetries) {
      status = 'pending';
      availableAt = now + Math.min(options.backoffMs * 2 ** (failures - 1), options.maxBackoffMs);
    }
    const recorded = await outcomes.record({
      id: o.id, status, failures, lastRunId: result.runId, error: result.ok ? null : (result.error ?? 'failed'),
      availableAt, finishedAt: status === 'pending' ? null : now,
    });
    if (status === 'pending') void wake(); // the retry's time must be armed
    if (recorded === undefined) return; // logged: the lease decides, as after a crash
    if (!recorded) {
      counts.lostLeases++;
      log.warn({ occurrence: o.id }, 'lost the lease before finishing; another node re-ran this occurrence');
    }
    events.emit('occurrence:finished', { scheduleId: s.id, occurrenceId: o.id, idempotencyKey: o.idempotencyKey, status, runId: result.runId, attempt });
  };

  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.catch((err) => log.error({ err }, 'an occurrence failed in the host')).finally(() => {
      inFlight.delete(p);
      refillIfRoom(); // an outcome on record may let a queued occurrence of its schedule run (overlap: queue)
    });
  };

  /**
   * Claims again once half the slots are free (or all): each claim then brings several
   * occurrences when work is plentiful, and one statement claims them all.
   */
  function refillIfRoom() {
    if (executing === 0 || options.concurrency - executing >= options.concurrency / 2) refill();
  }

  /** Claims as many as there are free slots, in one statement, and starts them. */
  const claimAndRun = async (now: number) => {
    const room = options.concurrency - executing;
    if (room <= 0) return;
    const claimed = (await store.occurrences.claimBatch(now, nodeId, now + options.leaseMs, Math.min(room, options.batch))).filter((o) => o.status === 'running');
    counts.claims++;
    counts.claimed += claimed.length;
    if (claimed.length === 0) return;
    const unread = [...new Set(claimed.map((o) => o.scheduleId))].filter((id) => !planned.has(id));
    const schedules = unread.length > 0 ? await store.schedules.getMany(unread) : new Map<string, Schedule>();
    for (const o of claimed.sort((a, b) => a.availableAt - b.availableAt)) {
      const s = planned.get(o.scheduleId) ?? schedules.get(o.scheduleId);
      planned.delete(o.scheduleId);
      // A schedule deleted meanwhile takes its occurrences with it (the foreign key cascades).
      if (s) track(execute(s, o, o.attempt));
    }
  };

  /** Sets the timer for the next pass; `passedAt` is the time the pass that calls it planned up to. */
  const arm = async (passedAt: number) => {
    if (stopped) return;
    const next = await store.occurrences.nextWake();
    const now = clock.now();
    // A schedule that fell due while this pass ran (the clock moved on) is planned right away,
    // and a lease that lapsed meanwhile is claimed right away.
    if (next.schedule !== null && next.schedule <= now && next.schedule > passedAt) void passLoop.run();
    else if (next.lease !== null && next.lease <= now) void claimLoop.run();
    // Work this node could not take yet: due schedules another node holds while planning them,
    // or available occurrences while slots are free (just planned by another node, or waiting
    // their turn). Look again soon on the real clock, backing off to the poll interval, so a
    // node that lost the race for planning shares the backlog instead of sleeping through it.
    const contended = (next.schedule !== null && next.schedule <= passedAt) || (next.pending !== null && next.pending <= now && executing < options.concurrency);
    contendedMs = contended ? Math.min(Math.max(10, contendedMs * 2), options.pollMs) : 0;
    if (recheck) clearTimeout(recheck);
    recheck = contended ? setTimeout(() => void wake(), contendedMs).unref() : undefined;
    const at = Math.min(now + options.pollMs, ...[next.schedule, next.pending, next.lease].filter((t): t is number => t !== null && t > now));
    timer?.cancel();
    timer = clock.at(at, wake);
  };

  const pass = async () => {
    const now = clock.now();
    planned = new Map();
    // Claim after each planned batch, so a large backlog starts firing while it is planned.
    let more = true;
    while (more && !stopped) {
      more = await planBatch(now);
      await claimLoop.run();
    }
    await arm(now);
    // Only a pass that got here without throwing counts (health()).
    passes++;
    lastPassAt = clock.now();
  };

  /** A failed pass or claim is logged and tried again within a second (or the poll interval). */
  const retrySoon = (err: unknown) => {
    log.error({ err }, 'scheduler pass failed; retrying on the next wake');
    timer?.cancel();
    if (!stopped) timer = clock.at(clock.now() + Math.min(options.pollMs, 1000), wake);
  };
  // Passes (plan, claim, arm) and claims each run one at a time, apart from each other: a claim
  // after a run ends need not wait for a pass planning a large backlog.
  const passLoop = singleFlight(() => (stopped ? Promise.resolve() : pass().catch(retrySoon)));
  const claimLoop = singleFlight(() => (stopped ? Promise.resolve() : claimAndRun(clock.now()).catch(retrySoon)));
  /** Runs a pass now (or right after the current one); resolves when that pass is done. */
  function wake(): Promise<void> { return stopped || !started ? Promise.resolve() : passLoop.run(); }
  /** The lighter step after a run ends: claim and start, without planning or re-arming. */
  function refill(): void { if (!stopped && started) void claimLoop.run(); }

  return {
    nodeId,
    start(): Promise<void> {
      if (started || stopped) return Promise.resolve();
      started = true;
      return wake();
    },
    wake,
    /** For health checks: when the last pass that completed without error ended, the longest sleep between passes, and how many such passes there were. */
    health(): { lastPassAt: number | null; pollMs: number; passes: number } {
      return { lastPassAt, pollMs: options.pollMs, passes };
    },
    /** Counters since start, for metrics and the cluster bench. */
    counts(): SchedulerCounts {
      return { ...counts };
    },
    /** Resolves when no pass and no occurrence is in flight (tests await this after moving time). */
    async idle(): Promise<void> {
      while (passLoop.current || claimLoop.current || inFlight.size > 0) {
        await passLoop.current;
        await claimLoop.current;
        await Promise.all([...inFlight]);
      }
    },
    /**
     * Creates and runs an occurrence now (run now); resolves with it once it has finished. A manual
     * run is never retried. Running a one-time plugin schedule ($schedule without `repeat`) now
     * consumes it: its next_run_at becomes null, so it does not fire again at its time.
     */
    async runNow(s: Schedule): Promise<{ occurrenceId: string; idempotencyKey: string }> {
      const now = clock.now();
      // Consumed before it runs, so a pass at its due time cannot fire it a second time meanwhile.
      if (isOneTimePlugin(s) && s.nextRunAt !== null) await store.schedules.advanceMany([{ id: s.id, from: s.nextRunAt, to: null }]);
      const id = newId('occ', now);
      const o: Occurrence = {
        id, scheduleId: s.id, workspaceId: s.workspaceId, dueAt: now, idempotencyKey: `${s.id}@manual-${id}`, trigger: 'manual',
        status: 'running', attempt: 1, failures: 0, availableAt: now, leaseOwner: nodeId, leaseUntil: now + options.leaseMs,
        lastRunId: null, error: null, createdAt: now, finishedAt: null,
      };
      await store.occurrences.insertNew([o]);
      const p = execute(s, o, 1);
      track(p);
      await p;
      return { occurrenceId: id, idempotencyKey: o.idempotencyKey };
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      timer?.cancel();
      if (recheck) clearTimeout(recheck);
      await passLoop.current;
      await claimLoop.current;
      await Promise.all([...inFlight]);
    },
  };
}
export type Scheduler = ReturnType<typeof createScheduler>;

export interface SchedulerCounts {
  /** Claim statements this node ran. */
  claims: number;
  /** Occurrences they claimed for it. */
  claimed: number;
  /** Due schedules this node read but another node planned first (the conditional advance found them moved). */
  planConflicts: number;
  /** Outcomes not recorded because the lease had passed to another node. */
  lostLeases: number;
}

/** Runs `fn` now, or once more right after the run in progress; resolves when that later run has ended. */
function singleFlight(fn: () => Promise<void>) {
  let current: Promise<void> | undefined;
  let again = false;
  return {
    get current() { return current; },
    run(): Promise<void> {
      if (current) {
        again = true;
        return current;
      }
      current = (async () => {
        try {
          do {
            again = false;
            await fn();
          } while (again);
        } finally {
          current = undefined;
        }
      })();
      return current;
    },
  };
}

/** A Freshworks `$schedule` without `repeat`, or a Haplo background job: it fires once. */
const isOneTimePlugin = (s: Schedule) => (s.kind === 'plugin' || s.kind === 'background') && s.recurrence.type === 'interval' && s.recurrence.everyMs === undefined;
