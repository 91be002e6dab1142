// Starts a whole host for a test: a real SQLite file in a fresh temp directory (or the
// PostgreSQL server when PLUGHOST_TEST_DATABASE_URL is set), a real HTTP port on loopback,
// and the operator token. `close()` stops it and removes the directory.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../runtime/clock.ts';
import type { Lookup } from '../../runtime/egress/index.ts';
import { createHost, type Host } from '../../runtime/host.ts';
import { createLogger } from '../../runtime/logger.ts';
import { resolveOptions, type HostOptions } from '../../runtime/options.ts';
import { packFiles } from '../../runtime/packages/pack.ts';

export interface TestHost {
  host: Host;
  url: string;
  operatorToken: string;
  dataDir: string;
  /** JSON request to the host; `token` defaults to the operator token (null: none). */
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any; headers: Headers }>;
  /** Publishes an inline package (`{'plugin.json': {...}, 'plugin.js': '...'}`); `query` names an FDK app (`{name, version}`). */
  publish(files: Record<string, string | object>, query?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface TestHostOptions {
  egressAllow?: string[];
  egressMap?: Record<string, string>;
  clock?: Clock;
  lookup?: Lookup;
  dataDir?: string;
  sandbox?: Partial<HostOptions['sandbox']>;
  http?: Partial<HostOptions['http']>;
  schedules?: Partial<HostOptions['schedules']>;
  limits?: Partial<HostOptions['limits']>;
}

export async function startHost(opts: TestHostOptions = {}): Promise<TestHost> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-test-'));
  const operatorToken = 'test-operator-token-0123456789';
  const base = resolveOptions({ data: dataDir, operatorToken, port: 0, databaseUrl: process.env.PLUGHOST_TEST_DATABASE_URL }, {});
  const options: HostOptions = {
    ...base,
    egressAllow: opts.egressAllow ?? [],
    egressMap: opts.egressMap ?? {},
    sandbox: { ...base.sandbox, spareIsolates: 1, ...opts.sandbox },
    http: { ...base.http, ...opts.http },
    schedules: { ...base.schedules, ...opts.schedules },
    limits: { ...base.limits, ...opts.limits },
  };
  const host = await createHost(options, {
    logger: createLogger(process.env.PLUGHOST_TEST_LOG ?? 'silent'),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
    // On PostgreSQL each data directory gets its own schema, so a host restarted on the same
    // directory finds its data again and every other host starts empty, as with SQLite files.
    ...(options.databaseUrl ? { schema: `t_${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}` } : {}),
  });
  const url = await host.listen(0, '127.0.0.1');
  await host.start();
  const api: TestHost['api'] = async (method, p, body, token = operatorToken) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(url + p, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* a non-JSON answer stays text */ }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    host, url, operatorToken, dataDir, api,
    async publish(files, query) {
      const map = new Map<string, Uint8Array>();
      for (const [name, content] of Object.entries(files)) {
        map.set(name, Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)));
      }
      const bytes = await packFiles(map);
      const res = await fetch(url + '/api/v1/plugins' + (query ? `?${new URLSearchParams(query)}` : ''), {
        method: 'POST', headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/gzip' }, body: bytes,
      });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await host.close();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
