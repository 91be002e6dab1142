// Hostile bench (issue 11): how much a hostile installation slows a neighbour, and how much
// memory it makes the host hold. For each attack (hostile-attacks.ts), on a FRESH host
// process (`plughost serve`, product default budgets, `--limits isolateMemoryMb=<budget>`,
// hostile-host.ts): the bench plugin (servers.ts, a trivial Zengine-style route) is installed
// in workspace `neighbour` and the attack plugin in its own attacker workspace(s). A load
// generator in a child process (loadgen-child.ts, autocannon) measures the neighbour's route
// alone, then with the attack running (the attacker is this process, sending HTTP requests
// to the attack route the whole round), alone, under attack, … Reported per attack: the
// neighbour's p50 and p99 under attack as a ratio to alone (medians over the rounds of the
// same run), its rps, the host's CPU, and the host's peak RSS (VmHWM of the host process, all
// its isolates included) against the isolate memory budget. Goals are printed, not enforced.
//
//   npm run bench -- --only hostile [--json] [--rounds 3] [--duration 3] [--warmup 1]
//     [--connections 4] [--isolate-memory-mb 2048] [--attacks timers,logs,…]
//
// Caveat: autocannon counts only answered requests. A neighbour request still unanswered when
// a round ends is not in its p50/p99 (a round with none answered counts as the round's
// duration, a lower bound, marked `starved`). So the table also gives each side's mean
// latency by Little's law, connections / rps: the load is closed-loop (each connection sends
// its next request when the last is answered), so time spent in requests cut at a round's end
// lowers rps and shows there. The goal needs both the p99 ratio and the mean ratio <= 3.
import { ATTACKS, attackPackage, attackWorkspace, startAttacker, startOutside, type Attack, type AttackerStats, type Outside } from './hostile-attacks.ts';
import { readCpuMs, readMemory, sampleRss, startHostProcess } from './hostile-host.ts';
import { startLoadGen, type LoadGen, type LoadJob, type LoadResult } from './loadgen.ts';
import { BENCH_PLUGIN, benchPluginFiles, createClient, routePath } from './servers.ts';
import { median, round2 } from './stats.ts';

export const HOSTILE_GOALS = { maxP99Ratio: 3 };
const NEIGHBOUR_WS = 'neighbour';
const N = 42;

export interface HostileOptions {
  /** Alone / under-attack pairs of rounds per attack. */
  rounds?: number;
  durationSec?: number;
  warmupSec?: number;
  /** A fixed number of neighbour requests per round instead of a duration (smoke test). */
  amount?: number;
  warmupAmount?: number;
  /** autocannon connections to the neighbour. */
  connections?: number;
  /** --limits isolateMemoryMb of every host: the budget the peak RSS is held against. */
  isolateMemoryMb?: number;
  /** Multiplies every attack's size (1 = the issue's sizes). */
  scale?: number;
  /** Attack keys to run (default all, in ATTACKS order). */
  attacks?: string[];
  onProgress?: (line: string) => void;
}

export interface SideRound {
  requests: number; rps: number; p50Ms: number; p99Ms: number;
  /** errors + timeouts + non2xx (autocannon's counts). */
  failures: number; errors: number; timeouts: number; non2xx: number;
  starved: boolean; hostCpuMs: number; wallMs: number;
}
export interface Side {
  rounds: SideRound[];
  /** Medians over the rounds. */
  p50Ms: number;
  p99Ms: number;
  rps: number;
  /** Mean latency by Little's law: connections / median rps (counts requests cut at a round's end). */
  meanMs: number;
  /** Host CPU time over the rounds / their wall time (1 = one core busy). */
  hostCpuCores: number;
  /** Host CPU time per answered neighbour request (under attack it includes the attack's). */
  hostCpuMsPerRequest: number;
  /** Neighbour errors, timeouts and non-2xx answers, all rounds. */
  failures: number;
  starvedRounds: number;
}

export interface AttackResult {
  key: string;
  name: string;
  what: string;
  alone: Side | null;
  under: Side | null;
  p50Ratio: number;
  p99Ratio: number;
  /** Mean latency (Little's law) under attack / alone. */
  meanRatio: number;
  rpsRatio: number;
  /** VmHWM of the host process at the end (or the largest sampled VmRSS, if larger). */
  peakRssMiB: number;
  budgetMiB: number;
  attack: AttackerStats;
  /** From stopping the attacker to every attack request answered and /healthz 200, per round. */
  settleMs: number[];
  goal: { p99: boolean; mean: boolean; rss: boolean; neighbourClean: boolean; met: boolean };
  /** Set when the attack could not be measured to the end (e.g. the host died). */
  error: string | null;
}

export interface HostileRow {
  attack: string;
  p50AloneMs: number; p50UnderMs: number; p50Ratio: number;
  p99AloneMs: number; p99UnderMs: number; p99Ratio: number;
  meanRatio: number;
  peakRssMiB: number; budgetMiB: number; goalMet: boolean;
}

export interface HostileResult {
  isolateMemoryMb: number;
  rounds: number;
  durationSec: number | null;
  amount: number | null;
  connections: number;
  scale: number;
  neighbourPath: string;
  attacks: AttackResult[];
  /** The printed table, one object per attack. */
  rows: HostileRow[];
  goals: { maxP99Ratio: number; met: number; of: number };
}

function side(rounds: SideRound[], connections: number): Side {
  const cpu = rounds.reduce((a, r) => a + r.hostCpuMs, 0);
  const wall = rounds.reduce((a, r) => a + r.wallMs, 0);
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  return {
    rounds,
    p50Ms: median(rounds.map((r) => r.p50Ms)), p99Ms: median(rounds.map((r) => r.p99Ms)), rps: median(rounds.map((r) => r.rps)),
    meanMs: round2(median(rounds.map((r) => r.rps)) > 0 ? (connections * 1000) / median(rounds.map((r) => r.rps)) : Infinity),
    hostCpuCores: round2(wall > 0 ? cpu / wall : 0), hostCpuMsPerRequest: round2(requests > 0 ? cpu / requests : 0),
    failures: rounds.reduce((a, r) => a + r.failures, 0), starvedRounds: rounds.filter((r) => r.starved).length,
  };
}

/** One neighbour round, with the host's CPU over it. */
async function neighbourRound(loadgen: LoadGen, job: LoadJob, pid: number): Promise<SideRound> {
  const cpu0 = readCpuMs(pid);
  const t0 = performance.now();
  const r: LoadResult = await loadgen.run(job);
  const wallMs = performance.now() - t0;
  const cpu1 = readCpuMs(pid);
  const starved = r.requests === 0;
  // No answer in the whole round: its latency is at least the round (a lower bound).
  const floor = (ms: number) => (starved ? r.durationSec * 1000 : ms);
  return {
    requests: r.requests, rps: r.rps, p50Ms: floor(r.latencyP50Ms), p99Ms: floor(r.latencyP99Ms),
    failures: r.errors + r.timeouts + r.non2xx, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, starved,
    hostCpuMs: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : 0, wallMs,
  };
}

async function waitHealthy(url: string, withinMs: number): Promise<void> {
  const until = performance.now() + withinMs;
  for (;;) {
    try {
      const res = await fetch(url + '/healthz', { signal: AbortSignal.timeout(Math.max(100, Math.round(until - performance.now()))) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch { /* not yet */ }
    if (performance.now() >= until) throw new Error(`the host did not answer /healthz 200 within ${withinMs} ms after the attack stopped`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measureAttack(a: Attack, outside: Outside, loadgen: LoadGen, o: Required<Omit<HostileOptions, 'amount' | 'warmupAmount' | 'attacks' | 'onProgress'>> & HostileOptions): Promise<AttackResult> {
  const progress = o.onProgress ?? (() => {});
  const alone: SideRound[] = [];
  const under: SideRound[] = [];
  const attack: AttackerStats = { sent: 0, statuses: {} };
  const settleMs: number[] = [];
  let error: string | null = null;
  let peakRssMiB = NaN;
  const host = await startHostProcess({ isolateMemoryMb: o.isolateMemoryMb, egressMap: outside.egressMap });
  const sampler = sampleRss(host.pid);
  let attacker: ReturnType<typeof startAttacker> | undefined;
  const alive = () => { if (host.exitedWith) throw new Error(`the host process exited (${JSON.stringify(host.exitedWith)})\n${host.tail()}`); };
  try {
    await host.publish(benchPluginFiles);
    await host.install(NEIGHBOUR_WS, BENCH_PLUGIN);
    await host.publish(attackPackage(a));
    for (let i = 0; i < a.installations; i++) await host.install(attackWorkspace(a, i), `hostile-${a.key}`);
    const url = host.url + routePath(NEIGHBOUR_WS, N);
    const client = createClient();
    try { await client.check(url, N); } finally { client.close(); }
    const job = (warm: boolean): LoadJob => ({
      url, connections: o.connections,
      ...(warm
        ? (o.warmupAmount !== undefined ? { amount: o.warmupAmount } : { durationSec: o.warmupSec })
        : (o.amount !== undefined ? { amount: o.amount } : { durationSec: o.durationSec })),
    });
    await loadgen.run(job(true));
    for (let r = 1; r <= o.rounds; r++) {
      alive();
      const a1 = await neighbourRound(loadgen, job(false), host.pid);
      alone.push(a1);
      alive();
      attacker = startAttacker(host.url, a, o.scale);
      const u1 = await neighbourRound(loadgen, job(false), host.pid);
      under.push(u1);
      const t0 = performance.now();
      const stats = await attacker.stop();
      attacker = undefined;
      const stoppedMs = Math.round(performance.now() - t0);
      alive();
      await waitHealthy(host.url, 30_000);
      settleMs.push(Math.round(performance.now() - t0));
      attack.sent += stats.sent;
      for (const [k, v] of Object.entries(stats.statuses)) attack.statuses[k] = (attack.statuses[k] ?? 0) + v;
      progress(`hostile: ${a.name} round ${r}: alone p50 ${a1.p50Ms} p99 ${a1.p99Ms} ms (${Math.round(a1.rps)} rps); `
        + `under attack p50 ${u1.p50Ms} p99 ${u1.p99Ms} ms (${Math.round(u1.rps)} rps, ${u1.failures} failed${u1.starved ? ', starved' : ''}); `
        + `attack answers ${JSON.stringify(stats.statuses)}; last answered after ${stoppedMs} ms, healthy after ${settleMs.at(-1)} ms; RSS peak so far ${Math.round(sampler.peakMiB)} MiB`);
    }
  } catch (err) {
    error = (err as Error).message;
    progress(`hostile: ${a.name}: ${error.split('\n')[0]}`);
  } finally {
    const stopping = attacker?.stop(); // after a failure mid-round: no new attack requests
    const hwm = readMemory(host.pid)?.hwmMiB ?? NaN;
    const sampled = sampler.stop();
    peakRssMiB = round2(Number.isFinite(hwm) ? Math.max(hwm, sampled) : sampled);
    await host.close();
    await stopping;
  }
  const aloneSide = alone.length ? side(alone, o.connections) : null;
  const underSide = under.length ? side(under, o.connections) : null;
  const ratio = (x: number | undefined, y: number | undefined) => (x !== undefined && y !== undefined && y > 0 ? Number((x / y).toPrecision(3)) : NaN);
  // autocannon's latencies are whole milliseconds: a 0 (under 1 ms) counts as 1 in a ratio.
  const msRatio = (x: number | undefined, y: number | undefined) => ratio(x === undefined ? x : Math.max(1, x), y === undefined ? y : Math.max(1, y));
  const p99Ratio = msRatio(underSide?.p99Ms, aloneSide?.p99Ms);
  const neighbourClean = underSide !== null && underSide.failures === 0 && underSide.starvedRounds === 0;
  const meanRatio = ratio(underSide?.meanMs, aloneSide?.meanMs);
  const goal = { p99: p99Ratio <= HOSTILE_GOALS.maxP99Ratio, mean: meanRatio <= HOSTILE_GOALS.maxP99Ratio, rss: peakRssMiB <= o.isolateMemoryMb, neighbourClean };
  return {
    key: a.key, name: a.name, what: a.what, alone: aloneSide, under: underSide,
    p50Ratio: msRatio(underSide?.p50Ms, aloneSide?.p50Ms), p99Ratio, meanRatio, rpsRatio: ratio(underSide?.rps, aloneSide?.rps),
    peakRssMiB, budgetMiB: o.isolateMemoryMb, attack, settleMs,
    goal: { ...goal, met: error === null && goal.p99 && goal.mean && goal.rss && goal.neighbourClean }, error,
  };
}

export async function measureHostile(opts: HostileOptions = {}): Promise<HostileResult> {
  const o = {
    ...opts,
    rounds: Math.max(1, opts.rounds ?? 3), durationSec: opts.durationSec ?? 3, warmupSec: opts.warmupSec ?? 1,
    connections: opts.connections ?? 4, isolateMemoryMb: opts.isolateMemoryMb ?? 2048, scale: opts.scale ?? 1,
  };
  const attacks = opts.attacks ? opts.attacks.map((k) => {
    const found = ATTACKS.find((a) => a.key === k);
    if (!found) throw new Error(`unknown attack ${k}; known: ${ATTACKS.map((a) => a.key).join(', ')}`);
    return found;
  }) : ATTACKS;
  const outside = await startOutside();
  const loadgen = await startLoadGen('child');
  const results: AttackResult[] = [];
  try {
    for (const a of attacks) {
      opts.onProgress?.(`hostile: ${a.name} (${a.what}): starting a host`);
      results.push(await measureAttack(a, outside, loadgen, o));
    }
  } finally {
    await loadgen.close();
    await outside.close();
  }
  const rows = results.map((r): HostileRow => ({
    attack: r.name,
    p50AloneMs: r.alone?.p50Ms ?? NaN, p50UnderMs: r.under?.p50Ms ?? NaN, p50Ratio: r.p50Ratio,
    p99AloneMs: r.alone?.p99Ms ?? NaN, p99UnderMs: r.under?.p99Ms ?? NaN, p99Ratio: r.p99Ratio,
    meanRatio: r.meanRatio, peakRssMiB: r.peakRssMiB, budgetMiB: r.budgetMiB, goalMet: r.goal.met,
  }));
  return {
    isolateMemoryMb: o.isolateMemoryMb, rounds: o.rounds,
    durationSec: opts.amount !== undefined ? null : o.durationSec, amount: opts.amount ?? null,
    connections: o.connections, scale: o.scale, neighbourPath: routePath(NEIGHBOUR_WS, N),
    attacks: results, rows,
    goals: { maxP99Ratio: HOSTILE_GOALS.maxP99Ratio, met: results.filter((r) => r.goal.met).length, of: results.length },
  };
}

export function formatHostile(r: HostileResult): string {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const x = (n: number) => (Number.isFinite(n) ? `${n >= 0.1 ? n.toFixed(2) : n.toPrecision(2)}x` : '-');
  const out: string[] = [];
  out.push(`hostile: neighbour GET ${r.neighbourPath} in another workspace, ${r.connections} connections, `
    + `${r.rounds} x (alone, under attack) rounds of ${r.durationSec !== null ? `${r.durationSec} s` : `${r.amount} requests`}; `
    + `a fresh plughost serve per attack, default budgets, isolateMemoryMb ${r.isolateMemoryMb}${r.scale !== 1 ? `, attack scale ${r.scale}` : ''}`);
  out.push(`  ${'attack'.padEnd(16)}${'p50 alone'.padStart(10)}${'under'.padStart(9)}${'ratio'.padStart(9)}${'p99 alone'.padStart(11)}${'under'.padStart(9)}${'ratio'.padStart(9)}`
    + `${'mean ratio'.padStart(11)}${'host cpu'.padStart(11)}${'peak RSS'.padStart(10)}${'budget'.padStart(8)}  goal`);
  out.push(`  ${''.padEnd(16)}${'ms'.padStart(10)}${'ms'.padStart(9)}${''.padStart(9)}${'ms'.padStart(11)}${'ms'.padStart(9)}${''.padStart(9)}`
    + `${'(Little)'.padStart(11)}${'cores'.padStart(11)}${'MiB'.padStart(10)}${'MiB'.padStart(8)}`);
  r.attacks.forEach((a, i) => {
    const row = r.rows[i]!;
    const cpu = a.alone && a.under ? `${a.alone.hostCpuCores.toFixed(2)}/${a.under.hostCpuCores.toFixed(2)}` : '-';
    const why = a.error ? ` (${a.error.split('\n')[0]})`
      : a.goal.met ? '' : ` (${[!a.goal.p99 && 'p99', !a.goal.mean && 'mean', !a.goal.rss && 'RSS', !a.goal.neighbourClean && `${a.under?.failures ?? 0} neighbour failures${a.under?.starvedRounds ? `, ${a.under.starvedRounds} starved rounds` : ''}`].filter(Boolean).join(', ')})`;
    out.push(`  ${row.attack.padEnd(16)}${f(row.p50AloneMs).padStart(10)}${f(row.p50UnderMs).padStart(9)}${x(row.p50Ratio).padStart(9)}`
      + `${f(row.p99AloneMs).padStart(11)}${f(row.p99UnderMs).padStart(9)}${x(row.p99Ratio).padStart(9)}${x(row.meanRatio).padStart(11)}${cpu.padStart(11)}`
      + `${f(row.peakRssMiB, 0).padStart(10)}${String(row.budgetMiB).padStart(8)}  ${row.goalMet ? 'met' : 'NOT met'}${why}`);
  });
  out.push('  attack requests answered (status x count), all under-attack rounds; neighbour failures = autocannon errors + timeouts + non-2xx:');
  for (const a of r.attacks) {
    const answers = Object.entries(a.attack.statuses).map(([k, v]) => `${k} x${v}`).join(', ') || 'none';
    const u = a.under;
    out.push(`    ${a.name.padEnd(16)}${answers}; neighbour failures ${u ? `${u.failures} of ${u.rounds.reduce((n, x) => n + x.requests, 0)}` : '-'}; settled in ${a.settleMs.map((ms) => `${ms} ms`).join(', ') || '-'}`);
  }
  out.push(`  goal: neighbour p99 (and mean) under attack <= ${r.goals.maxP99Ratio}x alone, no neighbour failure, peak RSS <= budget; met for ${r.goals.met} of ${r.goals.of} attacks`);
  out.push('  mean (Little) = connections / rps: it counts neighbour requests still unanswered when a round ends, which p50/p99 leave out');
  out.push('  host cpu = host process CPU time / wall time, alone/under attack (1.00 = one core); peak RSS = VmHWM of the host process');
  return out.join('\n');
}
