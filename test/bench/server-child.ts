// One measured server in its own process, for the benches that load it from outside:
//   node --no-node-snapshot server-child.ts plughost [root] | koa | node-http
// `plughost` is a whole host on a temp SQLite dir with the bench plugin installed in workspace
// "bench"; `root` points at another checkout (a baseline build of plughost measured in the same
// run). Over IPC it says {type: 'ready', url} once it answers, and answers {type: 'cpu'} with its
// own CPU time (user + system, all threads, microseconds). It exits when the parent disconnects.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [kind = 'plughost', root = path.join(import.meta.dirname, '..', '..')] = process.argv.slice(2);
const BODY = (n: unknown) => JSON.stringify({ ok: true, n });

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function start(): Promise<{ url: string; close(): Promise<void> }> {
  if (kind === 'plughost') {
    const servers = await import(pathToFileURL(path.join(root, 'test/bench/servers.ts')).href) as typeof import('./servers.ts');
    const bench = await servers.startBenchHost();
    await servers.installBenchPlugin(bench.host, 'bench');
    return { url: bench.url, close: () => bench.close() };
  }
  if (kind === 'koa') {
    const servers = await import('./servers.ts');
    return servers.startBareKoa();
  }
  if (kind === 'node-http') {
    // The floor: node:http answering the same path with the same JSON, nothing else.
    const server = http.createServer((req, res) => {
      const n = new URL(req.url ?? '/', 'http://x').searchParams.get('n');
      const body = BODY(n);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const url = await listen(server);
    return { url, close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
  }
  throw new Error(`unknown server kind ${kind}`);
}

const server = await start();
process.on('message', (raw) => {
  if ((raw as { type?: string }).type === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ type: 'cpu', micros: u.user + u.system });
  }
});
process.on('disconnect', () => { void server.close().finally(() => process.exit(0)); });
process.send!({ type: 'ready', url: server.url });
