// A stand-in for an external HTTP service in plugin tests: a real server on loopback that
// records every request and answers with a handler's reply. `createTestHost` starts one per
// host name in its `stubs` option and maps the name to it (--egress-map), so a plugin that
// calls `https://api.example.com/…` reaches it under its ordinary permission check.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  /** Path and query, as the plugin asked for them (`/v2/room/42/message?auth_token=x`). */
  url: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: http.IncomingHttpHeaders;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON when it is JSON, else the text. */
  body: unknown;
}

export interface StubReply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** A string or bytes as is; anything else as JSON. Default `{"ok":true}`. */
  body?: unknown;
}

export type StubHandler = (request: StubRequest) => StubReply | undefined | Promise<StubReply | undefined>;

export interface Stub {
  /** The host name it stands in for. */
  name: string;
  /** Its real loopback address (`http://127.0.0.1:PORT`). */
  url: string;
  /** Every request so far, oldest first. */
  requests: StubRequest[];
  /** Resolves with the requests once `n` have arrived; rejects after `timeoutMs` (default 10 s). */
  waitFor(n: number, options?: { timeoutMs?: number }): Promise<StubRequest[]>;
  /** Sets how it answers from now on. */
  reply(handler: StubHandler): void;
  close(): Promise<void>;
}

const defaultHandler: StubHandler = () => ({ status: 200, body: { ok: true } });

function parseBody(text: string, contentType: string | undefined): unknown {
  if (!/json/i.test(contentType ?? '')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function encodeReply(reply: StubReply): { status: number; headers: Record<string, string>; body: string | Uint8Array } {
  const headers: Record<string, string> = { ...reply.headers };
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  const raw = reply.body === undefined ? { ok: true } : reply.body;
  let body: string | Uint8Array;
  if (typeof raw === 'string') {
    body = raw;
    if (!hasType) headers['content-type'] = 'text/plain; charset=utf-8';
  } else if (raw instanceof Uint8Array) {
    body = raw;
    if (!hasType) headers['content-type'] = 'application/octet-stream';
  } else {
    body = JSON.stringify(raw);
    if (!hasType) headers['content-type'] = 'application/json';
  }
  return { status: reply.status ?? 200, headers, body };
}

export async function startStub(name: string, handler: StubHandler = defaultHandler): Promise<Stub> {
  const requests: StubRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: StubRequest[]) => void }> = [];
  let answer = handler;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://stub.invalid');
      const recorded: StubRequest = {
        method: req.method ?? 'GET', url: req.url ?? '/', path: url.pathname, query: Object.fromEntries(url.searchParams),
        headers: req.headers, text, body: parseBody(text, req.headers['content-type']),
      };
      requests.push(recorded);
      for (const w of waiters.splice(0)) {
        if (requests.length >= w.n) w.resolve(requests.slice());
        else waiters.push(w);
      }
      Promise.resolve()
        .then(() => answer(recorded))
        .then((reply) => {
          const out = encodeReply(reply ?? {});
          res.writeHead(out.status, out.headers);
          res.end(out.body);
        }, (err: unknown) => {
          // A throwing handler is a bug in the test: answer 500 and say so.
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`stub ${name}: the handler threw: ${(err as Error)?.message ?? String(err)}`);
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  let closing: Promise<void> | undefined;

  return {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    waitFor(n, options = {}) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      const timeoutMs = options.timeoutMs ?? 10_000;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          reject(new Error(`stub ${name} got ${requests.length} of ${n} request(s) within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = { n, resolve: (r: StubRequest[]) => { clearTimeout(timer); resolve(r); } };
        waiters.push(waiter);
      });
    },
    reply(next) {
      answer = next;
    },
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
