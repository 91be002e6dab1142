// The schedules table: scheduled webhooks, plugin schedules ($schedule) and Haplo hooks.
// `next_run_at` is advanced with a conditional update, so only one node plans each slot.
import type { Knex } from 'knex';
import { isPostgres, isUniqueViolation, rawRows, valuesList } from './dialect.ts';
import type { Recurrence } from '../schedule/recurrence.ts';

/** `background`: one Haplo O.background.run job (or an O.httpClient request and its callback). */
export type ScheduleKind = 'webhook' | 'plugin' | 'hook' | 'background';
export type MisfirePolicy = 'coalesce' | 'skip' | 'all';
export type OverlapPolicy = 'skip' | 'allow' | 'queue';

export interface Schedule {
  id: string; workspaceId: string; installationId: string | null; kind: ScheduleKind; name: string | null; uniqueKey: string;
  spec: Record<string, unknown>; recurrence: Recurrence; active: boolean; nextRunAt: number | null;
  misfire: MisfirePolicy; overlap: OverlapPolicy; maxRetries: number; secret: string | null; createdAt: number; updatedAt: number;
  /** The schedule's own misfire grace period; null or absent: the host's `schedules.graceMs`. */
  misfireGraceMs?: number | null;
}

interface Row {
  id: string; workspace_id: string; installation_id: string | null; kind: string; name: string | null; unique_key: string;
  spec: string; recurrence: string; active: number | boolean; next_run_at: number | null; misfire: string; overlap: string;
  max_retries: number; secret: string | null; created_at: number; updated_at: number; misfire_grace_ms: number | null;
}

const toSchedule = (r: Row): Schedule => ({
  id: r.id, workspaceId: r.workspace_id, installationId: r.installation_id, kind: r.kind as ScheduleKind, name: r.name, uniqueKey: r.unique_key,
  spec: JSON.parse(r.spec), recurrence: JSON.parse(r.recurrence), active: Boolean(r.active),
  nextRunAt: r.next_run_at === null ? null : Number(r.next_run_at), misfire: r.misfire as MisfirePolicy, overlap: r.overlap as OverlapPolicy,
  maxRetries: Number(r.max_retries), secret: r.secret, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  misfireGraceMs: r.misfire_grace_ms === null || r.misfire_grace_ms === undefined ? null : Number(r.misfire_grace_ms),
});

const toRow = (s: Schedule): Row => ({
  id: s.id, workspace_id: s.workspaceId, installation_id: s.installationId, kind: s.kind, name: s.name, unique_key: s.uniqueKey,
  spec: JSON.stringify(s.spec), recurrence: JSON.stringify(s.recurrence), active: s.active, next_run_at: s.nextRunAt,
  misfire: s.misfire, overlap: s.overlap, max_retries: s.maxRetries, secret: s.secret, created_at: s.createdAt, updated_at: s.updatedAt,
  misfire_grace_ms: s.misfireGraceMs ?? null,
});

/** An occurrence of schedule `s` that is still to finish. */
function unfinished(this: Knex.QueryBuilder): void {
  this.select(1).from('occurrences as o').whereRaw('o.schedule_id = s.id').whereIn('o.status', ['pending', 'running']);
}

export function schedulesTable(db: Knex) {
  return {
    /** Inserts; false when the unique key is taken. */
    async insert(s: Schedule): Promise<boolean> {
      try {
        await db('schedules').insert(toRow(s));
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    async get(id: string): Promise<Schedule | undefined> {
      const row = await db('schedules').where({ id }).first();
      return row ? toSchedule(row) : undefined;
    },
    async getMany(ids: string[]): Promise<Map<string, Schedule>> {
      const out = new Map<string, Schedule>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows: Row[] = await db('schedules').whereIn('id', ids.slice(i, i + 500));
        for (const r of rows) out.set(r.id, toSchedule(r));
      }
      return out;
    },
    async byKey(uniqueKey: string): Promise<Schedule | undefined> {
      const row = await db('schedules').where({ unique_key: uniqueKey }).first();
      return row ? toSchedule(row) : undefined;
    },
    async list(workspaceId: string, kinds: ScheduleKind[]): Promise<Schedule[]> {
      const rows: Row[] = await db('schedules').where({ workspace_id: workspaceId }).whereIn('kind', kinds).orderBy('id');
      return rows.map(toSchedule);
    },
    async ofInstallation(installationId: string, kind: ScheduleKind): Promise<Schedule[]> {
      const rows: Row[] = await db('schedules').where({ installation_id: installationId, kind }).orderBy('id');
      return rows.map(toSchedule);
    },
    /** How many of an installation's one-time schedules of `kind` are not done: yet to fire, or fired with an occurrence pending or running (a retry included). */
    async pendingCount(installationId: string, kind: ScheduleKind): Promise<number> {
      const row = await db('schedules as s').where({ 's.installation_id': installationId, 's.kind': kind })
        .andWhere((q) => q.whereNotNull('s.next_run_at').orWhereExists(unfinished))
        .count({ n: '*' }).first();
      return Number((row as { n: number | string } | undefined)?.n ?? 0);
    },
    /** Deletes an installation's done one-time schedules of `kind` made before `before` (their runs stay in the run log; one with an occurrence still to finish stays). */
    async deleteFired(installationId: string, kind: ScheduleKind, before: number): Promise<number> {
      const done = db('schedules as s').select('s.id').where({ 's.installation_id': installationId, 's.kind': kind }).whereNull('s.next_run_at')
        .andWhere('s.created_at', '<', before).whereNotExists(unfinished);
      return db('schedules').whereIn('id', done).delete();
    },
    async update(s: Schedule): Promise<void> {
      const { id: _id, created_at: _c, ...rest } = toRow(s);
      await db('schedules').where({ id: s.id }).update(rest);
    },
    async delete(id: string): Promise<boolean> {
      return (await db('schedules').where({ id }).delete()) > 0;
    },
    /**
     * Active schedules due by `now`, oldest first. Inside a transaction on PostgreSQL the rows
     * are locked and rows another node's planning holds are skipped, so nodes planning at once
     * take disjoint batches.
     */
    async due(now: number, limit: number, trx: Knex = db): Promise<Schedule[]> {
      const q = trx('schedules').where({ active: true }).andWhere('next_run_at', '<=', now).orderBy('next_run_at').limit(limit);
      if (trx.isTransaction && isPostgres(trx)) q.forUpdate().skipLocked();
      const rows: Row[] = await q;
      return rows.map(toSchedule);
    },
    /**
     * Moves each schedule's `next_run_at` from `from` to `to` in one statement, only where no
     * other node moved it first; returns the ids this call moved.
     */
    async advanceMany(moves: Array<{ id: string; from: number; to: number | null }>, trx: Knex = db): Promise<Set<string>> {
      const moved = new Set<string>();
      for (let i = 0; i < moves.length; i += 500) {
        const part = moves.slice(i, i + 500);
        const result = await trx.raw(`WITH v(vid, from_at, to_at) AS (VALUES ${valuesList(['VARCHAR(64)', 'BIGINT', 'BIGINT'], part.length)})
          UPDATE schedules SET next_run_at = v.to_at FROM v WHERE schedules.id = v.vid AND schedules.next_run_at = v.from_at RETURNING id`,
        part.flatMap((m) => [m.id, m.from, m.to]));
        for (const r of rawRows<{ id: string }>(result)) moved.add(r.id);
      }
      return moved;
    },
  };
}
export type SchedulesTable = ReturnType<typeof schedulesTable>;
