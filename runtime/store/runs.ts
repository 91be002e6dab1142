// The run log: one row per invocation of plugin code (route call, scheduled firing, hook,
// event), with status, timing, captured log and error. Lists are newest first by id, filtered
// by kind, status, installation, schedule, start time and text, paged by id in either direction.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import type { Page, PageRequest } from './page.ts';

export type RunKind = 'route' | 'webhook' | 'event' | 'smi' | 'hook' | 'service' | 'send' | 'background';
export type RunTrigger = 'http' | 'schedule' | 'manual' | 'retry' | 'catch-up';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'timed-out';

/** `details`: what a budget refusal names (`limit`, …), as the API's errors carry it. */
export interface RunError { code: string; message: string; details?: unknown }
export interface Run {
  id: string; workspaceId: string; installationId: string | null; kind: RunKind; trigger: RunTrigger; target: string;
  status: RunStatus; scheduleId: string | null; idempotencyKey: string | null; attempt: number; httpStatus: number | null;
  startedAt: number; finishedAt: number | null; durationMs: number | null; log: string; error: RunError | null;
}
export interface RunFilter {
  kind?: string | undefined; status?: string | undefined; installationId?: string | undefined; scheduleId?: string | undefined;
  /** Started at or after this instant (epoch ms). */
  startedFrom?: number | undefined;
  /** Started before this instant (epoch ms). */
  startedBefore?: number | undefined;
  /** Text found in the target or in the error's message: a substring, case-insensitive for ASCII letters. */
  search?: string | undefined;
}
/** A run as lists show it: everything but the log. */
export type RunSummary = Omit<Run, 'log'>;
/** A page of a list, by cursor in either direction: `older` (the REST API's `cursor`) or `newer`, both from a page given before. */
export interface RunWindowRequest { limit?: number | undefined; older?: string | undefined; newer?: string | undefined }
export interface RunWindow { data: RunSummary[]; olderCursor: string | null; newerCursor: string | null }

interface Row {
  id: string; workspace_id: string; installation_id: string | null; kind: string; trigger: string; target: string; status: string;
  schedule_id: string | null; idempotency_key: string | null; attempt: number; http_status: number | null;
  started_at: number; finished_at: number | null; duration_ms: number | null; log: string; error: string | null;
}

const toRun = (r: Row): Run => ({
  id: r.id, workspaceId: r.workspace_id, installationId: r.installation_id, kind: r.kind as RunKind, trigger: r.trigger as RunTrigger,
  target: r.target, status: r.status as RunStatus, scheduleId: r.schedule_id, idempotencyKey: r.idempotency_key,
  attempt: Number(r.attempt), httpStatus: r.http_status === null ? null : Number(r.http_status),
  startedAt: Number(r.started_at), finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms), log: r.log, error: r.error ? JSON.parse(r.error) : null,
});

const toRow = (r: Run): Row => ({
  id: r.id, workspace_id: r.workspaceId, installation_id: r.installationId, kind: r.kind, trigger: r.trigger, target: r.target.slice(0, 300),
  status: r.status, schedule_id: r.scheduleId, idempotency_key: r.idempotencyKey, attempt: r.attempt, http_status: r.httpStatus,
  started_at: r.startedAt, finished_at: r.finishedAt, duration_ms: r.durationMs, log: r.log, error: r.error ? JSON.stringify(r.error) : null,
});

const summaryOf = (r: Row): RunSummary => {
  const { log: _log, ...rest } = toRun({ ...r, log: '' });
  return rest;
};

const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id === '' || id.length > 200) throw new PlughostError('INVALID_QUERY', '`cursor` is not one this host gave out');
  return id;
}

/** `%text%` for LIKE … ESCAPE '\\', lower-cased, with the text's own wildcards taken literally. */
const containing = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function applyFilter(q: Knex.QueryBuilder, filter: RunFilter): Knex.QueryBuilder {
  if (filter.kind) q.where({ kind: filter.kind });
  if (filter.status) q.where({ status: filter.status });
  if (filter.installationId) q.where({ installation_id: filter.installationId });
  if (filter.scheduleId) q.where({ schedule_id: filter.scheduleId });
  if (filter.startedFrom !== undefined) q.where('started_at', '>=', filter.startedFrom);
  if (filter.startedBefore !== undefined) q.where('started_at', '<', filter.startedBefore);
  if (filter.search) {
    // The error is stored as JSON ({"code":…,"message":…}): the text is looked for as JSON writes
    // it (quotes and backslashes escaped), after the message key, so key names never match.
    const inMessage = `%"message":"${containing(JSON.stringify(filter.search).slice(1, -1))}`;
    const target = containing(filter.search);
    q.where((w) => w.whereRaw(`lower(target) like ? escape '\\'`, [target]).orWhereRaw(`lower(error) like ? escape '\\'`, [inMessage]));
  }
  return q;
}

const SUMMARY_COLUMNS = ['id', 'workspace_id', 'installation_id', 'kind', 'trigger', 'target', 'status', 'schedule_id', 'idempotency_key',
  'attempt', 'http_status', 'started_at', 'finished_at', 'duration_ms', 'error'] as const;

const RUN_COLUMNS = ['id', 'workspace_id', 'installation_id', 'kind', 'trigger', 'target', 'status', 'schedule_id', 'idempotency_key',
  'attempt', 'http_status', 'started_at', 'finished_at', 'duration_ms', 'log', 'error'] as const satisfies ReadonlyArray<keyof Row>;
/** Runs per INSERT statement: a batch of at most this many is written atomically by its one statement. */
export const RUNS_PER_STATEMENT = 100;
const ROW_PLACEHOLDERS = `(${RUN_COLUMNS.map(() => '?').join(', ')})`;

export function runsTable(db: Knex) {
  return {
    async insertMany(runs: Run[]): Promise<void> {
      // One hand-built multi-row INSERT per RUNS_PER_STATEMENT runs: the run log is written on every plugin
      // call, and knex's per-row query building cost more than the write itself. Column names
      // are ours; every value is a bound parameter.
      for (let i = 0; i < runs.length; i += RUNS_PER_STATEMENT) {
        const rows = runs.slice(i, i + RUNS_PER_STATEMENT).map(toRow);
        const bindings: unknown[] = [];
        for (const r of rows) for (const c of RUN_COLUMNS) bindings.push(r[c]);
        const values = rows.map(() => ROW_PLACEHOLDERS).join(', ');
        await db.raw(`insert into runs (${RUN_COLUMNS.join(', ')}) values ${values}`, bindings as never);
      }
    },
    async get(workspaceId: string, id: string): Promise<Run> {
      const row = await db('runs').where({ workspace_id: workspaceId, id }).first();
      if (!row) throw new PlughostError('RUN_NOT_FOUND', `no run \`${id}\` in workspace \`${workspaceId}\``);
      return toRun(row);
    },
    /** Newest first: the cursor is the last id seen, and the next page holds older ids. */
    async list(workspaceId: string, filter: RunFilter, page: PageRequest): Promise<Page<RunSummary>> {
      const q = applyFilter(db('runs').where({ workspace_id: workspaceId }), filter);
      const limit = page.limit ?? 50;
      if (page.cursor) q.where('id', '<', Buffer.from(page.cursor, 'base64url').toString('utf8'));
      const rows: Row[] = await q.orderBy('id', 'desc').limit(limit + 1).select(SUMMARY_COLUMNS);
      const data = rows.slice(0, limit).map(summaryOf);
      const last = data.at(-1);
      return { data, nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : null };
    },
    /**
     * A page of the list (newest first) with cursors both ways: `olderCursor` when older runs
     * match, `newerCursor` when newer ones do. A cursor past either end gives the newest page.
     */
    async window(workspaceId: string, filter: RunFilter, page: RunWindowRequest): Promise<RunWindow> {
      const limit = page.limit ?? 50;
      const matching = () => applyFilter(db('runs').where({ workspace_id: workspaceId }), filter);
      const newer = page.newer ? decodeCursor(page.newer) : undefined;
      const older = newer === undefined && page.older ? decodeCursor(page.older) : undefined;
      let rows: Row[];
      if (newer !== undefined) rows = (await matching().where('id', '>', newer).orderBy('id', 'asc').limit(limit + 1).select(SUMMARY_COLUMNS)).reverse();
      else rows = await (older === undefined ? matching() : matching().where('id', '<', older)).orderBy('id', 'desc').limit(limit + 1).select(SUMMARY_COLUMNS);
      const more = rows.length > limit;
      // Reading newer ids ascending, the extra row is the newest one: it is dropped from the front.
      const data = (newer !== undefined && more ? rows.slice(1) : rows.slice(0, limit)).map(summaryOf);
      if (data.length === 0 && (newer ?? older) !== undefined) return this.window(workspaceId, filter, { limit });
      const exists = async (op: '<' | '>', id: string) => (await matching().where('id', op, id).select('id').first()) !== undefined;
      const first = data[0];
      const last = data.at(-1);
      const hasNewer = newer !== undefined ? more : older !== undefined && first !== undefined && await exists('>', first.id);
      const hasOlder = newer === undefined ? more : last !== undefined && await exists('<', last.id);
      return { data, newerCursor: hasNewer && first ? encodeCursor(first.id) : null, olderCursor: hasOlder && last ? encodeCursor(last.id) : null };
    },
    /**
     * The newest finished run of each schedule (a schedule that never ran is absent): one
     * lookup each on the runs (schedule_id, id) index (migration 013).
     */
    async lastOfSchedules(workspaceId: string, scheduleIds: string[]): Promise<Map<string, RunSummary>> {
      const out = new Map<string, RunSummary>();
      for (const id of new Set(scheduleIds)) {
        const row: Row | undefined = await db('runs').where({ workspace_id: workspaceId, schedule_id: id }).orderBy('id', 'desc').select(SUMMARY_COLUMNS).first();
        if (row) out.set(id, summaryOf(row));
      }
      return out;
    },
  };
}
export type RunsTable = ReturnType<typeof runsTable>;
