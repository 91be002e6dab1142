// Haplo's clone guard: the store remembers which host may send its integration messages.
// A database copied elsewhere (another machine, another directory, another PostgreSQL
// server or database) finds a different identity and sends nothing until an operator enables
// sending there, so a copy never delivers a message twice.
import os from 'node:os';
import path from 'node:path';
import { PlughostError } from '../errors.ts';
import type { Store } from '../store/store.ts';

const KEY = 'integration_messages.sending_identity';

export interface CloneGuard {
  readonly identity: string;
  /** Throws SENDING_DISABLED on a copy. */
  check(): Promise<void>;
  status(): Promise<{ enabled: boolean; identity: string; allowedIdentity: string | null }>;
  /** Lets this host send (an operator's decision after copying the store). */
  enable(): Promise<void>;
}

async function identityOf(store: Store, dataDir: string): Promise<string> {
  if (store.dialect === 'sqlite') return `sqlite:${os.hostname()}:${path.resolve(dataDir, 'plughost.sqlite')}`;
  const r = await store.db.raw('select inet_server_addr() as addr, inet_server_port() as port, current_database() as db, current_schema() as schema');
  const row = r.rows[0] as { addr: string | null; port: number | null; db: string; schema: string };
  return `postgres:${row.addr ?? 'local'}:${row.port ?? ''}:${row.db}:${row.schema}`;
}

export async function createCloneGuard(store: Store, dataDir: string): Promise<CloneGuard> {
  const identity = await identityOf(store, dataDir);
  // A new store belongs to the host that created it.
  await store.settings.setIfAbsent(KEY, identity);
  return {
    identity,
    async check() {
      const allowed = await store.settings.get(KEY);
      if (allowed !== identity) {
        throw new PlughostError('SENDING_DISABLED', 'this store was copied from another host, so sending integration messages is off here; an operator can enable it with POST /api/v1/integration-messages/enable-sending');
      }
    },
    async status() {
      const allowed = (await store.settings.get(KEY)) ?? null;
      return { enabled: allowed === identity, identity, allowedIdentity: allowed };
    },
    async enable() {
      await store.settings.set(KEY, identity);
    },
  };
}
