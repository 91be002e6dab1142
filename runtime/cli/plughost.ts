#!/usr/bin/env -S node --no-node-snapshot
// The `plughost` command line. Each command lives in its own file; this one only wires them.
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { devCommand } from './dev.ts';
import { initCommand } from './init.ts';
import { installCommand } from './install.ts';
import { messagesCommand } from './messages.ts';
import { packCommand } from './pack.ts';
import { publishCommand } from './publish.ts';
import { runsCommand } from './runs.ts';
import { scheduleCommand } from './schedule.ts';
import { serveCommand } from './serve.ts';
import { testCommand } from './test-plugin.ts';
import { triggerCommand } from './trigger.ts';
import { validateCommand } from './validate.ts';

// Last-resort safety net: a stray promise rejection or exception must not end a serving host
// (every in-flight request and run would be cut). Log it on stderr and keep going; the exit
// code of a short command that then ends by itself is 1. These are bugs to fix where they start.
const lastResort = (what: string) => (err: unknown) => {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  try {
    process.stderr.write(`${JSON.stringify({ level: 50, time: new Date().toISOString(), msg: `${what} (kept running): ${text.split('\n')[0]}`, err: text })}\n`);
  } catch { /* nothing left to report with */ }
  process.exitCode = 1;
};
process.on('unhandledRejection', lastResort('unhandled promise rejection'));
process.on('uncaughtException', lastResort('uncaught exception'));

/** The package's version: its package.json is two levels up from the source, three from dist/. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = new URL(up, import.meta.url);
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'plughost' && pkg.version) return pkg.version;
    }
  }
  return 'unknown';
}

const program = new Command('plughost')
  .description('Self-hosted plugin host: Zengine services, Freshworks scheduled apps and Haplo integrations in V8 isolates')
  .version(packageVersion(), '-V, --version', 'print the plughost version')
  .showHelpAfterError(false)
  // Program options only before the command: `publish`, `install`, `validate` and `pack` have a
  // `--version <v>` of their own, which the program's -V/--version would otherwise take.
  .enablePositionalOptions()
  .exitOverride();

serveCommand(program);
initCommand(program);
testCommand(program);
validateCommand(program);
packCommand(program);
devCommand(program);
publishCommand(program);
installCommand(program);
runsCommand(program);
scheduleCommand(program);
triggerCommand(program);
messagesCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode); // commander already printed its one-line reason (or the help)
  }
  console.error(`plughost: ${(err as Error).message.split('\n')[0]}`);
  process.exit(1);
}
