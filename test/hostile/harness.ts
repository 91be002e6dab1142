// Shared set-up for the hostile-plugin suite: a whole host with one well-behaved plugin
// ("calm") beside the hostile ones, a beacon stub that a hostile fixture calls the moment it
// starts misbehaving (so a test knows the bad run is under way without sleeping), and the
// checks every hostile test repeats: the 5xx and its timing, the neighbours' promptness,
// the run record with the host's note, and the same installation serving again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startHost, type TestHost, type TestHostOptions } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

export const WS = 'hostile';
/** The host name a fixture fetches to say "I have started"; mapped to the beacon stub. */
export const BEACON_HOST = 'beacon.test';
/** Every request to the well-behaved plugin made while a hostile run is going must answer within this. */
export const PROMPT_MS = 1000;
/** A hostile run must be answered within its time limit plus this. */
export const MARGIN_MS = 1500;
/** Requests fired at the well-behaved plugin alongside each hostile one. */
export const NEIGHBOURS = 5;

const fixturesDir = path.join(import.meta.dirname, 'fixtures');

export interface Env {
  h: TestHost;
  beacon: StubServer;
  /** Namespace of the well-behaved installation. */
  calm: string;
  calmId: string;
  close(): Promise<void>;
}

export interface CallResult {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: any;
  text: string;
  headers: Headers;
  /** Wall time of the request as the client saw it. */
  ms: number;
  runId: string | null;
}

export function fixtureSource(name: string): string {
  return fs.readFileSync(path.join(fixturesDir, name), 'utf8');
}

const CALM_SOURCE = `
let served = 0;
exports.run = function (eventData) {
  served += 1;
  eventData.response.json({ calm: true, served: served });
};
`;

export async function startEnv(opts: Pick<TestHostOptions, 'sandbox'> = {}): Promise<Env> {
  const beacon = await startStub();
  const h = await startHost({ egressMap: { [BEACON_HOST]: beacon.url }, ...(opts.sandbox ? { sandbox: opts.sandbox } : {}) });
  const ws = await h.api('POST', '/api/v1/workspaces', { id: WS, name: 'Hostile plugins' });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const published = await h.publish({
    'plugin.json': { name: 'calm', version: '1.0.0', namespace: 'calm', services: [{ route: 'run', main: 'plugin.js', access: 'public' }] },
    'plugin.js': CALM_SOURCE,
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const installed = await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'calm' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  return {
    h, beacon, calm: 'calm', calmId: installed.body.id,
    async close() {
      await h.close();
      await beacon.close();
    },
  };
}

export interface FixtureSpec {
  /** File under fixtures/ that becomes the package's plugin.js. */
  fixture: string;
  /** Plugin name and namespace; default: the fixture's base name. */
  name?: string;
  version?: string;
  limits?: { timeoutMs?: number; memoryMb?: number };
  /** More files of the package (e.g. other fixtures a dispatcher requires). */
  files?: Record<string, string | object>;
  /** Source of plugin.js instead of the fixture (the fixture is then shipped under its own name). */
  main?: string;
  /** More plugin.json fields (e.g. `events`). */
  manifest?: Record<string, unknown>;
}

function nameOf(spec: FixtureSpec): string {
  return spec.name ?? spec.fixture.replace(/\.js$/, '');
}

export async function publishFixture(env: Env, spec: FixtureSpec): Promise<{ name: string; version: string }> {
  const name = nameOf(spec);
  const version = spec.version ?? '1.0.0';
  const manifest = {
    name, version, namespace: name,
    services: [{ route: 'run', main: 'plugin.js', access: 'public' }],
    permissions: { hosts: [BEACON_HOST] },
    limits: { timeoutMs: 400, ...spec.limits },
    ...spec.manifest,
  };
  const files: Record<string, string | object> = { 'plugin.json': manifest, ...spec.files };
  if (spec.main !== undefined) {
    files['plugin.js'] = spec.main;
    files[spec.fixture] = fixtureSource(spec.fixture);
  } else {
    files['plugin.js'] = fixtureSource(spec.fixture);
  }
  const published = await env.h.publish(files);
  assert.equal(published.status, 201, JSON.stringify(published.body));
  return { name, version };
}

/** Publishes the fixture and installs it in the workspace; resolves once its isolate is warm. */
export async function installFixture(env: Env, spec: FixtureSpec): Promise<{ id: string; namespace: string }> {
  const { name, version } = await publishFixture(env, spec);
  const installed = await env.h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: name, version });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  return { id: installed.body.id, namespace: installed.body.namespace };
}

/** Calls an installation's `run` route with the query given (`mode=bad` makes a fixture misbehave). */
export async function call(env: Env, namespace: string, query: Record<string, string> = {}): Promise<CallResult> {
  const qs = new URLSearchParams(query).toString();
  const started = performance.now();
  const res = await fetch(`${env.h.url}/workspaces/${WS}/${namespace}/run${qs ? `?${qs}` : ''}`);
  const text = await res.text();
  const ms = performance.now() - started;
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body, text, headers: res.headers, ms, runId: res.headers.get('x-plughost-run') };
}

/** Fires `n` requests at the well-behaved plugin at once; each must answer 200 promptly. */
export async function callCalm(env: Env, n = NEIGHBOURS): Promise<CallResult[]> {
  const results = await Promise.all(Array.from({ length: n }, () => call(env, env.calm)));
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.calm, true);
    assert.ok(r.ms < PROMPT_MS, `the well-behaved plugin took ${Math.round(r.ms)} ms beside a hostile one (at most ${PROMPT_MS})`);
  }
  return results;
}

/**
 * Starts the hostile request; once it is under way (its fixture called the beacon, when
 * `beacon` is set) fires requests at the well-behaved plugin, checks they all answer
 * promptly, then resolves with the hostile answer.
 */
export async function hostileBesideCalm(env: Env, namespace: string, query: Record<string, string>, opts: { beacon?: boolean } = {}): Promise<CallResult> {
  const seen = env.beacon.requests.length;
  const tag = `${namespace}-${seen}`;
  const hostile = call(env, namespace, opts.beacon ? { ...query, beacon: tag } : query);
  if (opts.beacon) {
    const started = await Promise.race([
      env.beacon.waitForRequests(seen + 1).then(() => true),
      hostile.then(() => env.beacon.requests.length > seen),
    ]);
    assert.ok(started, 'the hostile run answered without calling the beacon: it never started misbehaving');
    assert.equal(env.beacon.requests[seen]!.url, `/${tag}`);
  }
  const calm = callCalm(env);
  const [result] = await Promise.all([hostile, calm]);
  return result;
}

export interface Expected {
  status: number;
  code: string;
  /** The installation's time limit. */
  limitMs: number;
  /** A timeout: the answer may not come before the limit. */
  timeout?: boolean;
  runStatus: 'failed' | 'timed-out';
  /** What the client's error message must match. */
  message?: RegExp;
}

/** Checks a hostile answer: status, error code, timing, and its run record with the host's note. */
export async function assertHostileOutcome(env: Env, res: CallResult, expected: Expected) {
  assert.equal(res.status, expected.status, res.text);
  assert.equal(res.body?.error?.code, expected.code, res.text);
  assert.equal(typeof res.body.error.message, 'string');
  if (expected.message) assert.match(res.body.error.message, expected.message);
  assert.ok(res.ms < expected.limitMs + MARGIN_MS, `answered after ${Math.round(res.ms)} ms; the limit is ${expected.limitMs} ms (+${MARGIN_MS})`);
  if (expected.timeout) assert.ok(res.ms >= expected.limitMs, `timed out after ${Math.round(res.ms)} ms, before the ${expected.limitMs} ms limit`);
  assert.ok(res.runId, 'the answer names its run in x-plughost-run');
  assert.ok(res.body.error.message.includes(res.runId), 'the error message names the run');
  const run = await getRun(env, res.runId);
  assert.equal(run.id, res.runId);
  assert.equal(run.kind, 'route');
  assert.equal(run.trigger, 'http');
  assert.equal(run.status, expected.runStatus);
  assert.equal(run.error?.code, expected.code);
  assert.equal(run.httpStatus, null);
  assert.ok(run.log.includes(`[host] ${expected.code}: `), `the run log holds the host's note:\n${run.log}`);
  return run;
}

/**
 * The run record, once the run is over. A response can reach the client before its run is
 * finished and recorded; then this awaits the host's `run:finished` event for it.
 */
export async function getRun(env: Env, runId: string): Promise<any> {
  const { events } = env.h.host;
  let onFinished!: (run: { id: string }) => void;
  const finished = new Promise<void>((resolve) => {
    onFinished = (run) => { if (run.id === runId) resolve(); };
  });
  events.on('run:finished', onFinished);
  try {
    let res = await env.h.api('GET', `/api/v1/workspaces/${WS}/runs/${runId}`);
    if (res.status === 404 || res.body?.status === 'running') {
      await finished;
      res = await env.h.api('GET', `/api/v1/workspaces/${WS}/runs/${runId}`);
    }
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  } finally {
    events.off('run:finished', onFinished);
  }
}

/** The same installation answers a well-behaved request; resolves with its body (`{ok, calls, …}`). */
export async function assertServesAgain(env: Env, namespace: string, limitMs: number): Promise<any> {
  const res = await call(env, namespace);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.ok, true);
  assert.ok(res.ms < limitMs + MARGIN_MS, `the next request took ${Math.round(res.ms)} ms`);
  const run = await getRun(env, res.runId!);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.httpStatus, 200);
  return res.body;
}

/** Sum of one Prometheus counter over all its labels, as GET /metrics shows it. */
export async function metricTotal(env: Env, name: string): Promise<number> {
  const res = await fetch(`${env.h.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) total += Number(m[2]);
  }
  return total;
}

export const RESTARTS = 'plughost_isolate_restarts_total';

/** Strings that would show the host's file system or Node's internals if they reached a plugin. */
export function hostTraces(): string[] {
  const repo = path.resolve(import.meta.dirname, '../..');
  return [...new Set(['/work/', 'node_modules/', 'node:internal', '(node:', 'file://', repo, process.cwd()])];
}

/** A trivial route plugin's code: the neighbour a hostile test keeps asking. */
export const NEIGHBOUR_SOURCE = 'exports.run = function (e) { e.response.json({ ok: true }); };\n';

export interface RoutePlugin {
  /** The workspace it is installed into (made here). */
  ws: string;
  name: string;
  namespace: string;
  /** go.js: the one public route `go`. */
  source: string;
  limits?: Record<string, number>;
  hosts?: readonly string[];
}

/** Publishes each one-route plugin and installs it into its own workspace (several may share one). */
export async function installRoutePlugins(h: TestHost, plugins: readonly RoutePlugin[]): Promise<void> {
  const published = new Set<string>();
  const made = new Set<string>();
  for (const p of plugins) {
    if (!published.has(p.name)) {
      const pub = await h.publish({
        'plugin.json': { name: p.name, version: '1.0.0', namespace: p.namespace, services: [{ route: 'go', main: 'go.js', access: 'public' }], permissions: { hosts: [...(p.hosts ?? [])] }, limits: { timeoutMs: 10_000, ...p.limits } },
        'go.js': p.source,
      });
      assert.equal(pub.status, 201, JSON.stringify(pub.body));
      published.add(p.name);
    }
    if (!made.has(p.ws)) {
      assert.equal((await h.api('POST', '/api/v1/workspaces', { id: p.ws, name: p.ws })).status, 201);
      made.add(p.ws);
    }
    const installed = await h.api('POST', `/api/v1/workspaces/${p.ws}/installations`, { plugin: p.name });
    assert.equal(installed.status, 201, JSON.stringify(installed.body));
  }
}

/** The neighbour (NEIGHBOUR_SOURCE at /workspaces/{ws}/{namespace}/go) answers, within PROMPT_MS. */
export async function assertNeighbourServed(h: TestHost, ws = 'victim', namespace = 'nb'): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${h.url}/workspaces/${ws}/${namespace}/go`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  assert.ok(performance.now() - t0 < PROMPT_MS, `the neighbour took ${Math.round(performance.now() - t0)} ms`);
}
