#!/usr/bin/env -S node --no-node-snapshot
// The `plughost` command line. Each command lives in its own file; this one only wires them.
import { Command, CommanderError } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { devCommand } from './dev.ts';
import { initCommand } from './init.ts';
import { installCommand } from './install.ts';
import { messagesCommand } from './messages.ts';
import { publishCommand } from './publish.ts';
import { scheduleCommand } from './schedule.ts';
import { serveCommand } from './serve.ts';
import { testCommand } from './test-plugin.ts';
import { triggerCommand } from './trigger.ts';

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

const program = new Command('plughost')
  .description('Self-hosted plugin host: Zengine services, Freshworks scheduled apps and Haplo integrations in V8 isolates')
  .version(pkg.version, '-V, --version', 'print the plughost version')
  .showHelpAfterError(false)
  .exitOverride();

serveCommand(program);
initCommand(program);
testCommand(program);
devCommand(program);
publishCommand(program);
installCommand(program);
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
