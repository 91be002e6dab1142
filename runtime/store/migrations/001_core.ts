// The first schema: workspaces, tokens, the plugin registry, installations, the run log,
// the per-installation key-value store and the workspace data that zn-http reads.
// Times are bigint milliseconds since the epoch on both stores.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settings', (t) => {
    t.string('key', 64).primary();
    t.text('value').notNullable();
  });
  await knex.schema.createTable('workspaces', (t) => {
    t.string('id', 64).primary();
    t.string('name', 200).notNullable();
    t.string('timezone', 64).notNullable();
    t.bigInteger('created_at').notNullable();
  });
  await knex.schema.createTable('tokens', (t) => {
    t.string('id', 64).primary();
    t.string('token_hash', 64).notNullable().unique();
    t.string('kind', 16).notNullable(); // operator | workspace
    t.string('workspace_id', 64).references('id').inTable('workspaces').onDelete('CASCADE');
    t.bigInteger('created_at').notNullable();
  });
  await knex.schema.createTable('plugin_versions', (t) => {
    t.string('name', 64).notNullable();
    t.string('version', 64).notNullable();
    t.text('manifest').notNullable();
    t.text('files').notNullable(); // JSON {path: base64}
    t.integer('size_bytes').notNullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['name', 'version']);
  });
  await knex.schema.createTable('installations', (t) => {
    t.string('id', 64).primary();
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('plugin_name', 64).notNullable();
    t.string('plugin_version', 64).notNullable();
    t.string('namespace', 64).notNullable();
    t.text('iparams').notNullable();
    t.text('secure_iparams'); // AES-GCM sealed JSON
    t.boolean('active').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['workspace_id', 'namespace']);
    t.foreign(['plugin_name', 'plugin_version']).references(['name', 'version']).inTable('plugin_versions');
  });
  await knex.schema.createTable('runs', (t) => {
    t.string('id', 64).primary();
    t.string('workspace_id', 64).notNullable();
    t.string('installation_id', 64);
    t.string('kind', 16).notNullable(); // route | webhook | event | hook | service
    t.string('trigger', 16).notNullable(); // http | schedule | manual | retry | catch-up
    t.string('target', 300).notNullable();
    t.string('status', 16).notNullable(); // running | succeeded | failed | timed-out
    t.string('schedule_id', 64);
    t.string('idempotency_key', 200);
    t.integer('attempt').notNullable().defaultTo(1);
    t.integer('http_status');
    t.bigInteger('started_at').notNullable();
    t.bigInteger('finished_at');
    t.integer('duration_ms');
    t.text('log').notNullable();
    t.text('error');
    t.index(['workspace_id', 'id']);
    t.index(['workspace_id', 'status', 'id']);
    t.index(['installation_id', 'id']);
  });
  await knex.schema.createTable('kv', (t) => {
    t.string('installation_id', 64).notNullable().references('id').inTable('installations').onDelete('CASCADE');
    t.string('key', 256).notNullable();
    t.text('value').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['installation_id', 'key']);
  });
  await knex.schema.createTable('forms', (t) => {
    t.increments('id');
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('name', 200).notNullable();
    t.index(['workspace_id']);
  });
  await knex.schema.createTable('folders', (t) => {
    t.increments('id');
    t.integer('form_id').notNullable().references('id').inTable('forms').onDelete('CASCADE');
    t.string('name', 200).notNullable();
    t.index(['form_id']);
  });
  await knex.schema.createTable('records', (t) => {
    t.increments('id');
    t.integer('form_id').notNullable().references('id').inTable('forms').onDelete('CASCADE');
    t.integer('folder_id').notNullable().defaultTo(0); // 0: the form's default folder
    t.string('name', 500).notNullable();
    t.text('fields').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['form_id', 'folder_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['records', 'folders', 'forms', 'kv', 'runs', 'installations', 'plugin_versions', 'tokens', 'workspaces', 'settings']) {
    await knex.schema.dropTableIfExists(table);
  }
}
