// Cluster firing benchmark (SPEC §8 on PostgreSQL): how firing throughput scales with one, two
// and three host processes sharing one database. For each process count, on a FRESH schema:
// N host processes (test/schedule/fixtures/host-process.ts, default options: concurrency 16,
// batch 200, silent) start one after another, a trivial plugin (an `onScheduledEvent` handler
// that returns at once, test/cluster/fixtures/cluster.ts) is installed into 3 workspaces, and
// the same number of one-time plugin schedules (default 3,000, 1,000 per installation, as
// Freshworks allows) is inserted through the store API, all due at ONE instant. Then every
// process's virtual clock is set to that instant at once, and the REAL wall time from those
// `set` messages to the last `occurrence:finished` event is the figure: firings/s =
// count / wall time, planning included. Reported as ratios to one process in the same run.
//
// Why virtual clocks: all processes must see the backlog fall due at the same moment. On real
// clocks that needs a lead time guessed to outlast N process starts and the insert, then each
// process wakes on its own timer (a few ms apart) and the measured window starts at a guessed
// instant; with virtual clocks the start is exactly the moment the bench sends `set`, and the
// rest of the run is real work on the real clock (queries, isolates, IPC). The difference is
// that a frozen clock never makes a pass fire by itself (`pollMs`): a process is woken only by
// its own finishing runs, which is what keeps a process busy while a backlog drains anyway.
// The per-process share of firings is printed so a process that fell idle would show.
//
// None twice is checked in the ledger after each run: `count` occurrences, all `succeeded` at
// attempt 1, `count` successful runs with `count` distinct idempotency keys (after a clean
// shutdown, so the run recorders have flushed), and no occurrence fired by two processes.
//
//   node --no-node-snapshot test/bench/cluster.ts [--json] [--count 3000] [--nodes 1,2,3] [--rounds 1]
//
// PostgreSQL: PLUGHOST_TEST_DATABASE_URL if set, else PLUGHOST_TEST_PG_URL, else
// postgres://postgres@127.0.0.1:5432/test; each run's schema is dropped afterwards. The bench
// machine has 2 cores, shared by the host processes, PostgreSQL and this process, so more
// processes mainly show how well the claims avoid each other, not a speed-up per core.
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { HostChild } from '../schedule/fixtures/crash-child.ts';
import { openLedger } from '../schedule/fixtures/crash-child.ts';
import {
  insertSchedules, oneTimeSchedules, openClusterStore, PER_INSTALLATION, probePlugin, setClocks, setUpPlugin, startCluster,
} from '../cluster/fixtures/cluster.ts';
import { clusterDatabaseUrl, pgSpace, redact } from '../cluster/fixtures/pg.ts';
import { median } from './stats.ts';

const START = Date.parse('2031-01-01T00:00:00Z');
const DUE = START + 3_600_000;

export interface ClusterRun {
  nodes: number;
  count: number;
  insertMs: number;
  /** From the `set` messages to the first `schedule:fired` any process reported. */
  firstFireMs: number;
  /** From the `set` messages to the last `occurrence:finished`. */
  wallMs: number;
  firingsPerSec: number;
  /** Occurrences each process fired (attempt 1), in process order. */
  perNode: number[];
  check: { occurrences: number; succeededAttemptOne: number; runs: number; distinctRunKeys: number; firedEvents: number; distinctFired: number; noneTwice: boolean };
  /**
   * From every process's `/metrics` (plughost_scheduler_*), summed: claim statements, due
   * schedules a process read but another planned first, and outcomes refused for a lease
   * another process held. Collisions per occurrence = (plan conflicts + lost leases) / count.
   */
  ledger: { claims: number; claimsPerOccurrence: number; planConflicts: number; lostLeases: number; collisionsPerOccurrence: number };
}

/** The plughost_scheduler_* counters of one process, read from its Prometheus text. */
async function schedulerCounters(n: HostChild): Promise<Record<'claims' | 'planConflicts' | 'lostLeases', number>> {
  const res = await n.api('GET', '/metrics');
  const text = String(res.body);
  const read = (name: string) => {
    const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
    if (!m) throw new Error(`${name} is missing from /metrics (status ${res.status})`);
    return Number(m[1]);
  };
  return { claims: read('plughost_scheduler_claims_total'), planConflicts: read('plughost_scheduler_plan_conflicts_total'), lostLeases: read('plughost_scheduler_lost_leases_total') };
}

export interface ClusterBenchResult {
  database: string;
  count: number;
  rounds: number;
  runs: ClusterRun[];
  /** Per process count: median firings/s over the rounds and the ratio to one process. */
  summary: Array<{ nodes: number; medianPerSec: number; ratio: number }>;
}

export interface ClusterBenchOptions {
  count?: number;
  nodeCounts?: number[];
  rounds?: number;
  /** Give up on a run after this long (ms) without every occurrence finished. */
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

async function oneRun(nodeCount: number, count: number, timeoutMs: number, progress: (line: string) => void): Promise<ClusterRun> {
  const space = await pgSpace('bench-cluster');
  let nodes: HostChild[] = [];
  try {
    nodes = await startCluster({ nodes: nodeCount, dataDir: space.dataDir, databaseUrl: space.url, startMs: START });
    const workspaces = Array.from({ length: Math.ceil(count / PER_INSTALLATION) }, (_, i) => `bench${i}`);
    const installed = await setUpPlugin(nodes, probePlugin('bench-cluster'), workspaces);
    const store = await openClusterStore(space.url, space.dataDir, space.schema);
    const insertStarted = performance.now();
    try {
      await insertSchedules(store, oneTimeSchedules(installed, count, () => DUE, START));
    } finally {
      await store.close();
    }
    const insertMs = performance.now() - insertStarted;
    for (const n of nodes) await n.idle();
    progress(`  ${nodeCount} process(es): ${count} schedules inserted in ${Math.round(insertMs)} ms; firing`);

    // Count finishes as they arrive over IPC (the children's own event list keeps them too).
    let finishedCount = 0;
    let firstFire = 0;
    let last = 0;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${nodeCount} process(es): only ${finishedCount} of ${count} occurrences finished within ${timeoutMs} ms`)), timeoutMs);
      for (const n of nodes) {
        n.proc.on('message', (m: { type?: string; name?: string; info?: { status?: string } }) => {
          if (m.type !== 'event') return;
          if (m.name === 'schedule:fired' && !firstFire) firstFire = performance.now();
          if (m.name === 'occurrence:finished') {
            finishedCount++;
            if (finishedCount === count) {
              last = performance.now();
              resolve();
            }
          }
        });
        void n.exited.then(({ code, signal }) => reject(new Error(`a host process exited (code ${code}, signal ${signal}) during the run${n.output()}`)));
      }
    });
    await setClocks(nodes, DUE);
    await done.finally(() => clearTimeout(timer));
    const wallMs = last - t0;
    for (const n of nodes) await n.idle(60_000);

    const fired = nodes.map((n) => n.events.filter((e) => e.name === 'schedule:fired').map((e) => String(e.info.occurrenceId)));
    const perNode = fired.map((f) => f.length);
    const counters = await Promise.all(nodes.map(schedulerCounters));
    const sum = (k: 'claims' | 'planConflicts' | 'lostLeases') => counters.reduce((a, c) => a + c[k], 0);
    const ledgerCounts = {
      claims: sum('claims'), claimsPerOccurrence: sum('claims') / count, planConflicts: sum('planConflicts'), lostLeases: sum('lostLeases'),
      collisionsPerOccurrence: (sum('planConflicts') + sum('lostLeases')) / count,
    };
    for (const n of nodes) await n.close(); // flushes the run recorders
    nodes = [];

    const ledger = openLedger(space.dataDir, space.url);
    try {
      const occurrences = Number((await ledger('occurrences').count({ n: '*' }))[0]!.n);
      const succeededAttemptOne = Number((await ledger('occurrences').where({ status: 'succeeded', attempt: 1 }).count({ n: '*' }))[0]!.n);
      const runs = Number((await ledger('runs').where({ kind: 'event', status: 'succeeded' }).count({ n: '*' }))[0]!.n);
      const distinctRunKeys = Number((await ledger('runs').where({ kind: 'event', status: 'succeeded' }).countDistinct({ n: 'idempotency_key' }))[0]!.n);
      const all = fired.flat();
      const distinctFired = new Set(all).size;
      const check = {
        occurrences, succeededAttemptOne, runs, distinctRunKeys, firedEvents: all.length, distinctFired,
        noneTwice: occurrences === count && succeededAttemptOne === count && runs === count && distinctRunKeys === count && all.length === count && distinctFired === count,
      };
      const run: ClusterRun = {
        nodes: nodeCount, count, insertMs, firstFireMs: firstFire - t0, wallMs, firingsPerSec: count / (wallMs / 1000), perNode, check, ledger: ledgerCounts,
      };
      progress(`  ${nodeCount} process(es): ${Math.round(run.firingsPerSec)} firings/s (${Math.round(wallMs)} ms), per process ${JSON.stringify(perNode)}, none twice: ${check.noneTwice ? 'yes' : 'NO'}, `
        + `collisions/occurrence ${ledgerCounts.collisionsPerOccurrence.toFixed(3)}, claims/occurrence ${ledgerCounts.claimsPerOccurrence.toFixed(3)}`);
      return run;
    } finally {
      await ledger.destroy();
    }
  } finally {
    for (const n of nodes) await n.kill().catch(() => undefined);
    await space.drop();
  }
}

export async function measureClusterFiring(opts: ClusterBenchOptions = {}): Promise<ClusterBenchResult> {
  const count = opts.count ?? 3_000;
  const nodeCounts = opts.nodeCounts ?? [1, 2, 3];
  const rounds = opts.rounds ?? 1;
  const progress = opts.onProgress ?? (() => {});
  if (!nodeCounts.includes(1)) throw new Error('the node counts must include 1: it is the baseline of the ratios');
  const runs: ClusterRun[] = [];
  for (let round = 0; round < rounds; round++) {
    if (rounds > 1) progress(`round ${round + 1} of ${rounds}`);
    // Alternate the order between rounds, so drift of the machine does not favour one count.
    const order = round % 2 === 0 ? nodeCounts : [...nodeCounts].reverse();
    for (const n of order) runs.push(await oneRun(n, count, opts.timeoutMs ?? 300_000, progress));
  }
  const medianOf = (n: number) => median(runs.filter((r) => r.nodes === n).map((r) => r.firingsPerSec));
  const base = medianOf(1);
  return {
    database: redact(clusterDatabaseUrl()), count, rounds, runs,
    summary: nodeCounts.map((n) => ({ nodes: n, medianPerSec: medianOf(n), ratio: medianOf(n) / base })),
  };
}

export function formatCluster(r: ClusterBenchResult): string {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const out: string[] = [];
  out.push(`cluster firing: ${f0(r.count)} one-time plugin schedules due at one instant, PostgreSQL (${r.database}), a fresh schema per run,`);
  out.push(`virtual clocks set together to the due instant, real wall time to the last finish; ${r.rounds} round(s)`);
  out.push('');
  out.push(`  ${'processes'.padEnd(11)}${'firings/s'.padStart(10)}${'ratio to 1'.padStart(12)}${'wall ms'.padStart(10)}${'1st fire ms'.padStart(13)}${'collisions/occ'.padStart(16)}${'claims/occ'.padStart(12)}   fired per process      none twice`);
  for (const s of r.summary) {
    const mine = r.runs.filter((x) => x.nodes === s.nodes);
    const one = mine[0]!;
    out.push(`  ${String(s.nodes).padEnd(11)}${f0(s.medianPerSec).padStart(10)}${s.ratio.toFixed(2).padStart(12)}${f0(median(mine.map((x) => x.wallMs))).padStart(10)}`
      + `${f0(median(mine.map((x) => x.firstFireMs))).padStart(13)}${median(mine.map((x) => x.ledger.collisionsPerOccurrence)).toFixed(3).padStart(16)}`
      + `${median(mine.map((x) => x.ledger.claimsPerOccurrence)).toFixed(3).padStart(12)}   ${JSON.stringify(one.perNode).padEnd(22)} ${mine.every((x) => x.check.noneTwice) ? 'yes' : 'NO'}`);
  }
  if (r.rounds > 1) {
    out.push('');
    for (const x of r.runs) out.push(`  run: ${x.nodes} process(es) ${f0(x.firingsPerSec)} /s`);
  }
  return out.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      count: { type: 'string', default: '3000' },
      nodes: { type: 'string', default: '1,2,3' },
      rounds: { type: 'string', default: '1' },
    },
  });
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${raw}`);
    return n;
  };
  const result = await measureClusterFiring({
    count: int('count', values.count, 1), nodeCounts: values.nodes.split(',').map((s) => int('nodes', s.trim(), 1)), rounds: int('rounds', values.rounds, 1),
    onProgress: (line) => process.stderr.write(line + '\n'),
  });
  const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };
  if (values.json) console.log(JSON.stringify({ environment, ...result }, null, 2));
  else console.log(`plughost cluster bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})\n\n${formatCluster(result)}`);
}
