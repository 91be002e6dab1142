// What a plugin, its run's log and its caller are told when something goes wrong in an
// isolate: budget refusals, the plugin's own errors, failed host operations, a dead isolate.
import { isPlughostError, type ErrorCode } from '../errors.ts';
import type { InvocationKind, SandboxPlugin } from './types.ts';

/** What the run's log notes at a budget's first refusal, and what the plugin's error says. */
export const REFUSALS = {
  pendingOps: {
    note: (n: number) => `${n} timers and operations already pending (limit pendingOps); this and any further ones reject with PLUGIN_LIMIT`,
    error: (n: number) => `${n} host operations (timers, fetches, $db, $schedule) are already pending in this run; await some before starting more`,
  },
  pendingOpBytes: {
    note: (n: number) => `the arguments of the operations pending would pass ${n} bytes (limit pendingOpBytes); this and any further ones reject with PLUGIN_LIMIT`,
    error: (n: number) => `the arguments of the host operations pending in this run would pass ${n} bytes (pendingOpBytes); await some before starting more`,
  },
  guestMessages: {
    note: (n: number) => `the run has sent ${n} messages (limit guestMessages); further operations reject with PLUGIN_LIMIT and further log lines are dropped`,
    error: (n: number) => `this run has sent the host ${n} messages, its limit (guestMessages); nothing more can be started in it`,
  },
} as const;
export type Refusal = keyof typeof REFUSALS;

export function pluginError(error: { message?: string; stack?: string; code?: string; noRetry?: boolean; status?: number } | undefined, kind: InvocationKind | 'service'): { code: ErrorCode; message: string; noRetry?: boolean; details?: { status: number } } {
  // Frames of the host's guest glue say nothing useful to a plugin author.
  const message = (error?.stack ?? error?.message ?? 'the plugin failed').split('\n').filter((l) => !l.includes('plughost:///')).join('\n');
  if (error?.code === 'PLUGIN_NO_HANDLER') return { code: 'PLUGIN_NO_HANDLER', message: error.message ?? message };
  if (kind === 'init') return { code: 'PLUGIN_LOAD_ERROR', message };
  // A Freshworks `{status, message}` (from renderData or a rejection) keeps its status: a server method answers with it.
  const status = typeof error?.status === 'number' ? { details: { status: error.status } } : {};
  return { code: 'PLUGIN_ERROR', message, ...(error?.noRetry ? { noRetry: true } : {}), ...status };
}

/** What the guest receives when an op fails: never a host stack or an internal message. */
export function opError(err: unknown): { code: string; message: string; status: number; limit?: string } {
  if (isPlughostError(err)) {
    const limit = (err.details as { limit?: unknown } | undefined)?.limit;
    return { code: err.code, message: err.expose ? err.message : 'internal error', status: err.status, ...(typeof limit === 'string' ? { limit } : {}) };
  }
  const e = err as { status?: unknown; message?: unknown; code?: unknown };
  if (e && typeof e.status === 'number' && typeof e.message === 'string') {
    return { code: typeof e.code === 'string' ? e.code : 'OP_FAILED', message: e.message, status: e.status };
  }
  return { code: 'INTERNAL', message: 'internal error', status: 500 };
}

export function fatalMessage(reason: string, plugin: SandboxPlugin): string {
  if (reason === 'memory') return `the plugin ran out of memory (limit ${plugin.manifest.limits.memoryMb} MiB); its isolate was restarted`;
  if (reason === 'timeout') return `the plugin ran past its time limit (${plugin.manifest.limits.timeoutMs} ms); its isolate was restarted`;
  if (reason === 'closed') return 'the plugin was stopped (host shutting down or plugin updated)';
  return `the plugin's isolate failed (${reason}) and was restarted`;
}
