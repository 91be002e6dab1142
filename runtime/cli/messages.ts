// `plughost messages`: integration-message queues of a workspace on a running host.
import type { Command } from 'commander';
import { call, withClientOptions, type ClientOptions } from './client.ts';

interface Flags extends ClientOptions { workspace: string }
const base = (f: Flags) => `/api/v1/workspaces/${encodeURIComponent(f.workspace)}/integration-messages`;
const enc = encodeURIComponent;

export function messagesCommand(program: Command): void {
  const messages = program.command('messages').description('integration-message queues (Haplo) of a workspace');
  const sub = (name: string, description: string) =>
    withClientOptions(messages.command(name)).description(description).requiredOption('--workspace <id>', 'workspace');

  sub('queues', 'list queues with unsent and sent counts').action(async (f: Flags) => {
    const r = await call(f, 'GET', base(f));
    if (!r.sendingEnabled) process.stdout.write('sending is disabled on this copy of the store (clone guard)\n');
    for (const q of r.data) {
      process.stdout.write(`${q.group}  ${q.method}  unsent ${q.unsent}  sent ${q.sent}  ${q.title}${q.lastError ? `  last error: ${q.lastError}` : ''}\n`);
    }
    if (r.data.length === 0) process.stdout.write('no queues\n');
  });

  sub('list', 'list the messages of a queue').argument('<group>').option('--status <s>', 'unsent, sending or sent').action(async (group: string, f: Flags & { status?: string }) => {
    const r = await call(f, 'GET', `${base(f)}/${enc(group)}/messages${f.status ? `?status=${enc(f.status)}` : ''}`);
    for (const m of r.data) process.stdout.write(`${m.id}  ${m.status}  ${m.createdAt}  ${JSON.stringify(m.data)}\n`);
  });

  sub('send', 'send a queue now').argument('<group>').action(async (group: string, f: Flags) => {
    process.stderr.write(`sending ${group}…\n`);
    const r = await call(f, 'POST', `${base(f)}/${enc(group)}/send`);
    process.stdout.write(`sent ${r.sent} message(s)\n`);
  });

  sub('add', 'add a message by hand').argument('<group>').requiredOption('--data <json>', 'the message data, a JSON object').action(async (group: string, f: Flags & { data: string }) => {
    let data: unknown;
    try { data = JSON.parse(f.data); } catch (err) { throw new Error(`--data is not JSON: ${(err as Error).message}`); }
    const r = await call(f, 'POST', `${base(f)}/${enc(group)}/messages`, { json: { data } });
    process.stdout.write(`added message ${r.id}\n`);
  });

  sub('unsent', 'mark a message unsent (it goes again with the next send)').argument('<group>').argument('<id>').action(async (group: string, id: string, f: Flags) => {
    await call(f, 'POST', `${base(f)}/${enc(group)}/messages/${enc(id)}/unsent`);
    process.stdout.write(`message ${id} is unsent\n`);
  });

  sub('key', 'create a poll key for a queue').argument('<group>').action(async (group: string, f: Flags) => {
    const r = await call(f, 'POST', `${base(f)}/${enc(group)}/keys`);
    process.stdout.write(`key: ${r.key}\npoll: ${new URL(r.pollUrl, f.url)} (HTTP Basic haplo:<key>)\n`);
  });
}
