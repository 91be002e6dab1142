// What a host product says of a workspace, for the Freshworks payloads its apps receive:
// `domain` (the account's product domain) and `region`. Null until set: payloads then say
// `<workspace>.plughost.local` and `US`.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.string('product_domain', 253);
    t.string('region', 16);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.dropColumn('product_domain');
    t.dropColumn('region');
  });
}
