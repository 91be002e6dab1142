// Haplo's P.db: the tables an installation has declared (`P.db.table(name, fields)`), the
// physical table that holds each, and how many rows the installation keeps in all of them
// (its `limits.dbRows` quota). The physical tables themselves are created by the host when
// a plugin first uses one (runtime/store/plugin-tables.ts), not by a migration.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('plugin_tables', (t) => {
    t.string('installation_id', 64).notNullable().references('id').inTable('installations').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('physical_name').notNullable().unique();
    t.text('fields').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['installation_id', 'name']);
  });
  await knex.schema.createTable('plugin_db_usage', (t) => {
    t.string('installation_id', 64).primary().references('id').inTable('installations').onDelete('CASCADE');
    t.bigInteger('row_count').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('plugin_db_usage');
  await knex.schema.dropTableIfExists('plugin_tables');
}
