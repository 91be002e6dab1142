// Workspaces: creation with a validated id and IANA timezone.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './store/store.ts';

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false; // Intl throws RangeError for an unknown zone: that is the answer, not a failure
  }
}

// What a host product says of the account: its domain and region, as Freshworks payloads carry them.
const product = {
  domain: z.string().max(253).regex(/^(?!-)[a-z0-9-]{1,63}(\.(?!-)[a-z0-9-]{1,63})+$/i, 'must be a host name such as acme.freshdesk.com').nullable().optional(),
  region: z.string().regex(/^[A-Z]{2,16}$/, 'must be a region code such as US, EU or AU').nullable().optional(),
};

export const workspaceInput = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -').optional(),
  name: z.string().trim().min(1).max(200),
  timezone: z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as Europe/Rome').optional(),
  ...product,
}).strict();

/** Haplo's config data: names as Haplo plugins write them (`plugin_name:setting`), JSON values, at most 64 KiB in all. */
const CONFIG_MAX_BYTES = 64 * 1024;
const config = z.record(z.string().min(1).max(200), z.unknown())
  .refine((c) => Buffer.byteLength(JSON.stringify(c)) <= CONFIG_MAX_BYTES, `must be at most ${CONFIG_MAX_BYTES} bytes of JSON`);

// The zone is fixed at creation: schedules and hooks were planned in it.
export const workspaceChange = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  ...product,
  config: config.optional(),
}).strict();

export function createWorkspaces(store: Store, now: () => number) {
  return {
    async create(input: z.infer<typeof workspaceInput>) {
      const id = input.id ?? `ws-${randomBytes(6).toString('hex')}`;
      const ws = await store.workspaces.create({ id, name: input.name, timezone: input.timezone ?? 'UTC', createdAt: now(), domain: input.domain ?? null, region: input.region ?? null });
      return { ...ws, createdAt: new Date(ws.createdAt).toISOString() };
    },
  };
}
