// Storage quotas: each installation's `$db` usage (keys, and bytes of key + JSON value), kept
// beside the kv table and changed in the same transaction as every write, so a quota check
// reads one row instead of summing the installation's keys. Backfilled from the kv rows.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('kv_usage', (t) => {
    t.string('installation_id', 64).primary().references('id').inTable('installations').onDelete('CASCADE');
    t.bigInteger('key_count').notNullable().defaultTo(0);
    t.bigInteger('byte_count').notNullable().defaultTo(0);
  });
  const bytes = knex.client.config.client === 'pg'
    ? 'octet_length(key) + octet_length(value)'
    : 'length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))';
  await knex.raw(`INSERT INTO kv_usage (installation_id, key_count, byte_count)
    SELECT installation_id, count(*), sum(${bytes}) FROM kv GROUP BY installation_id`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('kv_usage');
}
