// The store: one knex instance and the per-table modules over it. SQLite by default,
// PostgreSQL when a database URL is given; callers never see which.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { PlughostError } from '../errors.ts';
import { dialectOf, knexConfig, pgClientConfig, type DialectName, type StoreLocation } from './dialect.ts';
import { apiKeysTable } from './api-keys.ts';
import { auditTable } from './audit.ts';
import { installationsTable } from './installations.ts';
import { integrationMessagesTable } from './integration-messages.ts';
import { kvTable } from './kv.ts';
import { migrationSource } from './migrations/index.ts';
import { occurrencesTable } from './occurrences.ts';
import { pluginTablesStore } from './plugin-tables.ts';
import { pluginVersionsTable } from './plugin-versions.ts';
import { runsTable } from './runs.ts';
import { schedulesTable } from './schedules.ts';
import { seenSignaturesTable } from './seen-signatures.ts';
import { settingsTable } from './settings.ts';
import { tokensTable } from './tokens.ts';
import { workspaceDataTable } from './workspace-data.ts';
import { workspacesTable } from './workspaces.ts';

export type { StoreLocation } from './dialect.ts';

function tables(db: Knex) {
  return {
    workspaces: workspacesTable(db),
    tokens: tokensTable(db),
    settings: settingsTable(db),
    pluginVersions: pluginVersionsTable(db),
    installations: installationsTable(db),
    runs: runsTable(db),
    kv: kvTable(db),
    data: workspaceDataTable(db),
    schedules: schedulesTable(db),
    occurrences: occurrencesTable(db),
    messages: integrationMessagesTable(db),
    audit: auditTable(db),
    seenSignatures: seenSignaturesTable(db),
    apiKeys: apiKeysTable(db),
    pluginTables: pluginTablesStore(db),
  };
}

export interface Store extends ReturnType<typeof tables> {
  readonly db: Knex;
  readonly dialect: DialectName;
  /** Runs `fn` with every table bound to one transaction. */
  transaction<T>(fn: (tx: ReturnType<typeof tables>) => Promise<T>): Promise<T>;
  /** Round trip to the database; throws STORE_UNAVAILABLE when it cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Brings the schema up to date. On PostgreSQL several hosts may start at once on an empty
 * database: an advisory lock, held on a connection of its own, lets one of them migrate while
 * the others wait, since neither CREATE SCHEMA IF NOT EXISTS nor knex's own bookkeeping tables
 * are safe to create concurrently.
 */
async function migrate(db: Knex, location: StoreLocation, options: StoreOptions): Promise<void> {
  /** Applies what is pending, telling `onMigrate` first when there is something. */
  const latest = async () => {
    const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], string[]];
    if (pending.length > 0) options.onMigrate?.(pending);
    await db.migrate.latest({ migrationSource });
  };
  if (!location.databaseUrl) {
    await latest();
    return;
  }
  // The lock may be waited on for as long as another host migrates: no query or statement
  // timeout here, but a bounded connect, keepalive, and an 'error' listener (a server that goes
  // away under an idle client must not crash the process).
  const { query_timeout: _q, statement_timeout: _s, ...settings } = pgClientConfig(location);
  const lock = new pg.Client(settings);
  lock.on('error', () => {});
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`plughost-migrate:${location.schema ?? 'public'}`]);
    if (location.schema) await lock.query(`CREATE SCHEMA IF NOT EXISTS "${location.schema.replace(/"/g, '""')}"`);
    await latest();
  } finally {
    await lock.end(); // ending the session releases the lock
  }
}

/** `onMigrate`: told the names of the migrations about to run (a progress line at start-up). */
export interface StoreOptions { onMigrate?: (pending: string[]) => void }

export async function createStore(location: StoreLocation, options: StoreOptions = {}): Promise<Store> {
  const db = knexFactory(knexConfig(location));
  try {
    await migrate(db, location, options);
  } catch (err) {
    await db.destroy();
    throw new PlughostError('STORE_UNAVAILABLE', `cannot open the store: ${(err as Error).message}`, { cause: err });
  }
  let closed = false;
  return {
    db,
    dialect: dialectOf(location),
    ...tables(db),
    transaction: (fn) => db.transaction((trx) => fn(tables(trx))),
    async ping() {
      try {
        await db.raw('select 1');
      } catch (err) {
        throw new PlughostError('STORE_UNAVAILABLE', 'the database does not answer', { cause: err });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
