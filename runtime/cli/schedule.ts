// `plughost schedule`: scheduled webhooks of a workspace on a running host.
import type { Command } from 'commander';
import { call, withClientOptions, type ClientOptions } from './client.ts';

interface Flags extends ClientOptions { workspace: string }
const base = (f: Flags) => `/api/v1/workspaces/${encodeURIComponent(f.workspace)}/scheduled-webhooks`;

function line(w: { id: string; isActive: boolean; frequency?: string | null; cron?: string | null; nextRunAtLocal?: string | null; timezone: string; url: string }): string {
  return `${w.id}  ${w.isActive ? 'active' : 'paused'}  ${w.cron ?? w.frequency}  next ${w.nextRunAtLocal ?? '-'} ${w.timezone}  ${w.url}`;
}

export function scheduleCommand(program: Command): void {
  const schedule = program.command('schedule').description('manage scheduled webhooks of a workspace');
  const sub = (name: string, description: string) =>
    withClientOptions(schedule.command(name)).description(description).requiredOption('--workspace <id>', 'workspace');

  sub('list', 'list scheduled webhooks').action(async (f: Flags) => {
    const { data } = await call(f, 'GET', base(f));
    for (const w of data) process.stdout.write(line(w) + '\n');
    if (data.length === 0) process.stdout.write('no scheduled webhooks\n');
  });

  sub('create', 'create a scheduled webhook')
    .requiredOption('--target <url>', 'what to call: a plugin route path (/workspaces/ws/ns/route?…) or an absolute URL')
    .option('--frequency <f>', 'hourly, daily, weekly or monthly')
    .option('--cron <expr>', 'cron expression (instead of --frequency)')
    .option('--start <local>', 'first run, local date-time YYYY-MM-DD HH:mm in --timezone')
    .option('--timezone <tz>', 'IANA time zone (default: the workspace\'s)')
    .option('--description <text>', 'what it is for')
    .option('--misfire <policy>', 'coalesce, skip or all')
    .option('--overlap <policy>', 'skip, allow or queue')
    .action(async (f: Flags & Record<string, string | undefined>) => {
      const body: Record<string, unknown> = { url: f.target };
      for (const k of ['frequency', 'cron', 'start', 'timezone', 'description', 'misfire', 'overlap']) if (f[k] !== undefined) body[k] = f[k];
      const w = await call(f, 'POST', base(f), { json: body });
      process.stdout.write(`${line(w)}\nsecret key: ${w.secretKey}\n`);
    });

  sub('run', 'run one now and print its run').argument('<id>').action(async (id: string, f: Flags) => {
    process.stderr.write(`running ${id}…\n`);
    const r = await call(f, 'POST', `${base(f)}/${encodeURIComponent(id)}/run`);
    process.stdout.write(`${r.status}: run ${r.run?.id ?? '-'} (${r.run?.status ?? 'no run'}, HTTP ${r.run?.httpStatus ?? '-'}) key ${r.idempotencyKey}\n`);
    if (r.run?.log) process.stdout.write(r.run.log + '\n');
    if (r.status !== 'succeeded') process.exitCode = 1;
  });

  sub('preview', 'print the next fire times').argument('<id>').option('--count <n>', 'how many', '5').action(async (id: string, f: Flags & { count: string }) => {
    const r = await call(f, 'GET', `${base(f)}/${encodeURIComponent(id)}/preview?count=${encodeURIComponent(f.count)}`);
    for (const p of r.data) process.stdout.write(`${p.local} ${r.timezone}  (${p.at})\n`);
  });

  for (const [name, isActive] of [['pause', false], ['resume', true]] as const) {
    sub(name, `${name} a scheduled webhook`).argument('<id>').action(async (id: string, f: Flags) => {
      process.stdout.write(line(await call(f, 'PATCH', `${base(f)}/${encodeURIComponent(id)}`, { json: { isActive } })) + '\n');
    });
  }

  sub('delete', 'delete a scheduled webhook').argument('<id>').action(async (id: string, f: Flags) => {
    await call(f, 'DELETE', `${base(f)}/${encodeURIComponent(id)}`);
    process.stdout.write(`deleted ${id}\n`);
  });
}
