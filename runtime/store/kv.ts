// The per-installation key-value store behind Freshworks' `$db`.
import type { Knex } from 'knex';

export function kvTable(db: Knex) {
  return {
    async get(installationId: string, key: string): Promise<unknown | undefined> {
      const row = await db('kv').where({ installation_id: installationId, key }).first();
      return row ? JSON.parse(row.value) : undefined;
    },
    async set(installationId: string, key: string, value: unknown, now: number): Promise<void> {
      await db('kv').insert({ installation_id: installationId, key, value: JSON.stringify(value), updated_at: now })
        .onConflict(['installation_id', 'key']).merge(['value', 'updated_at']);
    },
    /** Inserts only when absent; true when it inserted (Freshworks' `setIf: "not_exist"`). */
    async insertIfAbsent(installationId: string, key: string, value: unknown, now: number): Promise<boolean> {
      const rows = await db('kv').insert({ installation_id: installationId, key, value: JSON.stringify(value), updated_at: now })
        .onConflict(['installation_id', 'key']).ignore().returning('key');
      return rows.length > 0;
    },
    async delete(installationId: string, key: string): Promise<boolean> {
      return (await db('kv').where({ installation_id: installationId, key }).delete()) > 0;
    },
    /** Read-modify-write of one key inside a transaction, so concurrent updates do not lose writes. */
    async update<T>(installationId: string, key: string, now: number, change: (old: unknown | undefined) => { value: unknown; result: T }): Promise<T> {
      return db.transaction(async (trx) => {
        const q = trx('kv').where({ installation_id: installationId, key });
        if (trx.client.config.client === 'pg') q.forUpdate();
        const row = await q.first();
        const { value, result } = change(row ? JSON.parse(row.value) : undefined);
        await trx('kv').insert({ installation_id: installationId, key, value: JSON.stringify(value), updated_at: now })
          .onConflict(['installation_id', 'key']).merge(['value', 'updated_at']);
        return result;
      });
    },
  };
}
export type KvTable = ReturnType<typeof kvTable>;
