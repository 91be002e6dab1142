// The run ledger: one row per occurrence of a schedule. The unique idempotency key makes
// planning idempotent; claims are conditional updates (pending, or running with an expired
// lease), so each occurrence is claimed by one node at a time, cluster-wide.
import type { Knex } from 'knex';
import { rawRows, skipLocked, valuesList } from './dialect.ts';

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

export const SKIPPED_PAUSED = 'skipped: the schedule is paused';
export const SKIPPED_OVERLAP = 'skipped: the previous run was still going (overlap: skip)';

/** An occurrence's outcome, as `finishMany` records it. */
export interface FinishChange { id: string; status: OccurrenceStatus; failures: number; availableAt?: number | undefined; lastRunId: string | null; error: string | null; finishedAt: number | null }
const FINISH_TYPES = ['VARCHAR(64)', 'VARCHAR(16)', 'INTEGER', 'BIGINT', 'VARCHAR(64)', 'TEXT', 'BIGINT'] as const;

const COLUMNS = 'id, schedule_id, workspace_id, due_at, idempotency_key, trigger, status, attempt, failures, available_at, lease_owner, lease_until, last_run_id, error, created_at, finished_at';

export function occurrencesTable(db: Knex) {
  return {
    /** Inserts the occurrences whose idempotency key is new; returns how many were. */
    async insertNew(rows: Occurrence[], trx: Knex = db): Promise<number> {
      let n = 0;
      for (let i = 0; i < rows.length; i += 200) {
        const inserted = await trx('occurrences').insert(rows.slice(i, i + 200).map(toRow)).onConflict('idempotency_key').ignore().returning('id');
        n += inserted.length;
      }
      return n;
    },
    async get(id: string): Promise<Occurrence | undefined> {
      const row = await db('occurrences').where({ id }).first();
      return row ? toOccurrence(row) : undefined;
    },
    /**
     * Claims up to `limit` claimable occurrences for `owner` in one statement: pending ones that
     * are available, and running ones whose lease lapsed (a crashed run, always re-run). The
     * schedule's rules are applied in the same statement: a paused schedule's occurrences are
     * skipped (manual runs excepted); with `overlap` skip or queue, an occurrence runs only when
     * its schedule has no live run and it is the schedule's first in the batch (lapsed first),
     * otherwise `skip` marks it skipped (catch-ups and manual runs excepted) and `queue` leaves
     * it pending for a finishing run to wake. On PostgreSQL the candidates are locked with SKIP
     * LOCKED, so nodes claiming at once take disjoint rows; SQLite has one writer at a time.
     * Returns the rows it changed: `running` ones are this owner's to run, the rest were skipped.
     */
    async claimBatch(now: number, owner: string, leaseUntil: number, limit: number): Promise<Occurrence[]> {
      const sql = `WITH picked AS MATERIALIZED (
          SELECT id FROM occurrences
          WHERE (status = 'pending' AND available_at <= :now) OR (status = 'running' AND lease_until <= :now)
          ORDER BY available_at, id LIMIT :limit${skipLocked(db)}
        ), ranked AS (
          SELECT o.id AS cid, CASE
            WHEN NOT s.active AND o.trigger <> 'manual' THEN 'paused'
            WHEN o.status = 'running' OR o.trigger = 'manual' OR s.overlap = 'allow' THEN 'run'
            WHEN ROW_NUMBER() OVER (PARTITION BY o.schedule_id ORDER BY CASE WHEN o.status = 'running' THEN 0 ELSE 1 END, o.available_at, o.id) = 1
              AND NOT EXISTS (SELECT 1 FROM occurrences r WHERE r.schedule_id = o.schedule_id AND r.status = 'running' AND r.lease_until > :now) THEN 'run'
            WHEN s.overlap = 'skip' AND o.trigger <> 'catch-up' THEN 'overlap'
            ELSE 'wait' END AS decision
          FROM picked JOIN occurrences o ON o.id = picked.id JOIN schedules s ON s.id = o.schedule_id
        )
        UPDATE occurrences SET
          status = CASE WHEN ranked.decision = 'run' THEN 'running' ELSE 'skipped' END,
          attempt = CASE WHEN ranked.decision = 'run' THEN occurrences.attempt + 1 ELSE occurrences.attempt END,
          lease_owner = CASE WHEN ranked.decision = 'run' THEN CAST(:owner AS TEXT) ELSE NULL END,
          lease_until = CASE WHEN ranked.decision = 'run' THEN CAST(:leaseUntil AS BIGINT) ELSE NULL END,
          error = CASE ranked.decision WHEN 'paused' THEN CAST(:paused AS TEXT) WHEN 'overlap' THEN CAST(:overlap AS TEXT) ELSE occurrences.error END,
          finished_at = CASE WHEN ranked.decision = 'run' THEN occurrences.finished_at ELSE CAST(:now AS BIGINT) END
        FROM ranked WHERE occurrences.id = ranked.cid AND ranked.decision <> 'wait'
        RETURNING ${COLUMNS}`;
      const rows = await db.raw(sql, { now, limit, owner, leaseUntil, paused: SKIPPED_PAUSED, overlap: SKIPPED_OVERLAP });
      return rawRows<Row>(rows).map(toOccurrence);
    },
    /**
     * Records outcomes in one statement, each only if `owner` still holds its lease; returns the
     * ids it recorded (an id missing lost its lease: another node may re-run it).
     */
    async finishMany(owner: string, outcomes: FinishChange[]): Promise<Set<string>> {
      const done = new Set<string>();
      for (let i = 0; i < outcomes.length; i += 500) {
        const part = outcomes.slice(i, i + 500);
        const sql = `WITH v(vid, status, failures, available_at, last_run_id, error, finished_at) AS (VALUES ${valuesList(FINISH_TYPES, part.length)})
          UPDATE occurrences SET status = v.status, failures = v.failures, available_at = COALESCE(v.available_at, occurrences.available_at),
            last_run_id = v.last_run_id, error = v.error, finished_at = v.finished_at, lease_owner = NULL, lease_until = NULL
          FROM v WHERE occurrences.id = v.vid AND occurrences.lease_owner = ? AND occurrences.status = 'running'
          RETURNING id`;
        const bindings = part.flatMap((c) => [c.id, c.status, c.failures, c.availableAt ?? null, c.lastRunId, c.error, c.finishedAt]);
        for (const r of rawRows<{ id: string }>(await db.raw(sql, [...bindings, owner]))) done.add(r.id);
      }
      return done;
    },
    async recent(scheduleId: string, limit: number): Promise<Occurrence[]> {
      const rows: Row[] = await db('occurrences').where({ schedule_id: scheduleId }).orderBy('due_at', 'desc').orderBy('id', 'desc').limit(limit);
      return rows.map(toOccurrence);
    },
    /**
     * When the scheduler must look again, in one statement: the earliest next run of an active
     * schedule, available time of a pending occurrence, and lease end of a running one.
     */
    async nextWake(): Promise<{ schedule: number | null; pending: number | null; lease: number | null }> {
      const row = rawRows<Record<string, unknown>>(await db.raw(`SELECT
          (SELECT MIN(next_run_at) FROM schedules WHERE active = ? AND next_run_at IS NOT NULL) AS a,
          (SELECT MIN(available_at) FROM occurrences WHERE status = 'pending') AS b,
          (SELECT MIN(lease_until) FROM occurrences WHERE status = 'running') AS c`, [true]))[0];
      const t = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      return { schedule: t(row?.a), pending: t(row?.b), lease: t(row?.c) };
    },
  };
}
export type OccurrencesTable = ReturnType<typeof occurrencesTable>;
