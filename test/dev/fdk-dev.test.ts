// `plughost dev` on a Freshworks FDK app folder, as `fdk run` is used: the folder serves as it
// is (named after the folder), and `plughost trigger event <inst> <event>` sends the app's
// server/test_data/<event>.json as the payload when no --data is given. Child processes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliPath, plughost, repoRoot } from '../helpers/plughost-cli.ts';

const root = repoRoot;
const cli = cliPath;
const fixture = path.join(import.meta.dirname, '../sdk/fixtures/ticket-scheduler');


let dir: string;
let dev: ChildProcess;
let exited: Promise<unknown>;
let env: Record<string, string>;
let inst: string;
let output = '';

before(async () => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-fdk-dev-')), 'ticket-scheduler');
  fs.cpSync(fixture, dir, { recursive: true });
  dev = spawn(process.execPath, ['--no-node-snapshot', cli, 'dev', dir, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => dev.on('exit', resolve));
  const seen = new Promise<void>((resolve, reject) => {
    const feed = (c: Buffer) => {
      output += c.toString('utf8');
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const token = /operator token: (pho_\S+)/.exec(output)?.[1];
      const id = /loaded ticket-scheduler@\S+ \(installation (inst_\w+)\)/.exec(output)?.[1];
      if (url && token && id) { env = { PLUGHOST_URL: url, PLUGHOST_TOKEN: token }; inst = id; resolve(); }
    };
    dev.stdout!.on('data', feed);
    dev.stderr!.on('data', feed);
    dev.on('exit', (code) => reject(new Error(`dev exited (${code}):\n${output}`)));
  });
  await seen;
});
after(async () => {
  if (dev.exitCode === null) { dev.kill('SIGTERM'); await exited; }
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('trigger event sends server/test_data/<event>.json by default, and --data instead when given', async () => {
  const fromFile = await plughost(['trigger', 'event', inst, 'onTicketCreate', '--app', dir], env);
  assert.equal(fromFile.code, 0, fromFile.stderr + fromFile.stdout);
  assert.match(fromFile.stderr, /payload from .*test_data\/onTicketCreate\.json/);
  assert.match(fromFile.stdout, /new ticket 7: Printer on fire/);
  const inline = await plughost(['trigger', 'event', inst, 'onTicketCreate', '--data', '{"ticket": {"id": 8, "subject": "VPN"}}'], env);
  assert.match(inline.stdout, /new ticket 8: VPN/);
  // An event the app does not handle is refused, and the command says so.
  const unknown = await plughost(['trigger', 'event', inst, 'onContactCreate', '--app', dir], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /PLUGIN_NO_HANDLER|declares no handler for onContactCreate/);
});
