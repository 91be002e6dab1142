// Keeps the scheduler-peers bench from rotting: one round of 200 jobs per system (plughost,
// graphile-worker, pg-boss, each in its own process) on the machine's PostgreSQL (the server of
// PLUGHOST_TEST_DATABASE_URL in the suite's PostgreSQL run, else PLUGHOST_TEST_PG_URL or the
// local one), a short route load; checks that every row has finite positive numbers, that every
// job was done (the children fail on a missing or twice-done job), that the table prints and
// that the bench's database is gone afterwards. No timing is asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { formatSchedulerPeers, measureSchedulerPeers, PEER_SYSTEMS } from './scheduler-peers.ts';

const JOBS = 200;
const adminUrl = process.env.PLUGHOST_TEST_DATABASE_URL ?? process.env.PLUGHOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const positive = (n: unknown, what: string) => {
  assert.equal(typeof n, 'number', `${what} is a number`);
  assert.ok(Number.isFinite(n as number) && (n as number) > 0, `${what} = ${n} is a finite number > 0`);
};

test('scheduler-peers bench: one tiny round per system gives finite positive numbers', { timeout: 120_000 }, async () => {
  const r = await measureSchedulerPeers({ jobs: JOBS, rounds: 1, leadMs: 1_000, routeRequests: 200, adminUrl });
  assert.equal(r.jobs, JOBS);
  assert.equal(r.runs.length, PEER_SYSTEMS.length);
  assert.deepEqual(r.rows.map((x) => x.system), [...PEER_SYSTEMS]);
  positive(r.concurrency, 'concurrency');
  for (const run of r.runs) {
    assert.equal(run.jobs, JOBS);
    assert.equal(run.concurrency, r.concurrency, `${run.system} ran at the bench's concurrency`);
    for (const [what, n] of Object.entries({ drainMs: run.drainMs, jobsPerSec: run.jobsPerSec, p50: run.lateness.p50Ms, p99: run.lateness.p99Ms, cpu: run.cpuMsPerJob, lead: run.leadMs })) {
      positive(n, `${run.system} ${what}`);
    }
    assert.ok(run.lateness.p50Ms <= run.lateness.p99Ms && run.lateness.p99Ms <= run.lateness.maxMs, `${run.system} lateness is ordered`);
  }
  for (const row of r.rows) {
    for (const [what, n] of Object.entries({ jobsPerSec: row.jobsPerSec, latenessP99Ms: row.latenessP99Ms, cpuMsPerJob: row.cpuMsPerJob })) positive(n, `${row.system} ${what}`);
    for (const [what, n] of Object.entries(row.ratio)) positive(n, `${row.system} ratio ${what}`);
    if (row.system === 'plughost') {
      positive(row.statementsPerOccurrence, 'plughost statements per occurrence');
      positive(row.statementsPerRouteRequest, 'plughost statements per route request');
    } else {
      assert.equal(row.statementsPerOccurrence, null);
      assert.equal(row.statementsPerRouteRequest, null);
    }
  }
  const pgBoss = r.rows.find((x) => x.system === 'pg-boss')!;
  assert.deepEqual(pgBoss.ratio, { jobsPerSec: 1, latenessP99: 1, cpuMsPerJob: 1 });
  const table = formatSchedulerPeers(r);
  for (const s of PEER_SYSTEMS) assert.match(table, new RegExp(`^  ${s} `, 'm'));

  const name = r.database.split('/').at(-1)!;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    assert.equal(left.rowCount, 0, `the bench database ${name} was dropped`);
  } finally {
    await admin.end();
  }
});
