// A workspace's config data: Haplo's application-wide configuration (`O.application.config`),
// a JSON object set by an admin (PATCH /api/v1/workspaces/:ws {config}). Null until set.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.text('config');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.dropColumn('config');
  });
}
