// `plughost dev <dir>`: serves a plugin folder on a local dev host with the production
// limits, reloads it on save, and prints its URLs and every run's log as it happens, with
// times in the workspace's zone.
import type { Command } from 'commander';
import { startDevServer } from '../dev-server.ts';
import { parseInstant } from '../http/routes/triggers.ts';
import { createLogger } from '../logger.ts';
import { resolveOptions } from '../options.ts';

interface DevFlags {
  port: string; host: string; data?: string; workspace: string; timezone?: string; iparam?: string[]; operatorToken?: string;
  egressAllow?: string; egressMap?: string; start?: string;
}

/** `name=value` pairs; a value is parsed as JSON when it can be (numbers, booleans, lists). */
export function parseIparams(pairs: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--iparam ${pair}: expected name=value`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try { value = JSON.parse(raw); } catch { value = raw; }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}

export function devCommand(program: Command): void {
  program.command('dev <dir>')
    .description('serve a plugin folder on a local dev host (virtual clock, production limits) and reload it on every save')
    .option('--port <port>', 'HTTP port (0 for any free port)', '3000')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--data <dir>', 'keep the store here (outside the plugin folder) instead of a temporary directory')
    .option('--workspace <id>', 'workspace to install into', 'dev')
    .option('--timezone <tz>', 'IANA time zone of a new dev workspace (Haplo hooks fire in it)', 'UTC')
    .option('--iparam <name=value>', 'installation parameter (repeatable; value parsed as JSON when it can be)', (v: string, all: string[] = []) => [...all, v])
    .option('--operator-token <token>', 'operator token to accept, e.g. to keep PLUGHOST_TOKEN across restarts (PLUGHOST_OPERATOR_TOKEN; default: a new one, printed)')
    .option('--egress-allow <list>', 'comma list of private hosts or CIDRs the plugin may reach (PLUGHOST_EGRESS_ALLOW)')
    .option('--egress-map <list>', 'comma list of host=baseURL sending a permitted host\'s traffic elsewhere (PLUGHOST_EGRESS_MAP)')
    .option('--start <iso>', 'where the virtual clock starts, e.g. 2026-06-10T06:59:00Z (default: now)')
    .addHelpText('after', `
The dev host prints its URL and operator token. Saving a file in <dir> re-publishes the plugin
as <version>-dev.<n> and upgrades the installation; a broken save is reported and the previous
version keeps running. Times are printed in the workspace's zone (--timezone). Move the
virtual clock and fire handlers with \`plughost trigger\` (\`trigger clock --advance 1d\` prints
each run as it finishes, and where the clock is every second); read runs with \`plughost runs\`.`)
    .action(async (dir: string, flags: DevFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${flags.port}: expected a port number from 0 to 65535`);
      let startAt: number | undefined;
      if (flags.start !== undefined) {
        startAt = parseInstant(flags.start);
        if (startAt === undefined) throw new Error(`--start ${flags.start}: expected an ISO date-time with a zone, such as 2026-06-10T06:59:00Z`);
      }
      // Only these two come from the environment; everything else of the dev host is its own.
      const egress = resolveOptions(
        { egressAllow: flags.egressAllow, egressMap: flags.egressMap },
        { PLUGHOST_EGRESS_ALLOW: process.env.PLUGHOST_EGRESS_ALLOW, PLUGHOST_EGRESS_MAP: process.env.PLUGHOST_EGRESS_MAP },
      );
      // Read here, not as the option's default, so that --help never shows it.
      const operatorToken = flags.operatorToken || process.env.PLUGHOST_OPERATOR_TOKEN || undefined;
      const say = (line: string) => process.stdout.write(line.split('\n').map((l) => `plughost dev: ${l}`).join('\n') + '\n');
      say(`starting a dev host for ${dir}…`);
      const dev = await startDevServer({
        dir, port, listenHost: flags.host, workspace: flags.workspace, timezone: flags.timezone, iparams: parseIparams(flags.iparam),
        egressAllow: egress.egressAllow, egressMap: egress.egressMap,
        ...(flags.data ? { dataDir: flags.data } : {}), ...(operatorToken ? { operatorToken } : {}),
        ...(startAt !== undefined ? { startAt } : {}),
        logger: createLogger(process.env.PLUGHOST_LOG_LEVEL ?? 'warn'),
        print: say,
      });
      say(`try: export PLUGHOST_URL=${dev.url} PLUGHOST_TOKEN=${dev.operatorToken}`);
      say('     then the plughost trigger commands above, or plughost trigger clock --advance 1h (plughost trigger --help)');
      say('Ctrl-C stops');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        say(`${signal}: stopping…`);
        await dev.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}
