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
import { isConnectionError, isStoreFull } from '../store/dialect.ts';
import type { Store } from '../store/store.ts';
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
}

export interface SchedulerDeps { store: Store; clock: Clock; events: HostEvents; log: Logger; fire: Fire; options: SchedulerOptions; nodeId?: string }

export function createScheduler(deps: SchedulerDeps) {
  const { store, clock, events, log, fire, options } = deps;
  const nodeId = deps.nodeId ?? newId('node');
  const inFlight = new Set<Promise<void>>();
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let started = false;
  let stopped = false;
  let lastPassAt: number | null = null;
  let passes = 0;

  /** Plans one batch of due schedules in one transaction; true when there may be more. */
  const planBatch = async (now: number): Promise<boolean> => {
    const due = await store.schedules.due(now, options.batch);
    if (due.length === 0) return false;
    await store.db.transaction(async (trx) => {
      const rows: Occurrence[] = [];
      for (const s of due) {
        const p = planSchedule(s, now, options.graceMs, options.catchUpCap);
        // Only the node that moves next_run_at inserts; the unique key guards the rest.
        if (!(await store.schedules.advance(s.id, s.nextRunAt!, p.next, trx))) continue;
        for (const o of p.occurrences) {
          rows.push({
            id: newId('occ', now), scheduleId: s.id, workspaceId: s.workspaceId, dueAt: o.dueAt, idempotencyKey: `${s.id}@${o.dueAt}`,
            trigger: o.trigger, status: 'pending', attempt: 0, failures: 0, availableAt: o.dueAt, leaseOwner: null, leaseUntil: null,
            lastRunId: null, error: null, createdAt: now, finishedAt: null,
          });
        }
      }
      await store.occurrences.insertNew(rows, trx);
    });
    return due.length === options.batch;
  };

  const execute = async (s: Schedule, o: Occurrence, attempt: number) => {
    const trigger = attempt > 1 ? 'retry' : o.trigger;
    events.emit('schedule:fired', { scheduleId: s.id, occurrenceId: o.id, idempotencyKey: o.idempotencyKey, trigger, attempt });
    let result: FireResult;
    try {
      result = await fire(s, o, { trigger, attempt });
    } catch (err) {
      log.error({ err, occurrence: o.id }, 'firing a schedule failed in the host');
      result = { ok: false, runId: null, error: (err as Error).message };
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
    const recorded = await finishDurably(o, {
      status, failures, lastRunId: result.runId, error: result.ok ? null : (result.error ?? 'failed'),
      ...(availableAt !== undefined ? { availableAt } : {}), finishedAt: status === 'pending' ? null : now,
    });
    if (recorded === undefined) return; // logged: the lease decides, as after a crash
    if (!recorded) log.warn({ occurrence: o.id }, 'lost the lease before finishing; another node re-ran this occurrence');
    events.emit('occurrence:finished', { scheduleId: s.id, occurrenceId: o.id, idempotencyKey: o.idempotencyKey, status, runId: result.runId, attempt });
  };

  /**
   * Records an occurrence's outcome, retrying while the store is unreachable or full: the run
   * has happened, and an outcome dropped here would let the lease run it a second time. Gives
   * up (undefined) once the lease is over, when the occurrence is another node's to take.
   */
  const finishDurably = async (o: Occurrence, change: Parameters<Store['occurrences']['finish']>[2]): Promise<boolean | undefined> => {
    const deadline = Date.now() + options.leaseMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await store.occurrences.finish(o.id, nodeId, change);
      } catch (err) {
        if (!(isConnectionError(err) || isStoreFull(err)) || Date.now() + delay > deadline) {
          log.error({ err, occurrence: o.id }, 'could not record an occurrence\'s outcome; its lease will decide');
          return undefined;
        }
        log.warn({ err: (err as Error).message, occurrence: o.id, retryInMs: delay }, 'the store is unavailable; retrying the occurrence\'s outcome');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  };

  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.catch((err) => log.error({ err }, 'an occurrence failed in the host')).finally(() => {
      inFlight.delete(p);
      wake(); // a free slot, or a queued occurrence of the same schedule, may now run
    });
  };

  const claimAndRun = async (now: number) => {
    if (inFlight.size >= options.concurrency) return;
    const candidates = await store.occurrences.claimable(now, Math.min(options.batch, 4 * options.concurrency));
    if (candidates.length === 0) return;
    const ids = [...new Set(candidates.map((o) => o.scheduleId))];
    const schedules = await store.schedules.getMany(ids);
    const running = await store.occurrences.runningCounts(ids, now);
    for (const o of candidates) {
      if (inFlight.size >= options.concurrency) return;
      const s = schedules.get(o.scheduleId);
      if (!s) continue; // deleted meanwhile: its occurrences go with it
      if (!s.active && o.trigger !== 'manual') {
        await store.occurrences.markSkipped(o, now, 'skipped: the schedule is paused');
        continue;
      }
      const lapsed = o.status === 'running';
      if (!lapsed && o.trigger !== 'manual' && s.overlap !== 'allow' && (running.get(s.id) ?? 0) > 0) {
        // Catch-up runs queue behind each other whatever the policy: `all` means all.
        if (s.overlap === 'skip' && o.trigger !== 'catch-up') await store.occurrences.markSkipped(o, now, 'skipped: the previous run was still going (overlap: skip)');
        continue;
      }
      const attempt = o.attempt + 1;
      if (!(await store.occurrences.claim(o, nodeId, now + options.leaseMs, attempt))) continue;
      running.set(s.id, (running.get(s.id) ?? 0) + 1);
      track(execute(s, { ...o, status: 'running', attempt }, attempt));
    }
  };

  const arm = async () => {
    if (stopped) return;
    const times = [await store.schedules.earliestNextRun(), await store.occurrences.earliestWake()].filter((t): t is number => t !== null);
    const now = clock.now();
    // Times already past belong to occurrences waiting their turn (overlap: queue, catch-ups):
    // a finishing run wakes the scheduler for them, so they must not make it spin.
    const at = Math.min(now + options.pollMs, ...times.filter((t) => t > now));
    timer?.cancel();
    timer = clock.at(Math.max(at, now), wake);
  };

  const pass = async () => {
    const now = clock.now();
    // Claim after each planned batch, so a large backlog starts firing while it is planned.
    let more = true;
    while (more && !stopped) {
      more = await planBatch(now);
      await claimAndRun(now);
    }
    await arm();
    // Only a pass that got here without throwing counts (health()).
    passes++;
    lastPassAt = clock.now();
  };

  /** Runs a pass now (or right after the current one); resolves when that pass is done. */
  function wake(): Promise<void> {
    if (stopped || !started) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again && !stopped);
      } catch (err) {
        log.error({ err }, 'scheduler pass failed; retrying on the next wake');
        timer?.cancel();
        if (!stopped) timer = clock.at(clock.now() + Math.min(options.pollMs, 1000), wake);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

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
    /** Resolves when no pass and no occurrence is in flight (tests await this after moving time). */
    async idle(): Promise<void> {
      while (running || inFlight.size > 0) {
        await running;
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
      if (isOneTimePlugin(s) && s.nextRunAt !== null) await store.schedules.advance(s.id, s.nextRunAt, null);
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
      await running;
      await Promise.all([...inFlight]);
    },
  };
}
export type Scheduler = ReturnType<typeof createScheduler>;

/** A Freshworks `$schedule` without `repeat`: it fires once. */
const isOneTimePlugin = (s: Schedule) => s.kind === 'plugin' && s.recurrence.type === 'interval' && s.recurrence.everyMs === undefined;
