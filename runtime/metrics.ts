// Prometheus metrics on a registry of the host's own (never prom-client's global one, so
// several hosts in one process, as in tests, do not collide).
import client from 'prom-client';

export function createMetrics(gauges: { warmIsolates: () => number }) {
  const registry = new client.Registry();
  const runs = new client.Counter({
    name: 'plughost_runs_total', help: 'Plugin runs by kind and final status', labelNames: ['kind', 'status'] as const, registers: [registry],
  });
  const runDuration = new client.Histogram({
    name: 'plughost_run_duration_seconds', help: 'Plugin run duration', labelNames: ['kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 20, 60], registers: [registry],
  });
  const fatal = new client.Counter({
    name: 'plughost_isolate_restarts_total', help: 'Isolates disposed after a fatal plugin error', labelNames: ['reason'] as const, registers: [registry],
  });
  const httpRequests = new client.Counter({
    name: 'plughost_http_requests_total', help: 'HTTP requests by route group and status class', labelNames: ['group', 'status'] as const, registers: [registry],
  });
  new client.Gauge({
    name: 'plughost_isolates_warm', help: 'Installations with a live isolate', registers: [registry],
    collect() { this.set(gauges.warmIsolates()); },
  });
  return { registry, runs, runDuration, fatal, httpRequests };
}
export type Metrics = ReturnType<typeof createMetrics>;
