// The newest runs of one schedule (the admin UI's last-run column, runs.lastOfSchedules) as an
// index lookup: runs by (schedule_id, id), read backwards from the newest. Without it each
// lookup walked the workspace's runs back from the newest until it met one of the schedule.
import type { Knex } from 'knex';

const NAME = 'runs_schedule_id_id_index';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.index(['schedule_id', 'id'], NAME);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropIndex(['schedule_id', 'id'], NAME);
  });
}
