// The store: one knex instance and the per-table modules over it. SQLite by default,
// PostgreSQL when a database URL is given; callers never see which.
import knexFactory, { type Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import { dialectOf, knexConfig, type DialectName, type StoreLocation } from './dialect.ts';
import { auditTable } from './audit.ts';
import { installationsTable } from './installations.ts';
import { integrationMessagesTable } from './integration-messages.ts';
import { kvTable } from './kv.ts';
import { migrationSource } from './migrations/index.ts';
import { occurrencesTable } from './occurrences.ts';
import { pluginVersionsTable } from './plugin-versions.ts';
import { runsTable } from './runs.ts';
import { schedulesTable } from './schedules.ts';
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

export async function createStore(location: StoreLocation): Promise<Store> {
  const db = knexFactory(knexConfig(location));
  try {
    if (location.schema && location.databaseUrl) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [location.schema]);
    await db.migrate.latest({ migrationSource });
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
