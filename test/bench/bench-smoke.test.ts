// Keeps the benchmark code from rotting: runs the same functions `npm run bench` uses
// (route throughput, each server in its own process, with both load-generator placements; cold start) with tiny request
// counts, and checks that every figure they report is a positive number. No timing is
// asserted: speed is the bench's business, not the test suite's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureColdStart } from './cold-start.ts';
import { measureRouteThroughput, type ThroughputResult } from './route-throughput.ts';
import { median, percentile } from './stats.ts';

const positive = (n: unknown, what: string) => {
  assert.equal(typeof n, 'number', `${what} is a number`);
  assert.ok(Number.isFinite(n as number) && (n as number) > 0, `${what} = ${n} is > 0`);
};

function checkThroughput(r: ThroughputResult, loadgen: string) {
  assert.equal(r.loadgen, loadgen);
  assert.equal(r.rounds, 1);
  assert.equal(r.amount, 60);
  for (const name of ['plughost', 'koa', 'node-http'] as const) {
    const s = r.servers[name];
    assert.equal(s.rps.length, 1);
    positive(s.rps[0], `${name} rps`);
    positive(s.medianRps, `${name} median rps`);
    positive(s.cpuUsPerRequest[0], `${name} CPU per request`);
    positive(s.rpsRatio, `${name} rps ratio`);
    positive(s.cpuRatio, `${name} CPU ratio`);
  }
  assert.equal(r.servers.koa.rpsRatio, 1, 'Koa is the baseline');
  positive(r.ratio, 'ratio');
  assert.equal(r.baselineRatio, null);
}

test('the stats helpers pick the middle and the nearest rank', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile([5], 99), 5);
});

test('route throughput runs end to end with the load generator in a child process', async () => {
  checkThroughput(await measureRouteThroughput({ rounds: 1, amount: 60, warmupAmount: 20, connections: 4, loadgen: 'child' }), 'child');
});

test('route throughput runs end to end with the load generator in this process', async () => {
  checkThroughput(await measureRouteThroughput({ rounds: 1, amount: 60, warmupAmount: 20, connections: 4, loadgen: 'inprocess' }), 'inprocess');
});

test('cold start runs end to end and reports install, cold and warm times', async () => {
  const r = await measureColdStart({ installs: 5, warmupInstalls: 1 });
  assert.equal(r.installs, 5);
  assert.equal(r.samples.coldMs.length, 5);
  assert.equal(r.samples.warmMs.length, 5);
  assert.equal(r.samples.installMs.length, 5);
  for (const [name, d] of [['install', r.install], ['cold', r.cold], ['warm', r.warm]] as const) {
    positive(d.p50Ms, `${name} p50`);
    positive(d.p99Ms, `${name} p99`);
  }
  positive(r.ratioP50, 'cold/warm p50');
  positive(r.ratioP99, 'cold/warm p99');
  // Six installations stay under maxIsolates: none was evicted, so there is no after-eviction figure.
  assert.ok(r.maxIsolates > 6);
  assert.equal(r.afterEviction, null);
  assert.deepEqual(r.samples.afterEvictionMs, []);
  assert.ok(Number.isFinite(r.rssPerInstallationMb), `RSS per installation ${r.rssPerInstallationMb}`);
});
