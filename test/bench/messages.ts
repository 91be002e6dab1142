// Integration-message benchmark (SPEC §6 on SQLite): throughput of (a) adding messages through
// the host's own `haplo:integration-message:add` service (`host.messages.builtins`: group and
// data checks, then the store), and (b) draining a poll queue the way a Haplo poller does
// (`host.messages.pollFetch` then `host.messages.pollMark` with its token, 16 at a time, until
// empty), each against raw SQL doing the equivalent statements on the same tables in the same
// database in the same run (knex.raw: the INSERT … RETURNING id; the SELECT of the 16 oldest
// unsent, the token's upsert, the token's SELECT and DELETE (a token marks once), the UPDATE of
// exactly those ids, the unsent COUNT). Each round runs both sides, alternating which goes
// first; reported are each round's rate, the medians and **ratio = median(plughost) /
// median(raw)** (1 = no overhead over raw SQL).
//
//   node --no-node-snapshot test/bench/messages.ts [--json] [--adds 2000] [--messages 2000] [--rounds 3]
//
// `measureMessages()` runs both; `measureAdd()` and `measurePollMark()` take a bench host from
// `startMessagesHost()`; `formatMessages()` prints the table. `messages-smoke.test.ts` keeps it
// from rotting.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Host } from '../../runtime/host.ts';
import type { SandboxPlugin } from '../../runtime/sandbox/types.ts';
import { startTempHost } from './servers.ts';
import { coefficientOfVariation, median, round2 } from './stats.ts';

export const MESSAGES_GOALS = {
  /** Adds per second through the host's add service / raw INSERTs. */
  minAddRatio: 0.5,
  /** Messages drained per second through pollFetch+pollMark / the raw statements. */
  minPollRatio: 0.5,
};

const WS = 'bench-messages';
const POLL_BATCH = 16;

export interface MessagesHost {
  host: Host;
  db: Knex;
  close(): Promise<void>;
}

/** A whole host (no HTTP, no scheduler) on a fresh temp SQLite data dir with one workspace. */
export function startMessagesHost(): Promise<MessagesHost> {
  return startTempHost('plughost-bench-messages-', async (host) => {
    await host.workspaces.create({ id: WS, name: WS });
    return { db: host.store.db };
  });
}

/** Rows of a knex.raw result on either dialect. */
const rowsOf = <T>(result: unknown): T[] => (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];

export interface Side { perSec: number[]; median: number; cv: number }
export interface Comparison { count: number; rounds: number; plughost: Side; raw: Side; ratio: number; ratios: number[] }

function side(perSec: number[]): Side {
  return { perSec: perSec.map(round2), median: round2(median(perSec)), cv: round2(coefficientOfVariation(perSec)) };
}
function compare(count: number, plughost: number[], raw: number[]): Comparison {
  return {
    count, rounds: plughost.length, plughost: side(plughost), raw: side(raw),
    ratio: round2(median(plughost) / median(raw)), ratios: plughost.map((p, i) => round2(p / raw[i]!)),
  };
}

// ---- add ----

/** Adds `count` messages through the host's add service; returns how many ids came back. */
async function addThroughHost(host: Host, group: string, count: number): Promise<number> {
  const add = host.messages.builtins.get('haplo:integration-message:add');
  if (!add) throw new Error('the host has no haplo:integration-message:add builtin');
  // The add service reads only the caller's workspace: a plugin calling O.service looks like this to it.
  const caller = { workspaceId: WS, installationId: 'bench', namespace: 'bench' } as SandboxPlugin;
  let ids = 0;
  for (let i = 0; i < count; i++) {
    const id = await add(caller, [{ group, data: { student: `s${i}`, event: 'enrolled', n: i } }], Date.now() + 60_000, () => {}, ['bench']);
    if (typeof id === 'number') ids++;
  }
  return ids;
}

async function addRaw(db: Knex, group: string, count: number, now: () => number): Promise<number> {
  let ids = 0;
  for (let i = 0; i < count; i++) {
    const rows = rowsOf<{ id: number }>(await db.raw(
      'INSERT INTO im_messages (workspace_id, group_name, data, status, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
      [WS, group, JSON.stringify({ student: `s${i}`, event: 'enrolled', n: i }), 'unsent', now()],
    ));
    if (rows.length === 1) ids++;
  }
  return ids;
}

export async function measureAdd(bench: MessagesHost, opts: { count: number; rounds: number; warmup?: number; onProgress?: (line: string) => void }): Promise<Comparison> {
  const { host, db } = bench;
  const now = () => host.clock.now();
  const warmup = opts.warmup ?? Math.min(200, opts.count);
  await addThroughHost(host, 'warm-p', warmup);
  await addRaw(db, 'warm-r', warmup, now);
  const plughost: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const timed = async (fn: () => Promise<number>, into: number[]) => {
      const t = performance.now();
      const n = await fn();
      into.push(opts.count / ((performance.now() - t) / 1000));
      if (n !== opts.count) throw new Error(`round ${r}: ${n} ids for ${opts.count} adds`);
    };
    const p = () => timed(() => addThroughHost(host, `add-p${r}`, opts.count), plughost);
    const q = () => timed(() => addRaw(db, `add-r${r}`, opts.count, now), raw);
    // Which side goes first alternates, so neither always gets the warmer (or more checkpointed) turn.
    if (r % 2 === 0) { await p(); await q(); } else { await q(); await p(); }
    opts.onProgress?.(`add round ${r + 1}/${opts.rounds}: plughost ${Math.round(plughost.at(-1)!)}/s, raw ${Math.round(raw.at(-1)!)}/s`);
  }
  return compare(opts.count, plughost, raw);
}

// ---- poll then mark ----

/** Stores `count` unsent messages in one transaction (set-up, not timed). */
async function seedQueue(db: Knex, group: string, count: number, now: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({ workspace_id: WS, group_name: group, data: JSON.stringify({ student: `s${i}`, n: i }), status: 'unsent', created_at: now }));
  await db.transaction(async (trx) => {
    for (let i = 0; i < rows.length; i += 100) await trx('im_messages').insert(rows.slice(i, i + 100));
  });
}

export interface DrainResult { marked: number; fetches: number }

async function drainThroughHost(host: Host, group: string): Promise<DrainResult> {
  let marked = 0;
  let fetches = 0;
  for (;;) {
    const batch = await host.messages.pollFetch(WS, group);
    fetches++;
    if (batch.count === 0) return { marked, fetches };
    const r = await host.messages.pollMark(WS, group, batch.token);
    if (r.markedCount !== batch.count) throw new Error(`pollMark marked ${r.markedCount} of ${batch.count}`);
    marked += r.markedCount;
  }
}

interface RawMessage { id: number; data: string; created_at: number }

async function drainRaw(db: Knex, group: string, now: () => number): Promise<DrainResult> {
  let marked = 0;
  let fetches = 0;
  for (;;) {
    // fetch: the 16 oldest unsent, formatted as Haplo's default JSON, the token remembered.
    const rows = rowsOf<RawMessage>(await db.raw(
      'SELECT * FROM im_messages WHERE workspace_id = ? AND group_name = ? AND status = ? ORDER BY id LIMIT ?', [WS, group, 'unsent', POLL_BATCH],
    ));
    fetches++;
    if (rows.length === 0) return { marked, fetches };
    const ids = rows.map((r) => Number(r.id));
    const token = Buffer.from(ids.join(','), 'utf8').toString('base64');
    const body = JSON.stringify({ version: 0, token, messages: rows.map((r) => ({ id: Number(r.id), datetime: new Date(Number(r.created_at)).toISOString(), ...JSON.parse(r.data) })) });
    if (body.length === 0) throw new Error('empty body');
    const tokenHash = createHash('sha256').update(token, 'utf8').digest('hex');
    await db.raw(
      'INSERT INTO im_poll_tokens (workspace_id, group_name, token_hash, ids, created_at) VALUES (?, ?, ?, ?, ?) '
        + 'ON CONFLICT (workspace_id, group_name, token_hash) DO UPDATE SET created_at = excluded.created_at',
      [WS, group, tokenHash, JSON.stringify(ids), now()],
    );
    // mark: the token's ids (the token is spent), exactly those still unsent, then the unread count.
    const [saved] = rowsOf<{ ids: string }>(await db.raw('SELECT ids FROM im_poll_tokens WHERE workspace_id = ? AND group_name = ? AND token_hash = ?', [WS, group, tokenHash]));
    await db.raw('DELETE FROM im_poll_tokens WHERE workspace_id = ? AND group_name = ? AND token_hash = ?', [WS, group, tokenHash]);
    const tokenIds = JSON.parse(saved!.ids) as number[];
    const updated = rowsOf<{ id: number }>(await db.raw(
      `UPDATE im_messages SET status = 'sent', sent_at = ? WHERE workspace_id = ? AND group_name = ? AND status = 'unsent' AND id IN (${tokenIds.map(() => '?').join(', ')}) RETURNING id`,
      [now(), WS, group, ...tokenIds],
    ));
    await db.raw('SELECT count(*) AS n FROM im_messages WHERE workspace_id = ? AND group_name = ? AND status = ?', [WS, group, 'unsent']);
    if (updated.length !== rows.length) throw new Error(`raw mark updated ${updated.length} of ${rows.length}`);
    marked += updated.length;
  }
}

export interface PollComparison extends Comparison { batch: number; plughostDrains: DrainResult[]; rawDrains: DrainResult[] }

export async function measurePollMark(bench: MessagesHost, opts: { count: number; rounds: number; warmup?: number; onProgress?: (line: string) => void }): Promise<PollComparison> {
  const { host, db } = bench;
  const now = () => host.clock.now();
  const warmup = opts.warmup ?? Math.min(160, opts.count);
  await seedQueue(db, 'pwarm-p', warmup, now());
  await seedQueue(db, 'pwarm-r', warmup, now());
  await drainThroughHost(host, 'pwarm-p');
  await drainRaw(db, 'pwarm-r', now);
  const plughost: number[] = [];
  const raw: number[] = [];
  const plughostDrains: DrainResult[] = [];
  const rawDrains: DrainResult[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    await seedQueue(db, `poll-p${r}`, opts.count, now());
    await seedQueue(db, `poll-r${r}`, opts.count, now());
    const timed = async (fn: () => Promise<DrainResult>, rates: number[], drains: DrainResult[]) => {
      const t = performance.now();
      drains.push(await fn());
      rates.push(opts.count / ((performance.now() - t) / 1000));
    };
    const p = () => timed(() => drainThroughHost(host, `poll-p${r}`), plughost, plughostDrains);
    const q = () => timed(() => drainRaw(db, `poll-r${r}`, now), raw, rawDrains);
    if (r % 2 === 0) { await p(); await q(); } else { await q(); await p(); }
    for (const d of [plughostDrains.at(-1)!, rawDrains.at(-1)!]) {
      if (d.marked !== opts.count) throw new Error(`round ${r}: drained ${d.marked} of ${opts.count}`);
    }
    opts.onProgress?.(`poll+mark round ${r + 1}/${opts.rounds}: plughost ${Math.round(plughost.at(-1)!)} msg/s, raw ${Math.round(raw.at(-1)!)} msg/s`);
  }
  return { ...compare(opts.count, plughost, raw), batch: POLL_BATCH, plughostDrains, rawDrains };
}

// ---- both ----

export interface MessagesBenchOptions { adds?: number; messages?: number; rounds?: number; onProgress?: (line: string) => void }
export interface MessagesBenchResult {
  add: Comparison;
  pollMark: PollComparison;
  goals: { addRatio: { goal: string; value: number; met: boolean }; pollRatio: { goal: string; value: number; met: boolean } };
}

export async function measureMessages(opts: MessagesBenchOptions = {}): Promise<MessagesBenchResult> {
  const rounds = opts.rounds ?? 3;
  const progress = opts.onProgress ? { onProgress: opts.onProgress } : {};
  const bench = await startMessagesHost();
  try {
    const add = await measureAdd(bench, { count: opts.adds ?? 2000, rounds, ...progress });
    const pollMark = await measurePollMark(bench, { count: opts.messages ?? 2000, rounds, ...progress });
    return {
      add, pollMark,
      goals: {
        addRatio: { goal: `>= ${MESSAGES_GOALS.minAddRatio}`, value: add.ratio, met: add.ratio >= MESSAGES_GOALS.minAddRatio },
        pollRatio: { goal: `>= ${MESSAGES_GOALS.minPollRatio}`, value: pollMark.ratio, met: pollMark.ratio >= MESSAGES_GOALS.minPollRatio },
      },
    };
  } finally {
    await bench.close();
  }
}

export function formatMessages(r: MessagesBenchResult): string {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const f2 = (n: number) => n.toFixed(2);
  const row = (label: string, s: Side, unit: string) =>
    `  ${label.padEnd(44)}median ${f0(s.median).padStart(7)} ${unit}   rounds ${s.perSec.map(f0).join(', ')}   cv ${f2(s.cv)}`;
  const out = [
    `integration messages: add, ${f0(r.add.count)} per round, ${r.add.rounds} rounds, SQLite, one at a time`,
    row('plughost (haplo:integration-message:add)', r.add.plughost, '/s'),
    row('raw SQL (INSERT … RETURNING id)', r.add.raw, '/s'),
    `  ${'ratio plughost / raw'.padEnd(44)}${f2(r.add.ratio)}   (per round ${r.add.ratios.map(f2).join(', ')})`,
    '',
    `integration messages: poll then mark, ${f0(r.pollMark.count)} messages per round in batches of ${r.pollMark.batch}, ${r.pollMark.rounds} rounds`,
    row('plughost (pollFetch + pollMark)', r.pollMark.plughost, 'msg/s'),
    row('raw SQL (select, token, update, count)', r.pollMark.raw, 'msg/s'),
    `  ${'ratio plughost / raw'.padEnd(44)}${f2(r.pollMark.ratio)}   (per round ${r.pollMark.ratios.map(f2).join(', ')})`,
    '',
    'goals',
    `  add throughput plughost/raw ${r.goals.addRatio.goal}: ${f2(r.goals.addRatio.value)} — ${r.goals.addRatio.met ? 'met' : 'NOT met'}`,
    `  poll+mark throughput plughost/raw ${r.goals.pollRatio.goal}: ${f2(r.goals.pollRatio.value)} — ${r.goals.pollRatio.met ? 'met' : 'NOT met'}`,
  ];
  return out.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      adds: { type: 'string', default: '2000' },
      messages: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${raw}`);
    return n;
  };
  const result = await measureMessages({
    adds: int('adds', values.adds, 1), messages: int('messages', values.messages, 1), rounds: int('rounds', values.rounds, 1),
    onProgress: (line) => process.stderr.write(line + '\n'),
  });
  const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };
  if (values.json) console.log(JSON.stringify({ environment, ...result }, null, 2));
  else console.log(`plughost integration-message bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})\n\n${formatMessages(result)}`);
}
