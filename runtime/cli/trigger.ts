// `plughost trigger`: fires a handler of a running host by hand and prints the run it made:
// an installation's `onScheduledEvent` or another event it handles (an FDK app's
// server/test_data/<event>.json as the payload by default), a Haplo schedule hook at a chosen
// time, a scheduled webhook (run now), or moves the virtual clock of a `plughost dev` host,
// printing each run of the move as it finishes. Times are in the workspace's zone. Exits
// non-zero when a run failed.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { clockProgressLine, formatInstant, formatRun, parseDuration } from '../dev/dev-tools.ts';
import { parseInstant } from '../http/routes/triggers.ts';
import type { Run } from '../store/runs.ts';
import { call, callLines, withClientOptions, workspaceZone, type ClientOptions } from './client.ts';

interface Flags extends ClientOptions { workspace: string }
const enc = encodeURIComponent;
const installation = (f: Flags, id: string) => `/api/v1/workspaces/${enc(f.workspace)}/installations/${enc(id)}`;

/** An instant with a zone (`--at`, `--set`); checked here so a typo fails before the host is called. */
function instant(flag: string, text: string): string {
  if (parseInstant(text) === undefined) {
    throw new Error(`${flag} ${text}: expected an ISO date-time with a zone, such as 2026-06-10T07:00:00Z`);
  }
  return text;
}

/** `--data`: inline JSON when it starts with `{`, else a JSON file. */
async function readData(value: string): Promise<Record<string, unknown>> {
  let text = value;
  if (!value.trim().startsWith('{')) {
    try {
      text = await readFile(value, 'utf8');
    } catch (err) {
      throw new Error(`--data ${value}: cannot read the file (${(err as Error).message})`);
    }
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (err) { throw new Error(`--data ${value}: not JSON (${(err as Error).message})`); }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`--data ${value}: must be a JSON object (the payload's \`data\`)`);
  return parsed as Record<string, unknown>;
}

/**
 * The `data` for an event: `--data`, else FDK's `server/test_data/<event>.json` of the app
 * folder (a whole payload, whose `data` is taken), else `{}`.
 */
async function eventData(event: string, given: string | undefined, app: string): Promise<Record<string, unknown>> {
  if (given !== undefined) return readData(given);
  const file = path.join(app, 'server', 'test_data', `${event}.json`);
  if (!existsSync(file)) return {};
  process.stderr.write(`payload from ${file}\n`);
  const payload = await readData(file);
  return payload.data !== null && typeof payload.data === 'object' && !Array.isArray(payload.data) ? payload.data as Record<string, unknown> : payload;
}

function printRun(run: Run | null | undefined, timeZone: string): boolean {
  if (!run) {
    process.stdout.write('no run was made\n');
    return false;
  }
  process.stdout.write(formatRun(run, timeZone) + '\n');
  return run.status === 'succeeded';
}

const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;

export function triggerCommand(program: Command): void {
  const trigger = program.command('trigger')
    .description('fire an onScheduledEvent handler, a Haplo hook or a scheduled webhook of a running host, or move a dev host\'s clock')
    .addHelpText('after', `
Examples (against \`plughost dev\`, which prints the URL and token):
  export PLUGHOST_URL=http://127.0.0.1:3000 PLUGHOST_TOKEN=pho_…
  plughost trigger event inst_… --data payload.json --at 2026-06-10T07:00:00Z
  plughost trigger hook inst_… hScheduleDailyEarly --at 2026-06-10T06:00:00+02:00
  plughost trigger webhook whk_…
  plughost trigger clock --advance 1h`);
  const sub = (name: string, description: string) =>
    withClientOptions(trigger.command(name))
      .description(description)
      .option('--workspace <id>', 'workspace (PLUGHOST_WORKSPACE)', process.env.PLUGHOST_WORKSPACE || 'dev');

  sub('event', 'call one event handler of the installation (default onScheduledEvent) and print the run')
    .argument('<installationId>')
    .argument('[event]', 'the event, e.g. onTicketCreate (default onScheduledEvent)', 'onScheduledEvent')
    .option('--data <file|json>', 'the payload\'s `data`: a JSON file, or inline JSON starting with {; default: <app>/server/test_data/<event>.json when there is one, as `fdk run` does')
    .option('--app <dir>', 'the FDK app folder whose server/test_data to read (default: the current folder)', '.')
    .option('--at <iso>', 'onScheduledEvent: the payload\'s `timestamp` (default: the host\'s now)')
    .option('--name <name>', 'onScheduledEvent: the schedule name the handler sees (payload.schedule.name)')
    .action(async (id: string, event: string, f: Flags & { data?: string; app: string; at?: string; name?: string }) => {
      const data = await eventData(event, f.data, f.app);
      const scheduled = event === 'onScheduledEvent';
      const json = scheduled ? { data, ...(f.at ? { at: instant('--at', f.at) } : {}), ...(f.name ? { name: f.name } : {}) } : { data };
      const zone = await workspaceZone(f, f.workspace);
      process.stderr.write(`firing ${event} of ${id}…\n`);
      const r = await call(f, 'POST', `${installation(f, id)}/events/${enc(event)}`, { json });
      if (!printRun(r.run, zone)) process.exitCode = 1;
    });

  sub('hook', 'call one Haplo schedule hook of the installation and print the run')
    .argument('<installationId>')
    .argument('<hookName>', 'hScheduleHourly, hScheduleDailyMidnight, hScheduleDailyEarly, hScheduleDailyMidday or hScheduleDailyLate')
    .option('--at <iso>', 'the time whose (year, month, day, hour, weekday) in the workspace zone the hook receives (default: now)')
    .action(async (id: string, hook: string, f: Flags & { at?: string }) => {
      const json = f.at ? { at: instant('--at', f.at) } : {};
      const zone = await workspaceZone(f, f.workspace);
      process.stderr.write(`firing ${hook} of ${id}…\n`);
      const r = await call(f, 'POST', `${installation(f, id)}/hooks/${enc(hook)}`, { json });
      if (!printRun(r.run, zone)) process.exitCode = 1;
    });

  sub('webhook', 'run a scheduled webhook now and print the run')
    .argument('<webhookId>')
    .action(async (id: string, f: Flags) => {
      const zone = await workspaceZone(f, f.workspace);
      process.stderr.write(`running ${id}…\n`);
      const r = await call(f, 'POST', `/api/v1/workspaces/${enc(f.workspace)}/scheduled-webhooks/${enc(id)}/run`);
      const ok = printRun(r.run, zone);
      if (!ok || r.status !== 'succeeded') process.exitCode = 1;
    });

  withClientOptions(trigger.command('clock'))
    .description('move the virtual clock of a `plughost dev` host; what falls due fires, and each run is printed as it finishes')
    .option('--advance <duration>', 'move forward by 90s, 30m, 1h, 1h30m, 2d…')
    .option('--set <iso>', 'move forward to this instant')
    .action(async (f: ClientOptions & { advance?: string; set?: string }) => {
      if (f.advance !== undefined && f.set !== undefined) throw new Error('give --advance or --set, not both');
      const noClock = (err: unknown) => /^NOT_FOUND/.test((err as Error).message)
        ? new Error(`${f.url} has no virtual clock: only a \`plughost dev\` host can move time`)
        : err;
      if (f.advance === undefined && f.set === undefined) {
        const r = await call(f, 'GET', '/api/v1/dev/clock').catch((err) => { throw noClock(err); });
        const zone = r.timezone ?? 'UTC';
        process.stdout.write(`virtual clock: ${formatInstant(Date.parse(r.now), zone)} (${zone})\n`);
        return;
      }
      const json = f.advance !== undefined ? { advance: parseDuration(f.advance) } : { set: instant('--set', f.set!) };
      process.stderr.write(`moving the virtual clock ${f.advance !== undefined ? `by ${f.advance}` : `to ${f.set}`}…\n`);
      let ok = true;
      let done: { now: string; timezone: string; runs: number } | undefined;
      // The dev host answers one line per run as it finishes, progress lines, then a summary.
      const onLine = (line: any) => {
        if (line?.type === 'run') ok = printRun(line.run, line.timezone) && ok;
        else if (line?.type === 'progress') process.stderr.write(`${clockProgressLine(Date.parse(line.now), line.timezone, line.runs)}\n`);
        else if (line?.type === 'done') done = line;
        else if (line?.type === 'error') throw new Error(`${line.error.code}: ${line.error.message}`);
        else if (Array.isArray(line?.runs)) { // a dev host that answers all at once
          for (const run of line.runs) ok = printRun(run, line.timezone ?? 'UTC') && ok;
          done = { now: line.now, timezone: line.timezone ?? 'UTC', runs: line.runs.length };
        }
      };
      await callLines(f, 'POST', '/api/v1/dev/clock', { json }, onLine).catch((err) => { throw noClock(err); });
      if (!done) throw new Error(`${f.url} ended its answer before the clock move was done; its own output says why`);
      process.stdout.write(`virtual clock: ${formatInstant(Date.parse(done.now), done.timezone)} (${done.timezone}; ${runs(done.runs)} fired)\n`);
      if (!ok) process.exitCode = 1;
    });
}
