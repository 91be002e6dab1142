// Why an installation's code last failed to load ({code, message} JSON), or null: a broken
// installation says so in the API and the admin UI instead of looking active and idle.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.text('load_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.dropColumn('load_error');
  });
}
