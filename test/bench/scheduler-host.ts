// The scheduler benchmark's host and schedules: a real host (createHost on a fresh temp SQLite
// data dir, default options, silent logger, not listening: nothing here needs HTTP) with one
// trivial plugin that has both a route (for scheduled webhooks, called in-process) and an
// `onScheduledEvent` handler (for plugin schedules), and a bulk insert of schedules through
// `host.store.schedules.insert` inside one transaction.
import type { Clock } from '../../runtime/clock.ts';
import type { Host } from '../../runtime/host.ts';
import { newId } from '../../runtime/ids.ts';
import type { HostOptions } from '../../runtime/options.ts';
import { packFiles } from '../../runtime/packages/pack.ts';
import { webhookRecurrence, type WebhookSpec } from '../../runtime/schedule/webhooks.ts';
import { formatInZone, instantToWall } from '../../runtime/schedule/zoned-time.ts';
import type { Schedule } from '../../runtime/store/schedules.ts';
import { startTempHost } from './servers.ts';

export const SCHED_PLUGIN = 'bench-sched';
export const SCHED_NAMESPACE = 'benchsched';
export const SCHED_ROUTE = 'tick';
/** Freshworks' own limit of one-time `$schedule`s per installation (defaults.schedules.maxOneTime). */
export const PER_INSTALLATION = 1000;

/** The trivial plugin: a public route answering `{ok: true}` and a handler that returns at once. */
export const schedPluginFiles: Record<string, string> = {
  'plugin.json': JSON.stringify({
    name: SCHED_PLUGIN, version: '1.0.0', namespace: SCHED_NAMESPACE,
    services: [{ route: SCHED_ROUTE, main: 'plugin.js', access: 'public' }],
    main: 'plugin.js',
    events: { onScheduledEvent: { handler: 'onScheduledEventHandler' } },
  }),
  'plugin.js': [
    'exports.run = function (eventData) { eventData.response.json({ ok: true }); };',
    'exports.onScheduledEventHandler = function (payload) { return { ok: true }; };',
    '',
  ].join('\n'),
};

/** `webhook`: scheduled webhooks calling the plugin's route in-process; `plugin`: `$schedule`-style one-time schedules. */
export type BenchKind = 'webhook' | 'plugin';

export interface SchedBenchHost {
  host: Host;
  dataDir: string;
  /** Workspaces `bench0`, `bench1`, … each with the plugin installed: workspace id → installation id. */
  installations: Array<{ workspaceId: string; installationId: string }>;
  /** A sealed webhook secret made by the host itself (copied into the bulk-inserted webhooks). */
  webhookSecret: string;
  close(): Promise<void>;
}

export function startSchedBenchHost(opts: { clock?: Clock; workspaces?: number; schedules?: Partial<HostOptions['schedules']> } = {}): Promise<SchedBenchHost> {
  return startTempHost('plughost-sched-bench-', async (host) => {
    const files = new Map<string, Uint8Array>();
    for (const [name, text] of Object.entries(schedPluginFiles)) files.set(name, Buffer.from(text));
    await host.registry.publish(await packFiles(files), 'gzip');
    const installations: SchedBenchHost['installations'] = [];
    for (let i = 0; i < Math.max(1, opts.workspaces ?? 1); i++) {
      const workspaceId = `bench${i}`;
      await host.workspaces.create({ id: workspaceId, name: workspaceId });
      const inst = await host.installations.install(workspaceId, { plugin: SCHED_PLUGIN });
      installations.push({ workspaceId, installationId: inst.id });
    }
    // One webhook made through the service API gives a secret sealed with this host's key.
    const probe = await host.webhooks.create('bench0', { url: routeOf('bench0'), frequency: 'daily', start: '2099-01-01 00:00:00', timezone: 'UTC', isActive: false });
    const webhookSecret = (await host.store.schedules.get(probe.id))!.secret!;
    await host.store.schedules.delete(probe.id);
    return { installations, webhookSecret };
  }, { ...(opts.schedules ? { schedules: opts.schedules } : {}), deps: opts.clock ? { clock: opts.clock } : {} });
}

export const routeOf = (workspaceId: string) => `/workspaces/${workspaceId}/${SCHED_NAMESPACE}/${SCHED_ROUTE}`;

/**
 * Builds `count` schedules of `kind`, the i-th first due at `dueAt(i)` (for webhooks: whole
 * seconds, as `start` has no milliseconds). Plugin schedules are one-time (`$schedule` without
 * `repeat`), spread over the installations at most PER_INSTALLATION each, as Freshworks allows;
 * webhooks are daily, starting at their due time, so each fires once in a bench run.
 */
export function buildSchedules(b: SchedBenchHost, kind: BenchKind, count: number, dueAt: (i: number) => number, tag: string): Schedule[] {
  const now = b.host.clock.now();
  const out: Schedule[] = [];
  for (let i = 0; i < count; i++) {
    const due = dueAt(i);
    const id = newId(kind === 'webhook' ? 'whk' : 'sch', now);
    const common = { id, active: true, nextRunAt: due, misfire: 'coalesce' as const, overlap: 'skip' as const, createdAt: now, updatedAt: now };
    if (kind === 'plugin') {
      const slot = Math.floor(i / PER_INSTALLATION);
      const inst = b.installations[slot];
      if (!inst) throw new Error(`${count} plugin schedules need ${Math.ceil(count / PER_INSTALLATION)} installations (at most ${PER_INSTALLATION} one-time schedules each); the host has ${b.installations.length}`);
      const name = `${tag}-${i}`;
      out.push({
        ...common, workspaceId: inst.workspaceId, installationId: inst.installationId, kind: 'plugin', name,
        uniqueKey: `plugin:${inst.installationId}:${name}`,
        spec: { name, data: { i }, schedule_at: new Date(due).toISOString() }, recurrence: { type: 'interval', at: due },
        maxRetries: 0, secret: null,
      });
    } else {
      if (due % 1000 !== 0) throw new Error('webhook due times must be whole seconds');
      const workspaceId = b.installations[i % b.installations.length]!.workspaceId;
      const spec: WebhookSpec = {
        url: routeOf(workspaceId), frequency: 'daily', cron: null, start: formatInZone(due, 'UTC'), timezone: 'UTC',
        description: `${tag}-${i}`, createdWall: instantToWall(now, 'UTC'),
      };
      out.push({
        ...common, workspaceId, installationId: null, kind: 'webhook', name: null, uniqueKey: `webhook:${id}`,
        spec: spec as never, recurrence: webhookRecurrence(spec), maxRetries: 3, secret: b.webhookSecret,
      });
    }
  }
  return out;
}

/** Inserts through `host.store.schedules.insert`, in one transaction. */
export async function insertSchedules(host: Host, schedules: Schedule[]): Promise<void> {
  await host.store.transaction(async (tx) => {
    for (const s of schedules) {
      if (!(await tx.schedules.insert(s))) throw new Error(`schedule ${s.uniqueKey} collided`);
    }
  });
}
