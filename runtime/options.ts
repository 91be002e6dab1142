// Host options, resolved once. Flags win over environment variables, which win over the
// defaults below. This is the only file that reads `process.env`; everything else takes the
// resolved, fully typed `HostOptions`.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { PlughostError } from './errors.ts';

export const defaults = {
  port: 3000,
  dataDir: './data',
  /** How long a shutdown lets in-flight HTTP requests and runs finish before cutting them. */
  drainMs: 30_000,
  sandbox: {
    memoryMb: 64,
    timeoutMs: 20_000,
    maxTimeoutMs: 60_000,
    /** Warm isolates kept at once; the least recently used is disposed past this. */
    maxIsolates: 100,
    /** Largest response body or handler result copied out of an isolate. */
    maxResultBytes: 8 * 1024 * 1024,
    maxLogBytes: 64 * 1024,
    /** Blank isolates prepared ahead so that a cold installation skips isolate start-up. */
    spareIsolates: 2,
  },
  http: {
    maxBodyBytes: 1024 * 1024,
    maxUploadBytes: 5 * 1024 * 1024,
    maxHeaders: 100,
  },
  egress: {
    maxResponseBytes: 10 * 1024 * 1024,
    timeoutMs: 15_000,
  },
  /** Freshworks' documented `$db` entry limits: keys of at most 60 characters, key and value together at most 40 KB. */
  kv: { maxKeyLength: 60, maxValueBytes: 40 * 1024 },
  /**
   * Budgets for what plugin code can make the host hold or do. Each one exceeded is a
   * `PLUGIN_LIMIT` error whose `details.limit` is the key below. Set with
   * `--limits key=value,…` or `PLUGHOST_LIMITS`.
   */
  limits: {
    /** Host operations (timers, fetches, $db, $schedule) one invocation may have pending at once (Haplo service calls are synchronous). */
    pendingOps: 1_000,
    /** Bytes of arguments (JSON) of the host operations one invocation has pending at once. */
    pendingOpBytes: 16 * 1024 * 1024,
    /** Outbound requests in flight per installation, and for the whole host. */
    outboundPerInstallation: 32,
    outboundHostWide: 512,
    /** Bytes of outbound request and response bodies in flight per installation, and for the whole host. */
    outboundBytesPerInstallation: 32 * 1024 * 1024,
    outboundBytesHostWide: 256 * 1024 * 1024,
    /** Messages (log lines, host operations) one invocation may send the host; past it the rest are dropped, and counted in its log. */
    guestMessages: 20_000,
    /** Invocations one installation may have running or queued at once: its share of the host. */
    invocationsPerInstallation: 64,
    /** Isolate memory for the whole host (MiB): each warm isolate counts its manifest's memoryMb. Default: half the machine's memory. */
    isolateMemoryMb: Math.max(256, Math.floor(os.totalmem() / 1024 / 1024 / 2)),
    /** `$db` keys and bytes (keys plus values) per installation. */
    kvKeys: 5_000,
    kvBytes: 50 * 1024 * 1024,
    /** Haplo P.db: tables per installation, rows in all of them, rows one select may return, bytes of one row's values. */
    dbTables: 50,
    dbRows: 100_000,
    dbSelectRows: 10_000,
    dbRowBytes: 256 * 1024,
    /** Haplo background jobs (O.background.run, O.httpClient requests) one installation may have waiting. */
    backgroundQueued: 1_000,
    /** Integration messages waiting in one queue, and the largest one. */
    queueMessages: 10_000,
    messageBytes: 256 * 1024,
  },
  schedules: {
    /** An occurrence later than this is a misfire (downtime), handled by the schedule's policy. */
    graceMs: 60_000,
    /** Most catch-up runs one schedule gets with `misfire: all`. */
    catchUpCap: 100,
    /** Occurrences one host runs at once. */
    concurrency: 16,
    /** A run's lease: the longest time limit plus this margin; a crashed run is retried after it. */
    leaseMarginMs: 30_000,
    backoffMs: 30_000,
    maxBackoffMs: 3_600_000,
    /** Longest sleep between passes, so schedules made by other hosts are seen. */
    pollMs: 5_000,
    batch: 200,
    /** A finished occurrence's outcome waits this long for others' while runs are in flight, so they are written together. */
    outcomeDelayMs: 50,
    /** Freshworks `$schedule` rules. */
    minLeadMs: 5 * 60_000,
    maxOneTime: 1000,
    maxRecurring: 1,
    minRepeatMinutes: 5,
    dataMaxBytes: 4096,
  },
};

const hostList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const egressMap = z.string().transform((s, ctx) => {
  const map: Record<string, string> = {};
  for (const pair of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const host = pair.slice(0, eq).trim().toLowerCase();
    const base = pair.slice(eq + 1).trim();
    if (eq <= 0 || !URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not host=http(s)://base-url` });
      continue;
    }
    map[host] = base;
  }
  return map;
});

const rawOptions = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(defaults.port),
  /** The address to listen on (`127.0.0.1`: this machine only); default every interface. */
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_%-]+$/, 'must be an IP address or host name such as 127.0.0.1').optional(),
  maxIsolates: z.coerce.number().int().min(1).max(100_000).default(defaults.sandbox.maxIsolates),
  spareIsolates: z.coerce.number().int().min(0).max(100).default(defaults.sandbox.spareIsolates),
  schedulerConcurrency: z.coerce.number().int().min(1).max(10_000).default(defaults.schedules.concurrency),
  data: z.string().min(1).default(defaults.dataDir),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres://').optional(),
  operatorToken: z.string().min(16, 'must be at least 16 characters').optional(),
  egressAllow: hostList.default([]),
  egressMap: egressMap.default({}),
  demo: z.union([z.boolean(), z.enum(['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off', ''])])
    .transform((v) => v === true || ['1', 'true', 'yes', 'on'].includes(String(v)))
    .default(false),
  secretKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes)').optional(),
  publicUrl: z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s):// URL').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds (fractions allowed). */
  drainTimeout: z.coerce.number().min(0).max(3600).default(defaults.drainMs / 1000),
  /** `key=value,…` over defaults.limits; every value a positive integer. */
  limits: z.string().transform((s, ctx) => {
    const out: Partial<Record<keyof typeof defaults.limits, number>> = {};
    for (const pair of s.split(',').map((x) => x.trim()).filter(Boolean)) {
      const [key, value] = pair.split('=').map((x) => x.trim());
      if (!key || !Object.hasOwn(defaults.limits, key)) {
        ctx.addIssue({ code: 'custom', message: `"${pair}": unknown limit; known: ${Object.keys(defaults.limits).join(', ')}` });
      } else if (!/^\d+$/.test(value ?? '') || Number(value) < 1) {
        ctx.addIssue({ code: 'custom', message: `"${pair}": the value must be a positive integer` });
      } else out[key as keyof typeof defaults.limits] = Number(value);
    }
    return out;
  }).optional(),
});

export type RawOptions = z.input<typeof rawOptions>;

export interface HostOptions {
  port: number;
  /** The address `serve` listens on; undefined: every interface. */
  host: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
  operatorToken: string | undefined;
  egressAllow: string[];
  egressMap: Record<string, string>;
  demo: boolean;
  /** Seals secure iparams; else `<data>/secret.key` (SQLite) or one kept in the database (PostgreSQL). */
  secretKey: string | undefined;
  /** The URL third parties reach this host at (Freshworks target URLs); else the address it listens on. */
  publicUrl: string | undefined;
  logLevel: string;
  /** Shutdown drain: how long in-flight requests and runs get before they are cut (ms). */
  drainMs: number;
  sandbox: typeof defaults.sandbox;
  http: typeof defaults.http;
  egress: typeof defaults.egress;
  kv: typeof defaults.kv;
  limits: typeof defaults.limits;
  schedules: typeof defaults.schedules;
}

const envNames: Record<keyof RawOptions, string> = {
  port: 'PORT',
  host: 'PLUGHOST_HOST',
  maxIsolates: 'PLUGHOST_MAX_ISOLATES',
  spareIsolates: 'PLUGHOST_SPARE_ISOLATES',
  schedulerConcurrency: 'PLUGHOST_SCHEDULER_CONCURRENCY',
  data: 'PLUGHOST_DATA',
  databaseUrl: 'DATABASE_URL',
  operatorToken: 'PLUGHOST_OPERATOR_TOKEN',
  egressAllow: 'PLUGHOST_EGRESS_ALLOW',
  egressMap: 'PLUGHOST_EGRESS_MAP',
  demo: 'PLUGHOST_DEMO',
  secretKey: 'PLUGHOST_SECRET_KEY',
  publicUrl: 'PLUGHOST_PUBLIC_URL',
  logLevel: 'PLUGHOST_LOG_LEVEL',
  drainTimeout: 'PLUGHOST_DRAIN_TIMEOUT',
  limits: 'PLUGHOST_LIMITS',
};

/** Flags (already parsed by the CLI) over environment over defaults. Throws INVALID_BODY-free usage errors. */
export function resolveOptions(
  flags: Partial<RawOptions> = {},
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Pick<HostOptions, 'sandbox' | 'http' | 'egress' | 'kv' | 'schedules' | 'limits'>> = {},
): HostOptions {
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(envNames) as Array<keyof RawOptions>) {
    const value = flags[key] ?? env[envNames[key]];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = rawOptions.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof RawOptions;
      return `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} (${envNames[key]}): ${i.message}`;
    });
    throw new PlughostError('INVALID_BODY', `invalid option: ${problems.join('; ')}`, { details: problems });
  }
  const o = parsed.data;
  return {
    port: o.port,
    host: o.host,
    dataDir: path.resolve(o.data),
    databaseUrl: o.databaseUrl,
    operatorToken: o.operatorToken,
    egressAllow: o.egressAllow,
    egressMap: o.egressMap,
    demo: o.demo,
    secretKey: o.secretKey,
    publicUrl: o.publicUrl,
    logLevel: o.logLevel,
    drainMs: Math.round(o.drainTimeout * 1000),
    sandbox: { ...defaults.sandbox, maxIsolates: o.maxIsolates, spareIsolates: o.spareIsolates, ...overrides.sandbox },
    http: { ...defaults.http, ...overrides.http },
    egress: { ...defaults.egress, ...overrides.egress },
    kv: { ...defaults.kv, ...overrides.kv },
    limits: { ...defaults.limits, ...o.limits, ...overrides.limits },
    schedules: { ...defaults.schedules, concurrency: o.schedulerConcurrency, ...overrides.schedules },
  };
}
