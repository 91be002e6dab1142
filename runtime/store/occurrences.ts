// The run ledger: one row per occurrence of a schedule. The unique idempotency key makes
// planning idempotent; claims are conditional updates (pending, or running with an expired
// lease), so each occurrence is claimed by one node at a time, cluster-wide.
import type { Knex } from 'knex';

export type OccurrenceStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type OccurrenceTrigger = 'schedule' | 'manual' | 'catch-up';

export interface Occurrence {
  id: string; scheduleId: string; workspaceId: string; dueAt: number; idempotencyKey: string; trigger: OccurrenceTrigger;
  status: OccurrenceStatus; attempt: number; failures: number; availableAt: number; leaseOwner: string | null; leaseUntil: number | null;
  lastRunId: string | null; error: string | null; createdAt: number; finishedAt: number | null;
}

interface Row {
  id: string; schedule_id: string; workspace_id: string; due_at: number; idempotency_key: string; trigger: string; status: string;
  attempt: number; failures: number; available_at: number; lease_owner: string | null; lease_until: number | null; last_run_id: string | null;
  error: string | null; created_at: number; finished_at: number | null;
}

const num = (v: number | null) => (v === null ? null : Number(v));
const toOccurrence = (r: Row): Occurrence => ({
  id: r.id, scheduleId: r.schedule_id, workspaceId: r.workspace_id, dueAt: Number(r.due_at), idempotencyKey: r.idempotency_key,
  trigger: r.trigger as OccurrenceTrigger, status: r.status as OccurrenceStatus, attempt: Number(r.attempt), failures: Number(r.failures), availableAt: Number(r.available_at),
  leaseOwner: r.lease_owner, leaseUntil: num(r.lease_until), lastRunId: r.last_run_id, error: r.error, createdAt: Number(r.created_at), finishedAt: num(r.finished_at),
});
const toRow = (o: Occurrence): Row => ({
  id: o.id, schedule_id: o.scheduleId, workspace_id: o.workspaceId, due_at: o.dueAt, idempotency_key: o.idempotencyKey, trigger: o.trigger,
  status: o.status, attempt: o.attempt, failures: o.failures, available_at: o.availableAt, lease_owner: o.leaseOwner, lease_until: o.leaseUntil,
  last_run_id: o.lastRunId, error: o.error, created_at: o.createdAt, finished_at: o.finishedAt,
});

export function occurrencesTable(db: Knex) {
  return {
    /** Inserts the occurrences whose idempotency key is new; returns how many were. */
    async insertNew(rows: Occurrence[], trx: Knex = db): Promise<number> {
      let n = 0;
      for (let i = 0; i < rows.length; i += 50) {
        const inserted = await trx('occurrences').insert(rows.slice(i, i + 50).map(toRow)).onConflict('idempotency_key').ignore().returning('id');
        n += inserted.length;
      }
      return n;
    },
    async get(id: string): Promise<Occurrence | undefined> {
      const row = await db('occurrences').where({ id }).first();
      return row ? toOccurrence(row) : undefined;
    },
    /** Candidates to claim: pending and available, or running with a lapsed lease (a crashed run). */
    async claimable(now: number, limit: number): Promise<Occurrence[]> {
      const pending: Row[] = await db('occurrences').where({ status: 'pending' }).andWhere('available_at', '<=', now).orderBy('available_at').limit(limit);
      const lapsed: Row[] = await db('occurrences').where({ status: 'running' }).andWhere('lease_until', '<=', now).orderBy('lease_until').limit(limit);
      return [...lapsed, ...pending].map(toOccurrence);
    },
    /** Claims `o` for `owner` if nobody changed it since it was read; true when claimed. */
    async claim(o: Occurrence, owner: string, leaseUntil: number, attempt: number): Promise<boolean> {
      const q = db('occurrences').where({ id: o.id, status: o.status, attempt: o.attempt });
      if (o.status === 'running') q.andWhere({ lease_until: o.leaseUntil });
      return (await q.update({ status: 'running', lease_owner: owner, lease_until: leaseUntil, attempt })) === 1;
    },
    /** Records the outcome, if `owner` still holds the lease. */
    async finish(id: string, owner: string, change: { status: OccurrenceStatus; failures?: number; availableAt?: number; lastRunId?: string | null; error?: string | null; finishedAt?: number | null }): Promise<boolean> {
      const update: Record<string, unknown> = { status: change.status, lease_owner: null, lease_until: null };
      if (change.availableAt !== undefined) update.available_at = change.availableAt;
      if (change.failures !== undefined) update.failures = change.failures;
      if (change.lastRunId !== undefined) update.last_run_id = change.lastRunId;
      if (change.error !== undefined) update.error = change.error;
      if (change.finishedAt !== undefined) update.finished_at = change.finishedAt;
      return (await db('occurrences').where({ id, lease_owner: owner, status: 'running' }).update(update)) === 1;
    },
    async markSkipped(o: Occurrence, now: number, reason: string): Promise<boolean> {
      const q = db('occurrences').where({ id: o.id, status: o.status, attempt: o.attempt });
      if (o.status === 'running') q.andWhere({ lease_until: o.leaseUntil });
      return (await q.update({ status: 'skipped', error: reason, finished_at: now, lease_owner: null, lease_until: null })) === 1;
    },
    /** How many live (leased) runs each of these schedules has. */
    async runningCounts(scheduleIds: string[], now: number): Promise<Map<string, number>> {
      const out = new Map<string, number>();
      for (let i = 0; i < scheduleIds.length; i += 500) {
        const rows: Array<{ schedule_id: string; n: number }> = await db('occurrences').whereIn('schedule_id', scheduleIds.slice(i, i + 500))
          .andWhere({ status: 'running' }).andWhere('lease_until', '>', now).groupBy('schedule_id').select('schedule_id').count({ n: '*' });
        for (const r of rows) out.set(r.schedule_id, Number(r.n));
      }
      return out;
    },
    async recent(scheduleId: string, limit: number): Promise<Occurrence[]> {
      const rows: Row[] = await db('occurrences').where({ schedule_id: scheduleId }).orderBy('due_at', 'desc').orderBy('id', 'desc').limit(limit);
      return rows.map(toOccurrence);
    },
    /** The earliest time at which something in the ledger becomes claimable. */
    async earliestWake(): Promise<number | null> {
      const a = await db('occurrences').where({ status: 'pending' }).min({ t: 'available_at' }).first();
      const b = await db('occurrences').where({ status: 'running' }).min({ t: 'lease_until' }).first();
      const times = [a?.t, b?.t].filter((t) => t !== null && t !== undefined).map(Number);
      return times.length ? Math.min(...times) : null;
    },
  };
}
export type OccurrencesTable = ReturnType<typeof occurrencesTable>;
