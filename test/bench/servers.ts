// What the benchmarks measure against each other: a real plughost host (createHost on a
// temp SQLite data dir, silent logger, loopback port) with the trivial bench plugin
// published, and a bare Koa + @koa/router app that answers the same path with the same JSON.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import { createHost, type Host, type HostDeps } from '../../runtime/host.ts';
import { createLogger } from '../../runtime/logger.ts';
import { resolveOptions, type HostOptions } from '../../runtime/options.ts';
import { packFiles } from '../../runtime/packages/pack.ts';

export const BENCH_PLUGIN = 'bench-route';
export const BENCH_NAMESPACE = 'bench';
export const BENCH_ROUTE = 'hello';

/** The trivial plugin: one public route answering `{ok: true, n: <query n>}`. */
export const benchPluginFiles: Record<string, string> = {
  'plugin.json': JSON.stringify({
    name: BENCH_PLUGIN,
    version: '1.0.0',
    namespace: BENCH_NAMESPACE,
    services: [{ route: BENCH_ROUTE, main: 'plugin.js', access: 'public' }],
  }),
  'plugin.js': 'exports.run = function (eventData) {\n  eventData.response.json({ ok: true, n: eventData.request.query.n });\n};\n',
};

/** The path of the bench route in a workspace; both servers answer it. */
export const routePath = (workspaceId: string, n: number | string): string =>
  `/workspaces/${workspaceId}/${BENCH_NAMESPACE}/${BENCH_ROUTE}?n=${n}`;

/** The exact body both servers send for `n`. */
export const expectedBody = (n: number | string): string => JSON.stringify({ ok: true, n: String(n) });

export interface BenchHost {
  host: Host;
  url: string;
  close(): Promise<void>;
}

/**
 * A whole host on a fresh temp SQLite data dir (default limits, silent log), prepared by
 * `setup`; `close()` stops it and removes the dir. Every bench host starts here. With
 * `databaseUrl` (and usually `deps.schema`) the store is that PostgreSQL instead; the caller
 * owns the database or schema and drops it.
 */
export async function startTempHost<T extends object>(
  prefix: string,
  setup: (host: Host, dataDir: string) => Promise<T>,
  opts: { schedules?: Partial<HostOptions['schedules']>; deps?: HostDeps; databaseUrl?: string } = {},
): Promise<T & { host: Host; dataDir: string; close(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // An empty environment: SQLite with default limits unless the caller names a PostgreSQL.
  const base = resolveOptions({ data: dataDir, port: 0, operatorToken: 'bench-operator-token-0123456789', ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) }, {});
  const options: HostOptions = { ...base, schedules: { ...base.schedules, ...opts.schedules } };
  let host: Host | undefined;
  try {
    host = await createHost(options, { logger: createLogger('silent'), ...opts.deps });
    const h = host;
    const extra = await setup(h, dataDir);
    return {
      ...extra, host: h, dataDir,
      async close() {
        await h.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await host?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** A whole host on a fresh temp data dir, with the bench plugin published (not installed). */
export function startBenchHost(): Promise<BenchHost> {
  return startTempHost('plughost-bench-', async (host) => {
    const url = await host.listen(0, '127.0.0.1');
    const files = new Map<string, Uint8Array>();
    for (const [name, text] of Object.entries(benchPluginFiles)) files.set(name, Buffer.from(text));
    await host.registry.publish(await packFiles(files), 'gzip');
    return { url };
  });
}

/** Installs the bench plugin into a new workspace through the host's service API. */
export async function installBenchPlugin(host: Host, workspaceId: string): Promise<void> {
  await host.workspaces.create({ id: workspaceId, name: workspaceId });
  await host.installations.install(workspaceId, { plugin: BENCH_PLUGIN });
}

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

/** The baseline: bare Koa + @koa/router, same route shape, same JSON. */
export async function startBareKoa(): Promise<BareServer> {
  const app = new Koa();
  const router = new Router();
  router.all('/workspaces/:ws/:ns/:route', (ctx) => {
    ctx.body = { ok: true, n: ctx.query.n };
  });
  app.use(router.routes());
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export interface Client {
  /** One GET over a kept-alive loopback connection; resolves with status and body text. */
  get(url: string): Promise<{ status: number; body: string }>;
  /** Fails unless `url` answers 200 with exactly the expected body for `n`. */
  check(url: string, n: number | string): Promise<void>;
  close(): void;
}

/** A minimal node:http client on one kept-alive socket (less client overhead than fetch). */
export function createClient(): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get: Client['get'] = (url) => new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return {
    get,
    async check(url, n) {
      const res = await get(url);
      if (res.status !== 200 || res.body !== expectedBody(n)) {
        throw new Error(`GET ${url} answered ${res.status} ${res.body.slice(0, 300)}; expected 200 ${expectedBody(n)}`);
      }
    },
    close: () => agent.destroy(),
  };
}
