// Haplo integration messages: queues (discovered), messages (the durable outbox), poll keys
// scoped to one queue, poll tokens (exactly the ids a fetch handed out), and an audit log of
// manual acts. Also the services each installation implements, learnt at load.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.text('services'); // JSON array of Haplo service names the plugin implements
  });
  await knex.schema.createTable('im_queues', (t) => {
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('group_name', 100).notNullable();
    t.string('installation_id', 64);
    t.string('method', 8).notNullable(); // poll | send
    t.string('title', 300).notNullable();
    t.text('description').notNullable();
    t.text('last_error');
    t.bigInteger('last_error_at');
    t.bigInteger('last_sent_at');
    t.primary(['workspace_id', 'group_name']);
  });
  await knex.schema.createTable('im_messages', (t) => {
    t.increments('id');
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('group_name', 100).notNullable();
    t.text('data').notNullable();
    t.string('status', 8).notNullable(); // unsent | sending | sent
    t.string('batch_id', 64); // the send that holds it while status = sending
    t.bigInteger('lease_until');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at');
    // The poll and send queries: unsent messages of one queue, oldest first, from the index alone.
    t.index(['workspace_id', 'group_name', 'status', 'id'], 'im_messages_queue');
    t.index(['batch_id']);
  });
  await knex.schema.createTable('im_poll_keys', (t) => {
    t.string('id', 64).primary();
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('group_name', 100).notNullable();
    t.string('key_hash', 64).notNullable().unique();
    t.bigInteger('created_at').notNullable();
  });
  await knex.schema.createTable('im_poll_tokens', (t) => {
    t.string('token_hash', 64).notNullable();
    t.string('workspace_id', 64).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('group_name', 100).notNullable();
    t.text('ids').notNullable(); // JSON array of the message ids the fetch returned
    t.bigInteger('created_at').notNullable();
    t.primary(['workspace_id', 'group_name', 'token_hash']);
  });
  await knex.schema.createTable('audit_log', (t) => {
    t.increments('id');
    t.string('workspace_id', 64).notNullable();
    t.string('actor', 100).notNullable();
    t.string('action', 100).notNullable();
    t.text('detail').notNullable();
    t.bigInteger('at').notNullable();
    t.index(['workspace_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_log', 'im_poll_tokens', 'im_poll_keys', 'im_messages', 'im_queues']) await knex.schema.dropTableIfExists(table);
  await knex.schema.alterTable('installations', (t) => { t.dropColumn('services'); });
}
