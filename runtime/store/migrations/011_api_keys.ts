// API keys for Haplo `/api` respond roots: each opens the paths under one prefix of one
// workspace to another system (HTTP Basic `haplo:<key>`). Only the key's SHA-256 hash is kept;
// revoking sets `revoked_at` and keeps the row, so the list still shows the key.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    t.string('id', 64).primary();
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('name', 200).notNullable();
    t.string('path_prefix', 200).notNullable(); // e.g. /api/haplo-integration-messages
    t.string('key_hash', 64).notNullable().unique();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('revoked_at');
    t.index(['workspace_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('api_keys');
}
