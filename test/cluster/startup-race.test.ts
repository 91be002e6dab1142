// Several host processes started AT ONCE on an empty PostgreSQL schema (SPEC §8 "any number of
// host processes share the database"; the usual way a cluster is deployed: replicas started
// together, all configured with the same PLUGHOST_OPERATOR_TOKEN). Every one must come up,
// migrate nothing twice and accept the shared operator token. Six rounds of three processes
// on a fresh schema each, since the race does not show on every start.
// Needs PostgreSQL in both passes of `npm test` (see fixtures/pg.ts); it fails without it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { migrationSource } from '../../runtime/store/migrations/index.ts';
import type { HostChild } from '../schedule/fixtures/crash-child.ts';
import { startCluster } from './fixtures/cluster.ts';
import { connectOrFail, pgSpace, type PgSpace } from './fixtures/pg.ts';

const ROUNDS = 6;
const spaces: PgSpace[] = [];
const started: HostChild[] = [];

after(async () => {
  for (const n of started) await n.kill().catch(() => undefined);
  for (const s of spaces) await s.drop();
});

test('three host processes started at once on an empty schema all come up and share the operator token', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const space = await pgSpace('startup-race');
    spaces.push(space);
    const nodes = await startCluster({ nodes: 3, dataDir: space.dataDir, databaseUrl: space.url, startMs: Date.parse('2030-01-01T00:00:00Z'), together: true });
    started.push(...nodes);
    for (const n of nodes) {
      const health = await fetch(`${n.url}/healthz`);
      assert.equal(health.status, 200);
      const workspaces = await n.api('GET', '/api/v1/workspaces');
      assert.equal(workspaces.status, 200, JSON.stringify(workspaces.body));
    }
    // One migration run, one operator token row.
    const c = await connectOrFail(space.url);
    try {
      const migrations = await c.query(`SELECT name FROM "${space.schema}".knex_migrations ORDER BY id`);
      // Each migration of the set once, in order.
      assert.deepEqual(migrations.rows.map((r: { name: string }) => r.name), await migrationSource.getMigrations([]));
      const operators = await c.query(`SELECT count(*)::int AS n FROM "${space.schema}".tokens WHERE kind = 'operator'`);
      assert.equal(operators.rows[0].n, 1);
    } finally {
      await c.end();
    }
    for (const n of nodes) await n.close();
  }
});
