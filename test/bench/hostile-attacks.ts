// The attacks of the hostile bench (issue 11), each a small plugin installed through the
// admin API and triggered by HTTP calls from the bench driver (never from inside the host):
// the attacker keeps `loops` requests going at each of its installations for as long as an
// under-attack round lasts. `scale` (1 in the bench, tiny in the smoke test) multiplies each
// attack's size; the plugin reads its size from the query.
//
// Two loopback services stand in for the outside world, reached through --egress-map:
// `silent.test` accepts connections and never answers, `big.test` answers every request with
// a 10 MiB body.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export const SILENT_HOST = 'silent.test';
export const BIG_HOST = 'big.test';
export const BIG_BODY_BYTES = 10 * 1024 * 1024;

export interface Attack {
  key: string;
  name: string;
  /** One line: what each attack request makes the host do. */
  what: string;
  /** The plugin.json `limits` and `permissions.hosts` of the attack plugin. */
  limits: { timeoutMs: number; memoryMb?: number };
  hosts?: string[];
  /** Installations of the plugin, each in its own attacker workspace. */
  installations: number;
  /** Requests the attacker keeps in flight per installation. */
  loops: number;
  /** The query of each attack request at this scale. */
  query(scale: number): Record<string, number>;
  /** The plugin's go.js (route `go`). */
  source: string;
}

const n = (base: number, scale: number) => Math.max(1, Math.round(base * scale));

export const ATTACKS: Attack[] = [
  {
    key: 'timers', name: 'timer flood',
    what: '25,000 setTimeout(…, 60 s) per run, answered at once',
    limits: { timeoutMs: 3_000 }, installations: 1, loops: 2,
    query: (s) => ({ n: n(25_000, s) }),
    source: `exports.run = function (e) {
  var n = Number(e.request.query.n), armed = 0;
  for (var i = 0; i < n; i++) { try { setTimeout(function () {}, 60000); armed++; } catch (err) { /* refused */ } }
  e.response.json({ armed: armed });
};
`,
  },
  {
    key: 'logs', name: 'log flood',
    what: 'console.log loop: 100,000 lines of ~120 bytes per run, two installations',
    limits: { timeoutMs: 5_000 }, installations: 2, loops: 1,
    query: (s) => ({ n: n(100_000, s) }),
    source: `exports.run = function (e) {
  var n = Number(e.request.query.n), pad = 'x'.repeat(100);
  for (var i = 0; i < n; i++) console.log('flood ' + i + ' ' + pad);
  e.response.json({ logged: n });
};
`,
  },
  {
    key: 'ops', name: 'op flood',
    what: '300 un-awaited $db.set of 4 MiB each per run',
    limits: { timeoutMs: 10_000, memoryMb: 256 }, installations: 1, loops: 1,
    query: (s) => ({ n: n(300, s), mib: 4 }),
    source: `exports.run = function (e) {
  var q = e.request.query, n = Number(q.n), big = 'x'.repeat(Number(q.mib) * 1024 * 1024), ok = 0, refused = 0, settled = 0;
  function one() { if (++settled === n) e.response.json({ ok: ok, refused: refused }); }
  for (var i = 0; i < n; i++) {
    try { $db.set('op' + i, { s: big }).then(function () { ok++; }, function () { refused++; }).then(one); }
    catch (err) { refused++; one(); }
  }
};
`,
  },
  {
    key: 'outbound', name: 'outbound flood',
    what: `3,000 concurrent fetch to ${SILENT_HOST} (loopback, never answers) per run`,
    limits: { timeoutMs: 3_000 }, hosts: [SILENT_HOST], installations: 1, loops: 1,
    query: (s) => ({ n: n(3_000, s) }),
    source: `exports.run = function (e) {
  var n = Number(e.request.query.n), failed = 0, settled = 0;
  function one() { if (++settled === n) e.response.json({ failed: failed }); }
  for (var i = 0; i < n; i++) {
    try { fetch('http://${SILENT_HOST}/' + i).then(function () {}, function () { failed++; }).then(one); }
    catch (err) { failed++; one(); }
  }
};
`,
  },
  {
    key: 'bodies', name: 'large bodies',
    what: `60 concurrent fetch of a 10 MiB response from ${BIG_HOST} (loopback) per run`,
    limits: { timeoutMs: 10_000, memoryMb: 256 }, hosts: [BIG_HOST], installations: 1, loops: 1,
    query: (s) => ({ n: n(60, s) }),
    source: `exports.run = function (e) {
  var n = Number(e.request.query.n), bytes = 0, failed = 0, settled = 0;
  function one() { if (++settled === n) e.response.json({ bytes: bytes, failed: failed }); }
  for (var i = 0; i < n; i++) {
    try {
      fetch('http://${BIG_HOST}/' + i).then(function (r) { return r.text(); })
        .then(function (t) { bytes += t.length; }, function () { failed++; }).then(one);
    } catch (err) { failed++; one(); }
  }
};
`,
  },
  {
    key: 'memory', name: 'memory hogs',
    what: '8 installations at memoryMb 256, each holding 160 MiB and replacing 32 MiB per run',
    limits: { timeoutMs: 10_000, memoryMb: 256 }, installations: 8, loops: 1,
    query: (s) => ({ hold: n(160, s), churn: n(32, s) }),
    source: `var held = [];
exports.run = function (e) {
  var q = e.request.query, hold = Number(q.hold), churn = Number(q.churn), made = 0;
  // 1 MiB per chunk: 131072 numbers of 8 bytes.
  while (held.length < hold) { held.push(new Array(131072).fill(held.length)); made++; }
  for (var i = 0; i < churn; i++) { held[(Math.random() * held.length) | 0] = new Array(131072).fill(i); made++; }
  e.response.json({ heldMb: held.length, madeMb: made });
};
`,
  },
  {
    key: 'storage', name: 'storage fill',
    what: '$db.set loop: 200 awaited writes of 48 KiB per run, new keys each time',
    limits: { timeoutMs: 10_000 }, installations: 1, loops: 1,
    query: (s) => ({ n: n(200, s), kib: 48 }),
    source: `exports.run = async function (e) {
  var q = e.request.query, n = Number(q.n), value = { s: 'y'.repeat(Number(q.kib) * 1024) }, ok = 0, refused = 0;
  var run = Math.random().toString(36).slice(2);
  for (var i = 0; i < n; i++) {
    try { await $db.set('fill-' + run + '-' + i, value); ok++; } catch (err) { refused++; }
  }
  e.response.json({ ok: ok, refused: refused });
};
`,
  },
];

/** The attack plugin's package, named after the attack. */
export function attackPackage(a: Attack): Record<string, string | object> {
  return {
    'plugin.json': {
      name: `hostile-${a.key}`, version: '1.0.0', namespace: a.key,
      services: [{ route: 'go', main: 'go.js', access: 'public' }],
      limits: a.limits,
      ...(a.hosts ? { permissions: { hosts: a.hosts } } : {}),
    },
    'go.js': a.source,
  };
}

export const attackWorkspace = (a: Attack, i: number) => `attacker-${a.key}-${i}`;

/** The URL of one attack request against installation `i`. */
export function attackUrl(base: string, a: Attack, i: number, scale: number): string {
  const qs = new URLSearchParams(Object.entries(a.query(scale)).map(([k, v]) => [k, String(v)] as [string, string]));
  return `${base}/workspaces/${attackWorkspace(a, i)}/${a.key}/go?${qs}`;
}

export interface Outside {
  /** --egress-map entries for the two services. */
  egressMap: Record<string, string>;
  close(): Promise<void>;
}

/** Starts the silent host and the 10 MiB host on loopback. */
export async function startOutside(): Promise<Outside> {
  const held = new Set<Socket>();
  const silent = http.createServer(() => { /* never answers */ });
  silent.on('connection', (s) => { held.add(s); s.once('close', () => held.delete(s)); });
  const body = Buffer.alloc(BIG_BODY_BYTES, 'z');
  const big = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(body);
  });
  const listen = (s: http.Server) => new Promise<string>((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  const [silentUrl, bigUrl] = [await listen(silent), await listen(big)];
  const close = (s: http.Server) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
  return {
    egressMap: { [SILENT_HOST]: silentUrl, [BIG_HOST]: bigUrl },
    async close() {
      for (const s of held) s.destroy();
      await Promise.all([close(silent), close(big)]);
    },
  };
}

export interface AttackerStats {
  /** Attack requests sent and answered (any status), by status ("error" for no answer). */
  sent: number;
  statuses: Record<string, number>;
}

/**
 * The attacker: `loops` requests in flight per installation, each started again as soon as
 * the previous one is answered, until `stop()`; `stop()` resolves once every request in
 * flight is answered (or has given up after `requestTimeoutMs`).
 */
export function startAttacker(base: string, a: Attack, scale: number, requestTimeoutMs = 30_000): { stop(): Promise<AttackerStats> } {
  let stopping = false;
  const stats: AttackerStats = { sent: 0, statuses: {} };
  const note = (k: string) => { stats.statuses[k] = (stats.statuses[k] ?? 0) + 1; };
  const loop = async (url: string) => {
    while (!stopping) {
      stats.sent++;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(requestTimeoutMs) });
        await res.arrayBuffer();
        note(String(res.status));
      } catch {
        note('error');
        await new Promise((r) => setTimeout(r, 50)); // a host that is gone refuses at once: no busy loop
      }
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < a.installations; i++) {
    for (let j = 0; j < a.loops; j++) loops.push(loop(attackUrl(base, a, i, scale)));
  }
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return stats;
    },
  };
}
