// `plughost serve`: runs the host until SIGTERM or SIGINT, then shuts down gracefully: no new
// connections, in-flight requests and runs get the drain timeout (--drain-timeout), then the
// scheduler, run recorder, sandbox and store close. A second signal exits at once (code 130).
// A generated operator token is made only once the host serves, and printed right then.
import type { Command } from 'commander';
import { seedDemo } from '../demo.ts';
import { createHost } from '../host.ts';
import { resolveOptions } from '../options.ts';

export function serveCommand(program: Command): void {
  program.command('serve')
    .description('run the host: HTTP, plugin isolates and the scheduler')
    .option('--port <port>', 'HTTP port (PORT, default 3000)')
    .option('--host <address>', 'address to listen on, e.g. 127.0.0.1 for this machine only (PLUGHOST_HOST, default every interface)')
    .option('--data <dir>', 'data directory for the SQLite file and the secrets key (PLUGHOST_DATA, default ./data)')
    .option('--database-url <url>', 'postgres://… to use PostgreSQL instead of SQLite (DATABASE_URL)')
    .option('--operator-token <token>', 'operator token to accept (PLUGHOST_OPERATOR_TOKEN; default: generated on first start)')
    .option('--egress-allow <list>', 'comma list of private hosts or CIDRs plugins may reach (PLUGHOST_EGRESS_ALLOW)')
    .option('--egress-map <list>', 'comma list of host=baseURL to send a host\'s traffic elsewhere (PLUGHOST_EGRESS_MAP)')
    .option('--public-url <url>', 'the URL third parties reach this host at, for Freshworks target URLs (PLUGHOST_PUBLIC_URL; default: the listen address)')
    .option('--demo', 'seed the demo workspace on an empty store (PLUGHOST_DEMO)')
    .option('--limits <key=value,...>', 'plugin budgets over their defaults, e.g. pendingOps=500,outboundPerInstallation=16 (PLUGHOST_LIMITS; README "Budgets")')
    .option('--max-isolates <n>', 'warm plugin isolates kept at once; the least recently used is disposed past it (PLUGHOST_MAX_ISOLATES, default 100)')
    .option('--spare-isolates <n>', 'blank isolates prepared ahead for cold installations (PLUGHOST_SPARE_ISOLATES, default 2)')
    .option('--scheduler-concurrency <n>', 'schedule occurrences this host runs at once (PLUGHOST_SCHEDULER_CONCURRENCY, default 16)')
    .option('--drain-timeout <seconds>', 'on SIGTERM/SIGINT, how long in-flight requests and runs may finish (PLUGHOST_DRAIN_TIMEOUT, default 30)')
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const options = resolveOptions({
        port: flags.port as string | undefined, host: flags.host as string | undefined,
        maxIsolates: flags.maxIsolates as string | undefined, spareIsolates: flags.spareIsolates as string | undefined,
        schedulerConcurrency: flags.schedulerConcurrency as string | undefined, data: flags.data as string | undefined, databaseUrl: flags.databaseUrl as string | undefined,
        operatorToken: flags.operatorToken as string | undefined, egressAllow: flags.egressAllow as string | undefined,
        egressMap: flags.egressMap as string | undefined, demo: flags.demo as boolean | undefined,
        drainTimeout: flags.drainTimeout as string | undefined,
        limits: flags.limits as string | undefined,
      });
      const say = (line: string) => process.stdout.write(`plughost: ${line}\n`);
      say(`opening the store (${options.databaseUrl ? 'PostgreSQL' : `SQLite in ${options.dataDir}`})…`);
      const host = await createHost(options, {
        onMigrate: (p) => say(`applying ${p.length} store migration${p.length === 1 ? '' : 's'} (${p[0]}${p.length > 1 ? ` … ${p.at(-1)}` : ''})…`),
      });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          say(`${signal} again: exiting now, without waiting for the drain`);
          process.exit(130);
        }
        stopping = true;
        say(`${signal}: shutting down (in-flight requests and runs get up to ${options.drainMs / 1000} s; ${signal} again to exit now)…`);
        const started = Date.now();
        try {
          await host.close({ drainMs: options.drainMs });
        } catch (err) {
          say(`error while shutting down: ${(err as Error).message}`);
          process.exit(1);
        }
        say(`stopped (shutdown took ${Date.now() - started} ms)`);
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      try {
        if (options.demo && (await seedDemo(host, say))) say('seeded the demo workspace');
        const url = await host.listen(options.port, options.host);
        await host.start();
        const base = url.replace('127.0.0.1', 'localhost');
        say(`listening on ${base}`);
        say(`admin UI:   ${base}/admin (sign in with the operator token)`);
        say(`admin API:  ${base}/api/v1 (health: ${base}/healthz)`);
        if (options.demo) say(`demo:       ${base}/workspaces/demo/…`);
        // Only now that the host serves: a start that failed earlier leaves no unseen token behind.
        const generated = await host.ensureOperatorToken();
        if (generated) {
          say(`operator token (shown once; it is stored hashed): ${generated}`);
        } else if (!options.operatorToken) {
          say('operator token: the one printed on first start (set PLUGHOST_OPERATOR_TOKEN to add another)');
        }
      } catch (err) {
        await host.close();
        throw err;
      }
    });
}
