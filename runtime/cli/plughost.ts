#!/usr/bin/env -S node --no-node-snapshot
// The `plughost` command line. Each command lives in its own file; this one only wires them.
import { Command, CommanderError } from 'commander';
import { devCommand } from './dev.ts';
import { initCommand } from './init.ts';
import { installCommand } from './install.ts';
import { messagesCommand } from './messages.ts';
import { publishCommand } from './publish.ts';
import { scheduleCommand } from './schedule.ts';
import { serveCommand } from './serve.ts';
import { triggerCommand } from './trigger.ts';

const program = new Command('plughost')
  .description('Self-hosted plugin host: Zengine services, Freshworks scheduled apps and Haplo integrations in V8 isolates')
  .showHelpAfterError(false)
  .exitOverride();

serveCommand(program);
initCommand(program);
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
