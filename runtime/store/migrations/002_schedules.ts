// Schedules of all three kinds and the run ledger: one occurrence row per firing, claimed
// once (unique idempotency key, conditional updates), leased while it runs.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.text('hooks'); // JSON array of Haplo hook names the plugin registered, learnt at load
  });
  await knex.schema.createTable('schedules', (t) => {
    t.string('id', 64).primary();
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('installation_id', 64).references('id').inTable('installations').onDelete('CASCADE');
    t.string('kind', 16).notNullable(); // webhook | plugin | hook
    t.string('name', 200); // $schedule name or hook name
    t.string('unique_key', 300).notNullable().unique();
    t.text('spec').notNullable(); // what the user asked for, JSON
    t.text('recurrence').notNullable(); // how to compute fire times, JSON
    t.boolean('active').notNullable();
    t.bigInteger('next_run_at');
    t.string('misfire', 16).notNullable();
    t.string('overlap', 16).notNullable();
    t.integer('max_retries').notNullable();
    t.text('secret'); // sealed webhook secret key
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    // Due and earliest-next queries filter on active first: paused schedules keep their time.
    t.index(['active', 'next_run_at']);
    t.index(['workspace_id', 'kind', 'id']);
    t.index(['installation_id']);
  });
  await knex.schema.createTable('occurrences', (t) => {
    t.string('id', 64).primary();
    t.string('schedule_id', 64).notNullable().references('id').inTable('schedules').onDelete('CASCADE');
    t.string('workspace_id', 64).notNullable();
    t.bigInteger('due_at').notNullable();
    t.string('idempotency_key', 200).notNullable().unique();
    t.string('trigger', 16).notNullable(); // schedule | manual | catch-up
    t.string('status', 16).notNullable(); // pending | running | succeeded | failed | skipped
    t.integer('attempt').notNullable(); // attempts started, crash re-runs included
    t.integer('failures').notNullable(); // attempts that failed; retries are bounded by these
    t.bigInteger('available_at').notNullable();
    t.string('lease_owner', 64);
    t.bigInteger('lease_until');
    t.string('last_run_id', 64);
    t.text('error');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('finished_at');
    t.index(['status', 'available_at']);
    t.index(['status', 'lease_until']);
    t.index(['schedule_id', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('occurrences');
  await knex.schema.dropTableIfExists('schedules');
  await knex.schema.alterTable('installations', (t) => { t.dropColumn('hooks'); });
}
