// A schedule's own misfire grace period (scheduled webhooks' `misfireGraceSeconds`), in ms;
// null: the host's `schedules.graceMs`.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('schedules', (t) => {
    t.bigInteger('misfire_grace_ms');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('schedules', (t) => { t.dropColumn('misfire_grace_ms'); });
}
