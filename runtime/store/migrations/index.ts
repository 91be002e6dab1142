// The migration set, bundled with the code and run in this order on both stores.
// Add a file and list it here; never edit a migration that has shipped.
import type { Knex } from 'knex';
import * as m001 from './001_core.ts';
import * as m002 from './002_schedules.ts';
import * as m003 from './003_integration_messages.ts';
import * as m004 from './004_misfire_grace.ts';
import * as m005 from './005_storage_quotas.ts';
import * as m006 from './006_seen_signatures.ts';
import * as m007 from './007_workspace_product.ts';
import * as m008 from './008_kv_ttl.ts';
import * as m009 from './009_installation_load_error.ts';
import * as m010 from './010_plugin_tables.ts';
import * as m011 from './011_api_keys.ts';
import * as m012 from './012_workspace_config.ts';
import * as m013 from './013_runs_schedule_index.ts';

const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_core': m001,
  '002_schedules': m002,
  '003_integration_messages': m003,
  '004_misfire_grace': m004,
  '005_storage_quotas': m005,
  '006_seen_signatures': m006,
  '007_workspace_product': m007,
  '008_kv_ttl': m008,
  '009_installation_load_error': m009,
  '010_plugin_tables': m010,
  '011_api_keys': m011,
  '012_workspace_config': m012,
  '013_runs_schedule_index': m013,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
