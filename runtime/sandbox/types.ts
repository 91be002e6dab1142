// Types shared across the sandbox: what it needs to know about a plugin installation,
// the host operations (ops) the guest may ask for, and what one invocation produces.
import type { ErrorCode } from '../errors.ts';
import type { PluginManifest } from '../packages/manifest.ts';
import type { LogLevel } from './run-log.ts';

export type PackageFiles = Map<string, Uint8Array>;

export interface SandboxPlugin {
  installationId: string;
  workspaceId: string;
  namespace: string;
  /** Changes whenever the code or settings the isolate was built from change. */
  revision: string;
  manifest: PluginManifest;
  files: PackageFiles;
  /** All installation parameters, secure ones decrypted (handed to event handlers). */
  iparams: Record<string, unknown>;
  /** The workspace as Haplo's `O.application` describes it (name, the product domain when set, config data). */
  workspace?: { name: string; domain: string | null; config: Record<string, unknown> };
}

export type InvocationKind = 'init' | 'route' | 'event' | 'hook';

/** One call from plugin code to a host capability. */
export interface OpCall {
  args: Record<string, unknown>;
  plugin: SandboxPlugin;
  /** Aborted when the invocation ends: outbound work still open is cancelled. */
  signal: AbortSignal;
  /** Epoch ms by which the invocation must finish. */
  deadline: number;
  log(level: LogLevel, text: string): void;
}

export type OpHandler = (call: OpCall) => Promise<unknown>;
/**
 * An op result with a body (the `http` op's): `value` goes to the guest as JSON and `body`, a
 * string, beside it as `value[key]`, copied as it is instead of escaped into JSON and parsed.
 */
export class WithBody {
  readonly value: Record<string, unknown>;
  readonly key: string;
  readonly body: string;
  /** Called once the body is delivered, or will never be: the bytes it held go back to their budget. */
  readonly release: () => void;
  constructor(value: Record<string, unknown>, key: string, body: string, release: () => void = () => undefined) {
    this.value = value;
    this.key = key;
    this.body = body;
    this.release = release;
  }
}
export type Ops = Record<string, OpHandler>;

export interface InvokeRequest {
  kind: 'route' | 'event' | 'hook';
  payload: unknown;
  /** Defaults to the manifest's limit. */
  timeoutMs?: number;
  /** Called the moment a route sends its response, before the run is over (its log may grow). */
  onResponse?: (response: RouteResponse) => void;
}

export interface RouteResponse { status: number; headers: Record<string, string>; body: Buffer }

export interface InvocationOutcome {
  status: 'succeeded' | 'failed' | 'timed-out';
  response?: RouteResponse;
  value?: unknown;
  /** `noRetry`: the plugin asked the scheduler not to retry (it threw `{noRetry: true}`). */
  error?: { code: ErrorCode; message: string; noRetry?: boolean; details?: unknown };
  log: string;
  startedAt: number;
  durationMs: number;
  /** The invocation never ran (its isolate died first); the sandbox runs it again once. */
  retryable?: boolean;
}

/** What loading a plugin's main module tells the host: the hooks and services it registered. */
export interface LoadInfo { hooks: string[]; services: string[] }

/** A Haplo service call arriving from plugin code (`O.service`), or made by the host. */
export interface ServiceRequest {
  /** `db`: a P.db call (runtime/haplo/plugin-db.ts); `background`: O.background.run or an O.httpClient request; `audit`: O.audit.write. */
  t: 'plan' | 'call' | 'db' | 'background' | 'audit';
  entry?: unknown;
  name: string;
  /** Installations already waiting on this chain of synchronous calls. */
  chain: string[];
  target?: string;
  args?: unknown;
}
/** Answers a plugin's service request; `caller` is its installation, `deadline` its run's. */
export type ServiceHandler = (caller: SandboxPlugin, request: ServiceRequest, deadline: number, log: (level: LogLevel, text: string) => void) => Promise<unknown>;

export interface ServiceResult { ok: boolean; value?: unknown; effects?: { collected?: unknown[]; httpRequest?: { url: string | null; method: string; headers: Record<string, string> } }; error?: { message?: string; code?: string } }
