// Calling an installation's Freshworks `onScheduledEvent` handler or one of its Haplo schedule
// hooks as a run: one place for the scheduler's firings and the manual triggers, so both
// build the same payload, look the handler up the same way and record the same kind of run.
import { PlughostError } from '../errors.ts';
import type { Executor, RunMeta } from '../executor.ts';
import type { InvocationOutcome, SandboxPlugin } from '../sandbox/types.ts';
import { hookArguments, scheduledEventPayload } from '../schedule/payloads.ts';
import type { Run } from '../store/runs.ts';

type Meta = Omit<RunMeta, 'kind' | 'target'>;
export interface Ran { run: Run; outcome: InvocationOutcome }

/** The error for a plugin that declares no `onScheduledEvent` handler. */
export function noEventHandler(plugin: SandboxPlugin): PlughostError {
  return new PlughostError('PLUGIN_NO_HANDLER', `plugin \`${plugin.manifest.name}\` declares no handler for onScheduledEvent; add events.onScheduledEvent.handler to plugin.json`);
}

/** Runs `onScheduledEvent` with the scheduled-firing payload; throws PLUGIN_NO_HANDLER before running anything. */
export function runScheduledEvent(executor: Executor, plugin: SandboxPlugin, at: { timestamp: number; data: unknown; name: string; idempotencyKey: string }, meta: Meta): Promise<Ran> {
  const handler = plugin.manifest.events.onScheduledEvent?.handler;
  if (!handler) throw noEventHandler(plugin);
  const payload = scheduledEventPayload(plugin.workspaceId, plugin.iparams, at);
  return executor.run(plugin, { kind: 'event', payload: { handler, event: 'onScheduledEvent', payload } },
    { ...meta, idempotencyKey: at.idempotencyKey, kind: 'event', target: `onScheduledEvent ${at.name}` });
}

/** Runs the Haplo hook `hook` with the arguments of `instant` in `timezone`. */
export function runHook(executor: Executor, plugin: SandboxPlugin, hook: string, instant: number, timezone: string, idempotencyKey: string, meta: Meta): Promise<Ran> {
  const args = hookArguments(instant, timezone);
  return executor.run(plugin, { kind: 'hook', payload: { hook, args, response: { idempotencyKey } } }, { ...meta, idempotencyKey, kind: 'hook', target: hook });
}
