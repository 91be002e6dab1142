// Replay memory for signed plugin routes: each accepted X-Plughost-Signature (its HMAC) until
// its window ends. Indexed by expiry for the purge that runs with every insert.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('seen_signatures', (t) => {
    t.string('signature', 64).primary();
    t.bigInteger('expires_at').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('seen_signatures');
}
