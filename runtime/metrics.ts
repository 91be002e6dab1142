// Prometheus metrics on a registry of the host's own (never prom-client's global one, so
// several hosts in one process, as in tests, do not collide).
import client from 'prom-client';
import type { SandboxStats } from './sandbox/sandbox.ts';
import type { SchedulerCounts } from './schedule/scheduler.ts';

export interface MetricSources {
  warmIsolates: () => number;
  /** The sandbox's isolate memory budget and load, for the `plughost_isolate_memory_*` and in-flight gauges. */
  sandbox?: () => Pick<SandboxStats, 'memoryMb' | 'memoryBudgetMb' | 'evictions' | 'inFlight'>;
  /** The run recorder's counts, for `plughost_run_recorder_backlog` (0 without it). */
  recorder?: () => { backlog: number; lost: number };
  /** The scheduler's counters, for the `plughost_scheduler_*` counters. */
  scheduler?: () => SchedulerCounts;
}

export function createMetrics(gauges: MetricSources) {
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
  const sandbox = gauges.sandbox;
  if (sandbox) {
    new client.Gauge({
      name: 'plughost_isolate_memory_mb', help: 'Isolate memory counted against the host budget: the memoryMb of every warm and spare isolate (MiB)', registers: [registry],
      collect() { this.set(sandbox().memoryMb); },
    });
    new client.Gauge({
      name: 'plughost_isolate_memory_budget_mb', help: 'The host-wide isolate memory budget, limits.isolateMemoryMb (MiB)', registers: [registry],
      collect() { this.set(sandbox().memoryBudgetMb); },
    });
    new client.Counter({
      name: 'plughost_isolate_evictions_total', help: 'Idle warm isolates disposed to stay under the memory budget or maxIsolates', registers: [registry],
      collect() { this.reset(); this.inc(sandbox().evictions); },
    });
    new client.Gauge({
      name: 'plughost_invocations_in_flight', help: 'Invocations, service calls and preloads running or queued in the sandbox', registers: [registry],
      collect() { this.set(sandbox().inFlight); },
    });
  }
  const scheduler = gauges.scheduler;
  if (scheduler) {
    const counter = (name: string, help: string, of: keyof SchedulerCounts) => new client.Counter({
      name, help, registers: [registry], collect() { this.reset(); this.inc(scheduler()[of]); },
    });
    counter('plughost_scheduler_claims_total', 'Claim statements this node ran', 'claims');
    counter('plughost_scheduler_claimed_total', 'Occurrences this node claimed', 'claimed');
    counter('plughost_scheduler_plan_conflicts_total', 'Due schedules this node read that another node planned first', 'planConflicts');
    counter('plughost_scheduler_lost_leases_total', 'Outcomes not recorded because the lease had passed to another node', 'lostLeases');
  }
  /** Runs never written to the store; the host incs it from the recorder's onLost. */
  const runsLost = new client.Counter({
    name: 'plughost_runs_lost_total', help: 'Finished runs dropped without being written to the store (buffer bound, refused, or lost at shutdown)', registers: [registry],
  });
  new client.Gauge({
    name: 'plughost_run_recorder_backlog', help: 'Finished runs buffered but not yet written to the store', registers: [registry],
    collect() { this.set(gauges.recorder?.().backlog ?? 0); },
  });
  return { registry, runs, runDuration, fatal, httpRequests, runsLost };
}
export type Metrics = ReturnType<typeof createMetrics>;
