// The scheduler against its peers on one PostgreSQL (issue 12): plughost firing `jobs` scheduled
// webhooks due at one instant into an in-process plugin route, graphile-worker and pg-boss each
// draining `jobs` no-op jobs due at one instant, all with plughost's `schedules.concurrency`.
// Each system runs in its own process (scheduler-peers-child.ts), one after another, `rounds`
// rounds in alternating order, each round in schemas of its own inside a database made for this
// run (dropped afterwards). Reported per system: the medians over the rounds of jobs/s (due →
// last done), lateness p99 (done − due) and CPU ms per job (the system's own process), as
// ratios to pg-boss; and plughost's SQL statements (knex 'query' events) per fired occurrence
// and per route request. See README.md.
//
//   node --no-node-snapshot test/bench/scheduler-peers.ts [--json] [--jobs 10000] [--rounds 3]
//     [--lead 2000] [--route-requests 5000] [--pg postgres://postgres@127.0.0.1:5432/test]
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { resolveOptions } from '../../runtime/options.ts';
import type { DrainConfig, DrainResult, PeerSystem } from './scheduler-peers-child.ts';
import { median } from './stats.ts';

export const PEER_SYSTEMS: readonly PeerSystem[] = ['pg-boss', 'graphile-worker', 'plughost'];

export interface PeersOptions {
  jobs?: number;
  rounds?: number;
  leadMs?: number;
  routeRequests?: number;
  /** The server to make the bench database on (any database on it the role can connect to). */
  adminUrl?: string;
  onProgress?: (line: string) => void;
}

export interface PeersRow {
  system: PeerSystem;
  /** Medians over the rounds. */
  jobsPerSec: number;
  latenessP99Ms: number;
  cpuMsPerJob: number;
  /** This system's median over pg-boss's. */
  ratio: { jobsPerSec: number; latenessP99: number; cpuMsPerJob: number };
  statementsPerOccurrence: number | null;
  statementsPerRouteRequest: number | null;
}

export interface PeersResult {
  jobs: number;
  rounds: number;
  concurrency: number;
  /** Server and database (made for this run, dropped after it). */
  database: string;
  runs: DrainResult[];
  rows: PeersRow[];
}

const SCHEMA_PREFIX: Record<PeerSystem, string> = { 'pg-boss': 'boss', 'graphile-worker': 'graphile', plughost: 'plughost' };

const childPath = path.join(import.meta.dirname, 'scheduler-peers-child.ts');

function runChild(cfg: DrainConfig): Promise<DrainResult> {
  return new Promise((resolve, reject) => {
    const child = fork(childPath, [], { execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let answer: { type: 'result'; result: DrainResult } | { type: 'error'; message: string } | undefined;
    child.on('message', (m) => { answer = m as typeof answer; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (answer?.type === 'result') resolve(answer.result);
      else reject(new Error(`${cfg.system} (round schema ${cfg.schema}): ${answer?.type === 'error' ? answer.message : `exited ${code ?? signal} without a result`}`));
    });
    child.send(cfg);
  });
}

async function withBenchDatabase<T>(adminUrl: string, fn: (url: string, name: string) => Promise<T>): Promise<T> {
  const name = `plughost_peers_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${adminUrl} cannot be reached (${(err as Error).message}); give --pg`);
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`); // the name is ours, never input
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await fn(url.toString(), name);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

export async function measureSchedulerPeers(opts: PeersOptions = {}): Promise<PeersResult> {
  const jobs = opts.jobs ?? 10_000;
  const rounds = opts.rounds ?? 3;
  const adminUrl = opts.adminUrl ?? process.env.PLUGHOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const progress = opts.onProgress ?? (() => {});
  const concurrency = resolveOptions({}, {}).schedules.concurrency;
  const runs: DrainResult[] = [];
  const where = new URL(adminUrl);
  let database = '';
  await withBenchDatabase(adminUrl, async (url, name) => {
    database = `${where.host}/${name}`;
    for (let r = 0; r < rounds; r++) {
      // Alternate the order: round r starts with the r-th system.
      const order = PEER_SYSTEMS.map((_, i) => PEER_SYSTEMS[(i + r) % PEER_SYSTEMS.length]!);
      for (const system of order) {
        const schema = `${SCHEMA_PREFIX[system]}_r${r + 1}`; // PostgreSQL reserves pg_…
        progress(`scheduler peers: round ${r + 1}/${rounds}: ${system}, ${jobs} due at one instant, concurrency ${concurrency}`);
        const result = await runChild({ system, url, schema, jobs, concurrency, leadMs: opts.leadMs ?? 2_000, routeRequests: opts.routeRequests ?? 5_000 });
        progress(`scheduler peers:   ${Math.round(result.jobsPerSec)} jobs/s, lateness p99 ${Math.round(result.lateness.p99Ms)} ms, CPU ${result.cpuMsPerJob.toFixed(3)} ms/job`
          + (result.statements ? `, ${result.statements.perOccurrence.toFixed(2)} statements/occurrence` : ''));
        runs.push(result);
      }
    }
  });
  const of = (s: PeerSystem) => runs.filter((x) => x.system === s);
  const med = (s: PeerSystem, f: (x: DrainResult) => number | null | undefined): number | null => {
    const v = of(s).map(f).filter((x): x is number => typeof x === 'number');
    return v.length ? median(v) : null;
  };
  const base = {
    jobsPerSec: med('pg-boss', (x) => x.jobsPerSec)!, latenessP99Ms: med('pg-boss', (x) => x.lateness.p99Ms)!, cpuMsPerJob: med('pg-boss', (x) => x.cpuMsPerJob)!,
  };
  const rows = PEER_SYSTEMS.map((system): PeersRow => {
    const jobsPerSec = med(system, (x) => x.jobsPerSec)!;
    const latenessP99Ms = med(system, (x) => x.lateness.p99Ms)!;
    const cpuMsPerJob = med(system, (x) => x.cpuMsPerJob)!;
    return {
      system, jobsPerSec, latenessP99Ms, cpuMsPerJob,
      ratio: { jobsPerSec: jobsPerSec / base.jobsPerSec, latenessP99: latenessP99Ms / base.latenessP99Ms, cpuMsPerJob: cpuMsPerJob / base.cpuMsPerJob },
      statementsPerOccurrence: med(system, (x) => x.statements?.perOccurrence),
      statementsPerRouteRequest: med(system, (x) => x.route?.perRequest),
    };
  });
  return { jobs, rounds, concurrency, database, runs, rows };
}

export function formatSchedulerPeers(r: PeersResult): string {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const f2 = (n: number) => n.toFixed(2);
  const f3 = (n: number) => n.toFixed(3);
  const out: string[] = [];
  out.push(`scheduler vs peers: ${f0(r.jobs)} due at one instant, concurrency ${r.concurrency}, PostgreSQL ${r.database} (dropped), each system in its own process, ${r.rounds} round${r.rounds === 1 ? '' : 's'}${r.rounds > 1 ? ' alternating (medians)' : ''}`);
  out.push(`  ${'system'.padEnd(17)}${'jobs/s'.padStart(9)}${'x pg-boss'.padStart(11)}${'p99 late ms'.padStart(13)}${'x pg-boss'.padStart(11)}${'CPU ms/job'.padStart(12)}${'x pg-boss'.padStart(11)}${'stmts/occ'.padStart(11)}${'stmts/req'.padStart(11)}`);
  for (const x of r.rows) {
    out.push(`  ${x.system.padEnd(17)}${f0(x.jobsPerSec).padStart(9)}${f2(x.ratio.jobsPerSec).padStart(11)}${f0(x.latenessP99Ms).padStart(13)}${f2(x.ratio.latenessP99).padStart(11)}`
      + `${f3(x.cpuMsPerJob).padStart(12)}${f2(x.ratio.cpuMsPerJob).padStart(11)}${(x.statementsPerOccurrence === null ? '-' : f2(x.statementsPerOccurrence)).padStart(11)}`
      + `${(x.statementsPerRouteRequest === null ? '-' : f3(x.statementsPerRouteRequest)).padStart(11)}`);
  }
  const ph = r.rows.find((x) => x.system === 'plughost')!;
  const boss = r.rows.find((x) => x.system === 'pg-boss')!;
  const gw = r.rows.find((x) => x.system === 'graphile-worker')!;
  out.push('', 'goals (issue 12)');
  const goal = (text: string, met: boolean) => out.push(`  ${text} — ${met ? 'met' : 'NOT met'}`);
  goal(`plughost jobs/s >= pg-boss's: ${f2(ph.ratio.jobsPerSec)}x`, ph.ratio.jobsPerSec >= 1);
  goal(`plughost lateness p99 <= pg-boss's: ${f2(ph.ratio.latenessP99)}x`, ph.ratio.latenessP99 <= 1);
  out.push(`  plughost CPU per occurrence ${f3(ph.cpuMsPerJob)} ms vs graphile-worker's per job ${f3(gw.cpuMsPerJob)} ms (+ the isolate call; pg-boss ${f3(boss.cpuMsPerJob)} ms)`);
  if (ph.statementsPerOccurrence !== null) goal(`statements per fired occurrence <= 0.5: ${f2(ph.statementsPerOccurrence)}`, ph.statementsPerOccurrence <= 0.5);
  return out.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      jobs: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '3' },
      lead: { type: 'string', default: '2000' },
      'route-requests': { type: 'string', default: '5000' },
      pg: { type: 'string' },
    },
  });
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${raw}`);
    return n;
  };
  const result = await measureSchedulerPeers({
    jobs: int('jobs', values.jobs, 1), rounds: int('rounds', values.rounds, 1), leadMs: int('lead', values.lead, 300),
    routeRequests: int('route-requests', values['route-requests'], 0), ...(values.pg ? { adminUrl: values.pg } : {}),
    onProgress: (line) => process.stderr.write(line + '\n'),
  });
  const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown' };
  if (values.json) console.log(JSON.stringify({ environment, ...result }, null, 2));
  else console.log(`plughost scheduler-peers bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})\n\n${formatSchedulerPeers(result)}`);
}
