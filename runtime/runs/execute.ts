// One run path for every trigger kind. A `Trigger` says what to run: a call to a plugin
// route, a scheduled webhook (in-process route or outside URL), a Freshworks
// `onScheduledEvent`, or a Haplo schedule hook; `Via` says why (an HTTP request, the
// scheduler, a retry, a catch-up, or a manual run of any of these). `execute` resolves the
// installation and its handler, builds the payload, runs it, applies the success rule once
// and records exactly one run, a failure before the sandbox included.
//
// The one exception is an HTTP request to a plugin route that is refused before any code runs
// (no such route: 404; access denied: 401/403): it throws and records nothing, because an
// anonymous caller must not be able to write to a workspace's run history. The same refusal
// of a scheduled webhook is a failed run. Integration-message sends are not plugin code; they
// record their run (kind `send`) through the same run log.
import { PlughostError } from '../errors.ts';
import type { BackgroundSpec } from '../haplo/background.ts';
import { newId } from '../ids.ts';
import type { Installations } from '../installations.ts';
import type { InvocationOutcome, RouteResponse, SandboxPlugin } from '../sandbox/types.ts';
import { appEventPayload, hookArguments, scheduledEventPayload } from '../schedule/payloads.ts';
import type { Occurrence } from '../store/occurrences.ts';
import type { Run, RunTrigger } from '../store/runs.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import type { Executor } from './executor.ts';
import { backgroundPayload } from './background-call.ts';
import { askedNoRetry } from './outcome.ts';
import type { RunMeta } from './record.ts';
import { callRespond, type RespondCall } from './respond-call.ts';
import { callRoute, type RouteCall } from './route-call.ts';
import { callWebhook, type WebhookCallDeps } from './webhook-call.ts';

export type Trigger =
  | { kind: 'route'; call: RouteCall }
  /** A Haplo P.respond request under the workspace's /do or /api. */
  | { kind: 'respond'; call: RespondCall }
  | { kind: 'webhook'; schedule: Schedule; occurrence: Occurrence }
  | { kind: 'event'; workspaceId: string; installationId: string; name: string; data: unknown; timestamp: number; idempotencyKey: string }
  /** A Freshworks app event other than a schedule's (lifecycle, product, external), with FDK's payload. */
  | { kind: 'app-event'; workspaceId: string; installationId: string; event: string; payload: Record<string, unknown>; idempotencyKey?: string;
      /** The installation to run, when it is not active yet (onAppInstall runs before it is). */
      plugin?: SandboxPlugin }
  /** A Freshworks server method (SMI): an exported function the manifest lists, called with the caller's arguments. */
  | { kind: 'smi'; workspaceId: string; installationId: string; name: string; args: Record<string, unknown> }
  | { kind: 'hook'; workspaceId: string; installationId: string; hook: string; instant: number; timezone: string; idempotencyKey: string }
  /** A Haplo background job (O.background.run, or an O.httpClient request and its callback). */
  | { kind: 'background'; workspaceId: string; installationId: string; spec: BackgroundSpec; idempotencyKey: string };

/** Why it runs: the run's trigger, and the schedule attempt it is when a schedule fired it. */
export interface Via { trigger: RunTrigger; runId?: string; scheduleId?: string | null; attempt?: number }

/** A finished run, whether its code or endpoint asked not to be retried, and what the plugin answered (plugin code only). */
export interface Settled { run: Run; noRetry: boolean; outcome?: InvocationOutcome }

export interface Execution {
  runId: string;
  /** A route's response as soon as the plugin sends it (undefined for other kinds, or when it sent none). */
  response: Promise<RouteResponse | undefined>;
  /** The run, once it is over and recorded. Rejects only when the store cannot be read to resolve the installation. */
  done: Promise<Settled>;
}

export interface RunsDeps extends WebhookCallDeps {
  store: Store;
  installations: Installations;
  executor: Executor;
}

/** The error for a plugin that declares no `onScheduledEvent` handler. */
export function noEventHandler(plugin: SandboxPlugin): PlughostError {
  return new PlughostError('PLUGIN_NO_HANDLER', `plugin \`${plugin.manifest.name}\` declares no handler for onScheduledEvent; add events.onScheduledEvent.handler to plugin.json`);
}

/** How long a spent O.httpClient send is remembered (longer than any retry or lease of its job). */
const SEND_RECORD_MS = 7 * 24 * 3_600_000;

export function createRuns(deps: RunsDeps) {
  const { store, installations, executor, runLog, now } = deps;

  const settled = (p: Promise<Settled>, runId: string): Execution => ({ runId, response: p.then(() => undefined, () => undefined), done: p });

  /** A run that ends before the sandbox: recorded failed, not retried (retrying cannot help). */
  const refused = (workspaceId: string, meta: RunMeta & { installationId?: string | null }, err: PlughostError): Settled => ({
    run: runLog.record(workspaceId, meta, { status: 'failed', startedAt: now(), durationMs: 0, httpStatus: null, log: err.message, error: { code: err.code, message: err.message } }),
    noRetry: true,
  });

  /** The installation as the sandbox runs it, or the reason it cannot run. */
  const pluginOf = async (workspaceId: string, installationId: string): Promise<SandboxPlugin | PlughostError> => {
    const inst = await store.installations.byId(installationId);
    if (!inst || inst.workspaceId !== workspaceId) return new PlughostError('INSTALLATION_NOT_FOUND', `installation \`${installationId}\` is gone from workspace \`${workspaceId}\``);
    if (!inst.active) return new PlughostError('INSTALLATION_NOT_FOUND', `installation \`${installationId}\` is inactive; activate it (PATCH {"active": true}) to run it`);
    return installations.toSandboxPlugin(inst);
  };

  /** The workspace as Freshworks payloads name it (a gone workspace is its id alone). */
  const accountOf = async (workspaceId: string) => (await store.workspaces.get(workspaceId)) ?? { id: workspaceId };

  const ofPlugin = async (t: Extract<Trigger, { kind: 'event' | 'hook' | 'app-event' | 'smi' | 'background' }>, meta: RunMeta): Promise<Settled> => {
    const plugin = t.kind === 'app-event' && t.plugin ? t.plugin : await pluginOf(t.workspaceId, t.installationId);
    if (plugin instanceof PlughostError) return refused(t.workspaceId, { ...meta, installationId: t.installationId }, plugin);
    if (t.kind === 'app-event') {
      const handler = plugin.manifest.events[t.event]?.handler;
      if (!handler) return refused(t.workspaceId, { ...meta, installationId: t.installationId }, new PlughostError('PLUGIN_NO_HANDLER', `plugin \`${plugin.manifest.name}\` declares no handler for ${t.event}`));
      const payload = { ...appEventPayload(await accountOf(plugin.workspaceId), plugin.iparams, t.event, now()), ...t.payload };
      const { run, outcome } = await executor.run(plugin, { kind: 'event', payload: { handler, event: t.event, payload } }, meta);
      return { run, noRetry: askedNoRetry(outcome), outcome };
    }
    if (t.kind === 'smi') {
      const fn = plugin.manifest.functions[t.name];
      if (!fn) return refused(t.workspaceId, { ...meta, installationId: t.installationId }, new PlughostError('FUNCTION_NOT_FOUND', `plugin \`${plugin.manifest.name}\` has no server method \`${t.name}\`; list it under functions in the manifest`));
      const payload = { ...t.args, iparams: plugin.iparams };
      const { run, outcome } = await executor.run(plugin, { kind: 'event', payload: { handler: t.name, event: t.name, payload }, timeoutMs: fn.timeoutMs }, meta);
      return { run, noRetry: true, outcome };
    }
    if (t.kind === 'background') {
      // The request of an O.httpClient job is made at most once: its send is spent first.
      const once = () => store.seenSignatures.spend(`background-http:${meta.scheduleId ?? t.idempotencyKey}`, now() + SEND_RECORD_MS, now());
      const background = await backgroundPayload(deps.egress, plugin, t.spec, once);
      const { run, outcome } = await executor.run(plugin, { kind: 'hook', payload: { background } }, meta);
      return { run, noRetry: askedNoRetry(outcome) };
    }
    if (t.kind === 'hook') {
      const args = hookArguments(t.instant, t.timezone);
      const { run, outcome } = await executor.run(plugin, { kind: 'hook', payload: { hook: t.hook, args, response: { idempotencyKey: t.idempotencyKey } } }, meta);
      return { run, noRetry: askedNoRetry(outcome) };
    }
    const handler = plugin.manifest.events.onScheduledEvent?.handler;
    if (!handler) return refused(t.workspaceId, { ...meta, installationId: t.installationId }, noEventHandler(plugin));
    const payload = scheduledEventPayload(await accountOf(plugin.workspaceId), plugin.iparams, t);
    const { run, outcome } = await executor.run(plugin, { kind: 'event', payload: { handler, event: 'onScheduledEvent', payload } }, meta);
    return { run, noRetry: askedNoRetry(outcome) };
  };

  return {
    /** Runs `trigger` as one recorded run. Rejects only for an HTTP route call refused before any code runs. */
    async execute(trigger: Trigger, via: Via): Promise<Execution> {
      const runId = via.runId ?? newId('run');
      const base = { runId, trigger: via.trigger, scheduleId: via.scheduleId ?? null, attempt: via.attempt ?? 1 };
      switch (trigger.kind) {
        case 'route':
        case 'respond': {
          const call = trigger.kind === 'route'
            ? await callRoute(deps.routes, trigger.call, { ...base, kind: 'route' })
            : await callRespond(deps.routes, trigger.call, { ...base, kind: 'route' });
          return { runId, response: call.response, done: call.done.then(({ run, outcome }) => ({ run, noRetry: askedNoRetry(outcome) })) };
        }
        case 'webhook': {
          const { schedule: s, occurrence: o } = trigger;
          return settled(callWebhook(deps, s, o, { ...base, kind: 'webhook', idempotencyKey: o.idempotencyKey, target: (s.spec as { url: string }).url }), runId);
        }
        case 'event':
          return settled(ofPlugin(trigger, { ...base, kind: 'event', idempotencyKey: trigger.idempotencyKey, target: `onScheduledEvent ${trigger.name}` }), runId);
        case 'hook':
          return settled(ofPlugin(trigger, { ...base, kind: 'hook', idempotencyKey: trigger.idempotencyKey, target: trigger.hook }), runId);
        case 'app-event':
          return settled(ofPlugin(trigger, { ...base, kind: 'event', idempotencyKey: trigger.idempotencyKey ?? null, target: trigger.event }), runId);
        case 'smi':
          return settled(ofPlugin(trigger, { ...base, kind: 'smi', target: trigger.name }), runId);
        case 'background':
          return settled(ofPlugin(trigger, { ...base, kind: 'background', idempotencyKey: trigger.idempotencyKey, target: trigger.spec.http ? `${trigger.spec.http.method} ${trigger.spec.http.url.slice(0, 200)} → ${trigger.spec.name}` : trigger.spec.name }), runId);
      }
    },
    whenDone: executor.whenDone,
    record: runLog.record,
  };
}
export type Runs = ReturnType<typeof createRuns>;
