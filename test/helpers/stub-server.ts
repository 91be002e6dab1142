// A real HTTP server on loopback that stands in for an external service (a chat API, an
// integration endpoint). It records every request and answers with `respond`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

export interface StubServer {
  url: string;
  requests: RecordedRequest[];
  /** Resolves once `n` requests have arrived. */
  waitForRequests(n: number): Promise<RecordedRequest[]>;
  respond: (req: RecordedRequest, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

export async function startStub(respond?: StubServer['respond']): Promise<StubServer> {
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: RecordedRequest[]) => void }> = [];
  const stub: StubServer = {
    url: '', requests,
    respond: respond ?? ((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); }),
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      stub.respond(recorded, res);
      for (const w of waiters.splice(0)) {
        if (requests.length >= w.n) w.resolve(requests.slice());
        else waiters.push(w);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}
