// `plughost runs`: the run history of a workspace on a running host, over the REST API, one
// line per run, oldest first, with times in the workspace's zone (`--logs`: each run's log
// under it). `--follow` then asks the host every `--interval` for runs that finished since,
// and prints them as they come, until SIGINT or SIGTERM.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { formatRun, runLine } from '../dev/dev-tools.ts';
import type { Run } from '../store/runs.ts';
import { call, withClientOptions, workspaceZone, type ClientOptions } from './client.ts';
import { parseDuration } from '../dev/dev-tools.ts';

interface RunsFlags extends ClientOptions {
  workspace: string; installation?: string; kind?: string; status?: string; limit: string; logs?: boolean; follow?: boolean; interval: string;
}
type Listed = Omit<Run, 'log'>;

/** The API's largest page. */
const PAGE = 200;
/** Pages read per poll at most: a burst of more than PAGE × this many runs between two polls is partly skipped. */
const MAX_PAGES = 10;
/** Run ids remembered while following (the oldest are forgotten first). */
const SEEN_MAX = 20_000;

export function runsCommand(program: Command): void {
  withClientOptions(program.command('runs'))
    .description('list the runs of a workspace on a running host, oldest first, times in the workspace\'s zone; --follow prints new ones as they finish')
    .option('--workspace <id>', 'workspace (PLUGHOST_WORKSPACE)', process.env.PLUGHOST_WORKSPACE || 'dev')
    .option('--installation <id>', 'only the runs of this installation')
    .option('--kind <kind>', 'only runs of this kind: route, webhook, event, smi, hook, service, send or background')
    .option('--status <status>', 'only runs with this status: succeeded, failed, timed-out or running')
    .option('--limit <n>', 'how many of the newest runs to list, 1 to 200', '20')
    .option('--logs', 'print each run\'s log under it')
    .option('--follow', 'keep printing runs as they finish, until Ctrl-C')
    .option('--interval <duration>', 'with --follow, how often to ask the host: 100ms or more', '1s')
    .addHelpText('after', `
Each line: start time in the workspace's zone, kind, target (trigger): status, HTTP status,
duration, [run id], and a failed run's error. Examples:
  plughost runs --workspace dev --kind event --status failed --logs
  plughost runs --follow --installation inst_…`)
    .action(async (f: RunsFlags) => {
      const limit = Number(f.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > PAGE) throw new Error(`--limit ${f.limit}: expected a whole number from 1 to ${PAGE}`);
      const interval = parseDuration(f.interval);
      if (interval < 100) throw new Error(`--interval ${f.interval}: ask at most every 100ms`);
      const ws = encodeURIComponent(f.workspace);
      const filters = Object.fromEntries(Object.entries({ installation: f.installation, kind: f.kind, status: f.status }).filter(([, v]) => v !== undefined)) as Record<string, string>;
      const list = (n: number, cursor: string | null, signal?: AbortSignal): Promise<{ data: Listed[]; nextCursor: string | null }> =>
        call(f, 'GET', `/api/v1/workspaces/${ws}/runs?${new URLSearchParams({ ...filters, limit: String(n), ...(cursor ? { cursor } : {}) })}`, undefined, signal);

      const zone = await workspaceZone(f, f.workspace);
      const print = async (runs: Listed[], signal?: AbortSignal) => {
        for (const r of runs) {
          if (f.logs) {
            const full: Run = await call(f, 'GET', `/api/v1/workspaces/${ws}/runs/${encodeURIComponent(r.id)}`, undefined, signal);
            process.stdout.write(`${formatRun(full, zone)}\n`);
          } else {
            process.stdout.write(`${runLine(r, zone)}${r.error ? `  ${r.error.code}: ${r.error.message.split('\n')[0]}` : ''}\n`);
          }
        }
      };

      // Following, the first page is read whole, so that none of it is taken for new later.
      const first = await list(f.follow ? PAGE : limit, null);
      const shown = first.data.slice(0, limit).reverse();
      process.stderr.write(shown.length === 0 ? `no runs in ${f.workspace} yet\n` : `runs of ${f.workspace}, oldest first, times in ${zone}\n`);
      await print(shown);
      if (!f.follow) return;

      const seen = new Set<string>();
      const remember = (id: string) => {
        seen.add(id);
        if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
      };
      for (const r of first.data) remember(r.id);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      process.stderr.write(`following ${f.workspace} every ${f.interval} (Ctrl-C stops)…\n`);
      try {
        while (!stop.signal.aborted) {
          await sleep(interval, undefined, { signal: stop.signal });
          // Ids follow start times and a run is listed once it is over, so a long run appears
          // behind runs already seen: pages are read newest first while they hold something new.
          const fresh: Listed[] = [];
          let cursor: string | null = null;
          for (let page = 0; page < MAX_PAGES; page++) {
            const got = await list(PAGE, cursor, stop.signal);
            const unseen = got.data.filter((r) => !seen.has(r.id) && r.status !== 'running');
            fresh.push(...unseen);
            cursor = got.nextCursor;
            if (unseen.length === 0 || cursor === null) break;
          }
          fresh.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0) || (a.id < b.id ? -1 : 1));
          for (const r of fresh) remember(r.id);
          await print(fresh, stop.signal);
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err; // Ctrl-C ends a wait or a request: that is the way out
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
