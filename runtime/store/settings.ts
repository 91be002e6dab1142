// Host-wide settings in the store (for example the store's identity, used by the clone guard).
import type { Knex } from 'knex';

export function settingsTable(db: Knex) {
  return {
    async get(key: string): Promise<string | undefined> {
      const row = await db('settings').where({ key }).first();
      return row?.value;
    },
    /** Sets `key` only if it is unset; returns the value that is stored afterwards. */
    async setIfAbsent(key: string, value: string): Promise<string> {
      await db('settings').insert({ key, value }).onConflict('key').ignore();
      return (await this.get(key)) ?? value;
    },
    async set(key: string, value: string): Promise<void> {
      await db('settings').insert({ key, value }).onConflict('key').merge();
    },
  };
}
export type SettingsTable = ReturnType<typeof settingsTable>;
