// Everything that differs between SQLite and PostgreSQL lives here: connection settings,
// per-connection pragmas, type parsing and error recognition. Table modules stay dialect-free.
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

export type DialectName = 'sqlite' | 'postgres';

export interface StoreLocation {
  /** `postgres://…` selects PostgreSQL; otherwise SQLite. */
  databaseUrl?: string | undefined;
  /** Directory of the SQLite file (`plughost.sqlite`). */
  dataDir: string;
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
}

export function dialectOf(location: StoreLocation): DialectName {
  return location.databaseUrl ? 'postgres' : 'sqlite';
}

export function knexConfig(location: StoreLocation): Knex.Config {
  if (location.databaseUrl) {
    return {
      client: 'pg',
      connection: {
        connectionString: location.databaseUrl,
        // int8 (bigint) columns hold millisecond timestamps: read them as numbers.
        types: { getTypeParser: pgTypeParser },
      } as Knex.PgConnectionConfig,
      searchPath: location.schema ? [location.schema] : undefined,
      pool: { min: 0, max: 10 },
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
          'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
          (err) => done(err, conn),
        );
      },
    },
  };
}

// pg's own parsers for everything but int8 (20), which the host keeps as a JS number:
// timestamps in ms and counters stay far below 2^53.
import pg from 'pg';
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
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', 'SQLITE_CANTOPEN']
    .includes(e.code ?? '') || e.name === 'KnexTimeoutError'
    // node-postgres gives these no code.
    || /Connection terminated|Connection ended unexpectedly|not queryable|connection error/i.test(e.message ?? '');
}
