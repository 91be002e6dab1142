// The per-installation key-value store behind Freshworks' `$db`, with its storage quota.
//
// Every write is one transaction that first locks the installation's `kv_usage` row (on
// PostgreSQL `FOR UPDATE`; SQLite has one writer anyway), reads the key's old entry, checks
// the quota on the resulting totals, writes the key and stores the new totals. Writers of
// one installation therefore queue behind each other and the counts are exact: racing
// un-awaited `$db.set` calls cannot take an installation past its quota at all. An entry's
// size is the UTF-8 bytes of its key plus its stored JSON; an overwrite counts the difference,
// a delete frees its bytes and key. A write that does not grow a count is never refused,
// so an installation over a lowered quota can still shrink.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';

/** `limits.kvKeys` and `limits.kvBytes`. */
export interface KvQuota { kvKeys: number; kvBytes: number }
export interface KvUsage { kvKeys: number; kvBytes: number }

/**
 * What a write does with the key, given its old value: store `value` (until `expiresAt`, epoch
 * ms; omitted: as it was, null: for good), delete it, or leave it.
 */
export type KvChange<T> = { value: unknown; result: T; expiresAt?: number | null } | { delete: true; result: T } | { keep: true; result: T };

const entryBytes = (key: string, json: string) => Buffer.byteLength(key) + Buffer.byteLength(json);

function checkQuota(quota: KvQuota, key: string, before: KvUsage, after: KvUsage): void {
  if (after.kvKeys > before.kvKeys && after.kvKeys > quota.kvKeys) {
    throw new PlughostError('PLUGIN_LIMIT',
      `$db is full: this installation stores ${before.kvKeys} keys, its limit (limits.kvKeys); delete keys before adding new ones`,
      { details: { limit: 'kvKeys', max: quota.kvKeys, used: before.kvKeys } });
  }
  if (after.kvBytes > before.kvBytes && after.kvBytes > quota.kvBytes) {
    throw new PlughostError('PLUGIN_LIMIT',
      `$db is full: storing ${JSON.stringify(key.slice(0, 60))} would bring this installation to ${after.kvBytes} bytes, over its limit of ${quota.kvBytes} (limits.kvBytes)`,
      { details: { limit: 'kvBytes', max: quota.kvBytes, used: before.kvBytes, wanted: after.kvBytes } });
  }
}

const expired = (row: { expires_at?: unknown }, now: number) => row.expires_at !== null && row.expires_at !== undefined && Number(row.expires_at) <= now;

export function kvTable(db: Knex) {
  /** One key's read-check-write under the installation's usage lock. */
  const write = <T>(installationId: string, key: string, now: number, quota: KvQuota, change: (old: unknown | undefined) => KvChange<T>): Promise<T> =>
    db.transaction(async (trx) => {
      await trx('kv_usage').insert({ installation_id: installationId, key_count: 0, byte_count: 0 }).onConflict('installation_id').ignore();
      const lock = trx('kv_usage').where({ installation_id: installationId });
      if (trx.client.config.client === 'pg') lock.forUpdate();
      const usage = await lock.first();
      const before: KvUsage = { kvKeys: Number(usage.key_count), kvBytes: Number(usage.byte_count) };
      const row = await trx('kv').where({ installation_id: installationId, key }).first('value', 'expires_at');
      const oldBytes = row ? entryBytes(key, row.value) : 0;
      // An expired entry is gone for the plugin; its row is still counted until it is replaced or deleted.
      const live = row && !expired(row, now) ? row : undefined;
      const outcome = change(live ? JSON.parse(live.value) : undefined);
      if ('keep' in outcome) return outcome.result;
      if ('delete' in outcome) {
        if (row) {
          await trx('kv').where({ installation_id: installationId, key }).delete();
          await trx('kv_usage').where({ installation_id: installationId })
            .update({ key_count: before.kvKeys - 1, byte_count: before.kvBytes - oldBytes });
        }
        return outcome.result;
      }
      const json = JSON.stringify(outcome.value);
      const after: KvUsage = { kvKeys: before.kvKeys + (row ? 0 : 1), kvBytes: before.kvBytes - oldBytes + entryBytes(key, json) };
      checkQuota(quota, key, before, after);
      const expiresAt = outcome.expiresAt !== undefined ? outcome.expiresAt : live ? (live.expires_at ?? null) : null;
      await trx('kv').insert({ installation_id: installationId, key, value: json, updated_at: now, expires_at: expiresAt })
        .onConflict(['installation_id', 'key']).merge(['value', 'updated_at', 'expires_at']);
      await trx('kv_usage').where({ installation_id: installationId }).update({ key_count: after.kvKeys, byte_count: after.kvBytes });
      return outcome.result;
    });

  return {
    /** The value, or undefined when absent (or expired by `now`, when given). */
    async get(installationId: string, key: string, now?: number): Promise<unknown | undefined> {
      const row = await db('kv').where({ installation_id: installationId, key }).first();
      return row && (now === undefined || !expired(row, now)) ? JSON.parse(row.value) : undefined;
    },
    /** Stores `value`, until `expiresAt` (epoch ms) when given, else for good. */
    async set(installationId: string, key: string, value: unknown, now: number, quota: KvQuota, expiresAt: number | null = null): Promise<void> {
      await write(installationId, key, now, quota, () => ({ value, result: undefined, expiresAt }));
    },
    /** Inserts only when absent; true when it inserted (Freshworks' `setIf: "not_exist"`). */
    async insertIfAbsent(installationId: string, key: string, value: unknown, now: number, quota: KvQuota, expiresAt: number | null = null): Promise<boolean> {
      return write(installationId, key, now, quota, (old) => (old === undefined ? { value, result: true, expiresAt } : { keep: true, result: false }));
    },
    /** True when a live entry was deleted (an expired one is purged, and counts as absent). */
    async delete(installationId: string, key: string, now = Date.now()): Promise<boolean> {
      // Deleting never grows usage, so no quota can refuse it.
      return write(installationId, key, now, { kvKeys: Infinity, kvBytes: Infinity }, (old) => (old === undefined ? { delete: true, result: false } : { delete: true, result: true }));
    },
    /** Read-modify-write of one key; `change` throws to refuse (nothing is written then). */
    async update<T>(installationId: string, key: string, now: number, quota: KvQuota, change: (old: unknown | undefined) => { value: unknown; result: T; expiresAt?: number | null }): Promise<T> {
      return write(installationId, key, now, quota, change);
    },
    /** The installation's `$db` usage as the quota counts it. */
    async usage(installationId: string): Promise<KvUsage> {
      const row = await db('kv_usage').where({ installation_id: installationId }).first();
      return { kvKeys: Number(row?.key_count ?? 0), kvBytes: Number(row?.byte_count ?? 0) };
    },
  };
}
export type KvTable = ReturnType<typeof kvTable>;
