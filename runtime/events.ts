// Typed host events. Logs, metrics and tests listen here instead of polling the store.
import { EventEmitter } from 'node:events';
import type { Run } from './store/runs.ts';

export interface HostEventMap {
  'run:finished': [run: Run];
  'sandbox:fatal': [info: { installationId: string; workspaceId: string; reason: string }];
  'plugin:published': [info: { name: string; version: string }];
  'installation:changed': [info: { workspaceId: string; installationId: string; change: 'installed' | 'updated' | 'uninstalled' }];
  'schedule:fired': [info: { scheduleId: string; occurrenceId: string; idempotencyKey: string; trigger: string; attempt: number }];
  /** A plugin's schedules (or hooks) changed: the scheduler looks again. */
  'schedules:changed': [];
  'occurrence:finished': [info: { scheduleId: string; occurrenceId: string; idempotencyKey: string; status: string; runId: string | null; attempt: number }];
}

export class HostEvents extends EventEmitter<HostEventMap> {
  /** Resolves with the first event of `name` that `match` accepts. */
  waitFor<K extends keyof HostEventMap>(name: K, match: (...args: HostEventMap[K]) => boolean = () => true): Promise<HostEventMap[K]> {
    return new Promise((resolve) => {
      const listener = (...args: HostEventMap[K]) => {
        if (!match(...args)) return;
        this.off(name, listener as never);
        resolve(args);
      };
      this.on(name, listener as never);
    });
  }
}
