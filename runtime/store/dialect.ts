// Everything that differs between SQLite and PostgreSQL lives here: connection settings,
// per-connection pragmas, type parsing and error recognition. Table modules stay dialect-free.
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';
import { PlughostError } from '../errors.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface StoreLocation {
  /** `postgres://…` selects PostgreSQL; otherwise SQLite. */
  databaseUrl?: string | undefined;
  /** Directory of the SQLite file (`plughost.sqlite`). */
  dataDir: string;
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  /** Overrides of the PostgreSQL timeouts below (tests shorten them). */
  timeouts?: Partial<StoreTimeouts>;
}

export interface StoreTimeouts {
  /** Client side: a query with no answer for this long fails, and its connection is destroyed. */
  queryMs: number;
  /** Server side (`statement_timeout`): PostgreSQL cancels a statement running this long. */
  statementMs: number;
  /** Opening a new connection (TCP + startup + auth). */
  connectMs: number;
  /** Waiting for a pooled connection (knex `acquireConnectionTimeout`). */
  acquireMs: number;
}

// No store call may hang forever: a stalled network, a frozen server or a black-holed
// address must turn into an error (STORE_UNAVAILABLE) within seconds.
/** A query with no answer for 15 s fails client side and its connection is thrown away. */
export const PG_QUERY_TIMEOUT_MS = 15_000;
/** Slightly below the client timeout, so a slow statement is cancelled by the server first (the connection stays usable). */
export const PG_STATEMENT_TIMEOUT_MS = 14_000;
/** Opening a connection must finish in 5 s. */
export const PG_CONNECT_TIMEOUT_MS = 5_000;
/** A caller waits at most 10 s for a pooled connection. */
export const PG_ACQUIRE_TIMEOUT_MS = 10_000;
/** TCP keepalive probes start after 10 s of silence, so a dead peer is noticed on idle connections too. */
export const PG_KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** Idle pooled connections are closed after 30 s (fewer stale sockets after a failover). */
export const PG_IDLE_TIMEOUT_MS = 30_000;
/** SQLite waits this long for a lock held by another connection or process. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

const QUERY_TIMEOUT_MESSAGE = 'Query read timeout'; // node-postgres's message for query_timeout

interface PgConn {
  query: (...args: unknown[]) => unknown;
  on(event: 'error', fn: (err: Error) => void): void;
  connection?: { stream?: { destroy(err?: Error): void } };
  __knex__disposed?: unknown;
}

/**
 * Per pooled PostgreSQL connection: an 'error' listener (pg emits 'error' on an idle client
 * whose server went away; unheard, that would crash the process), and a query wrapper that
 * destroys the connection when a query times out client side, since the stalled query would
 * otherwise block the connection forever. A destroyed connection is marked disposed, so the
 * pool's validate step drops it and opens a fresh one.
 */
function pgAfterCreate(conn: PgConn, done: (err: Error | null, conn: unknown) => void): void {
  conn.on('error', (err) => { conn.__knex__disposed ??= err; });
  const query = conn.query.bind(conn);
  conn.query = (...args: unknown[]) => {
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === 'function') {
      args[last] = (err: Error | null, res: unknown) => {
        if (err && err.message === QUERY_TIMEOUT_MESSAGE) {
          conn.__knex__disposed ??= err;
          conn.connection?.stream?.destroy();
        }
        (cb as (err: Error | null, res: unknown) => void)(err, res);
      };
    }
    return query(...args);
  };
  done(null, conn);
}

export function dialectOf(location: StoreLocation): DialectName {
  return location.databaseUrl ? 'postgres' : 'sqlite';
}

export function storeTimeouts(location: StoreLocation): StoreTimeouts {
  return {
    queryMs: location.timeouts?.queryMs ?? PG_QUERY_TIMEOUT_MS,
    statementMs: location.timeouts?.statementMs ?? PG_STATEMENT_TIMEOUT_MS,
    connectMs: location.timeouts?.connectMs ?? PG_CONNECT_TIMEOUT_MS,
    acquireMs: location.timeouts?.acquireMs ?? PG_ACQUIRE_TIMEOUT_MS,
  };
}

/** node-postgres client settings shared by the pool and the host's side connections (migration lock). */
export function pgClientConfig(location: StoreLocation): pg.ClientConfig {
  const t = storeTimeouts(location);
  return {
    connectionString: location.databaseUrl,
    query_timeout: t.queryMs,
    statement_timeout: t.statementMs,
    connectionTimeoutMillis: t.connectMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_KEEPALIVE_INITIAL_DELAY_MS,
  };
}

export function knexConfig(location: StoreLocation): Knex.Config {
  if (location.databaseUrl) {
    const t = storeTimeouts(location);
    return {
      client: 'pg',
      connection: {
        ...pgClientConfig(location),
        // int8 (bigint) columns hold millisecond timestamps: read them as numbers.
        types: { getTypeParser: pgTypeParser },
      } as Knex.PgConnectionConfig,
      searchPath: location.schema ? [location.schema] : undefined,
      acquireConnectionTimeout: t.acquireMs,
      pool: {
        min: 0,
        max: 10,
        acquireTimeoutMillis: t.acquireMs,
        createTimeoutMillis: t.connectMs,
        idleTimeoutMillis: PG_IDLE_TIMEOUT_MS,
        // A failed connect is retried soon, not in a tight loop.
        createRetryIntervalMillis: 200,
        propagateCreateError: true,
        afterCreate: pgAfterCreate,
      },
    };
  }
  fs.mkdirSync(location.dataDir, { recursive: true });
  return {
    client: 'sqlite3',
    connection: { filename: path.join(location.dataDir, 'plughost.sqlite') },
    useNullAsDefault: true,
    // One connection: SQLite serialises writers anyway, and pragmas are per connection.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { exec(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
        conn.exec(
          `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;`,
          (err) => done(err, conn),
        );
      },
    },
  };
}

// pg's own parsers for everything but int8 (20), which the host keeps as a JS number:
// timestamps in ms and counters stay far below 2^53.
function pgTypeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === 20) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
}

/** True when `err` is a unique-constraint violation on either store. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string } | null;
  if (!e) return false;
  return e.code === '23505' || (e.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY KEY/.test(e.message ?? ''));
}

/** True when `err` means the database itself is unreachable (not a bad query). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string } | null;
  if (!e) return false;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', 'SQLITE_CANTOPEN']
    .includes(e.code ?? '') || e.name === 'KnexTimeoutError'
    // node-postgres gives these no code: lost connections, and query_timeout / connectionTimeoutMillis.
    || /Connection terminated|Connection ended unexpectedly|not queryable|connection error|Query read timeout|timeout expired|timeout exceeded when trying to connect/i.test(e.message ?? '');
}

/** True when `err` means the store cannot write because its disk (or database file) is full. */
export function isStoreFull(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === 'SQLITE_FULL' || e.code === 'ENOSPC' || e.code === '53100') return true;
  if (/database or disk is full|no space left on device|could not extend file/i.test(e.message ?? '')) return true;
  // PlughostError and friends wrap the driver's error.
  return e.cause !== undefined && e.cause !== err && isStoreFull(e.cause);
}

/** A store failure as the error every caller sees (STORE_FULL, STORE_UNAVAILABLE), or undefined when `err` is not one. */
export function storeFailure(err: unknown): PlughostError | undefined {
  if (err instanceof PlughostError) return undefined;
  if (isStoreFull(err)) return new PlughostError('STORE_FULL', 'the database is full; writes fail until an operator frees space', { cause: err });
  if (isConnectionError(err)) return new PlughostError('STORE_UNAVAILABLE', 'the database cannot be reached; try again shortly', { cause: err });
  return undefined;
}

/**
 * The row-locking clause of a claim's candidate select: PostgreSQL locks the rows it picks and
 * skips the ones another node's claim holds; SQLite has one writer at a time, so a single
 * statement is already alone and needs none.
 */
export function skipLocked(db: Knex): string {
  return isPostgres(db) ? ' FOR UPDATE SKIP LOCKED' : '';
}

export function isPostgres(db: Knex): boolean {
  return (db.client as { config: { client: string } }).config.client === 'pg';
}

/** `(CAST(? AS t1), …), …` for a VALUES list of `rows`, cast per column so both dialects type the parameters alike. */
export function valuesList(types: readonly string[], rows: number): string {
  const row = `(${types.map((t) => `CAST(? AS ${t})`).join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}

/** A raw statement's rows: node-postgres answers a result holding `rows`, sqlite3 the array itself. */
export function rawRows<T>(result: unknown): T[] {
  return Array.isArray(result) ? result : (result as { rows: T[] }).rows;
}
