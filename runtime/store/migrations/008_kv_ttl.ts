// `$db.set(key, value, {ttl})`: when an entry stops being there (epoch ms; null: never).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kv', (t) => {
    t.bigInteger('expires_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kv', (t) => {
    t.dropColumn('expires_at');
  });
}
