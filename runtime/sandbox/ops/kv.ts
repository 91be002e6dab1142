// The `db.*` ops behind Freshworks' `$db`: a JSON key-value store per installation.
// Failures are `{status, message}` as Freshworks documents (400 invalid, 404 missing, 409 conflict).
// A write past the installation's storage quota (`limits.kvKeys`, `limits.kvBytes`) is refused
// by the store with PLUGIN_LIMIT (429, `details.limit` naming the quota) and writes nothing.
import type { KvQuota, KvTable } from '../../store/kv.ts';
import type { Ops } from '../types.ts';

export interface KvLimits { maxKeyLength: number; maxValueBytes: number }

const fail = (status: number, message: string) => Object.assign(new Error(message), { status });

const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

export function kvOps(kv: KvTable, limits: KvLimits, now: () => number, quota: KvQuota): Ops {
  const keyOf = (args: Record<string, unknown>) => {
    const key = args.key;
    if (typeof key !== 'string' || key.length === 0 || key.length > limits.maxKeyLength) {
      throw fail(400, `key must be a non-empty string of at most ${limits.maxKeyLength} characters`);
    }
    return key;
  };
  // Freshworks counts the key and the value together against the entry limit.
  const checkValue = (key: string, value: unknown) => {
    if (value === undefined) throw fail(400, 'value is required');
    const size = Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
    if (size > limits.maxValueBytes) throw fail(400, `key and value are ${size} bytes; the limit is ${limits.maxValueBytes}`);
  };
  return {
    async 'db.set'({ args, plugin }) {
      const key = keyOf(args);
      checkValue(key, args.value);
      const options = (args.options ?? {}) as { setIf?: string; ttl?: unknown };
      const at = now();
      // `ttl`: seconds the entry lives; without it, it lives until deleted.
      if (options.ttl !== undefined && (typeof options.ttl !== 'number' || !Number.isInteger(options.ttl) || options.ttl < 1 || options.ttl > MAX_TTL_SECONDS)) {
        throw fail(400, `ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`);
      }
      const expiresAt = typeof options.ttl === 'number' ? at + options.ttl * 1000 : null;
      if (options.setIf === 'not_exist') {
        if (!(await kv.insertIfAbsent(plugin.installationId, key, args.value, at, quota, expiresAt))) throw fail(409, `key ${key} exists`);
      } else if (options.setIf === 'exist') {
        await kv.update(plugin.installationId, key, at, quota, (old) => {
          if (old === undefined) throw fail(404, 'Record not found');
          return { value: args.value, result: undefined, expiresAt };
        });
      } else {
        await kv.set(plugin.installationId, key, args.value, at, quota, expiresAt);
      }
      return { Created: true };
    },
    async 'db.get'({ args, plugin }) {
      const value = await kv.get(plugin.installationId, keyOf(args), now());
      if (value === undefined) throw fail(404, 'Record not found');
      return value;
    },
    async 'db.delete'({ args, plugin }) {
      if (!(await kv.delete(plugin.installationId, keyOf(args), now()))) throw fail(404, 'Record not found');
      return { Deleted: true };
    },
    async 'db.update'({ args, plugin }) {
      const key = keyOf(args);
      const action = String(args.action);
      const attributes = args.attributes;
      if (!['set', 'increment', 'append', 'remove'].includes(action)) throw fail(400, 'action must be set, increment, append or remove');
      if (attributes === null || typeof attributes !== 'object') throw fail(400, 'attributes must be an object (or, for remove, an array of paths)');
      return kv.update(plugin.installationId, key, now(), quota, (stored) => {
        // A missing key is made by set, increment and append, as Freshworks' apps rely on
        // (an agent's first bookmark is an append); there is nothing to remove from it.
        if (stored === undefined && action === 'remove') throw fail(404, 'Record not found');
        const old = stored === undefined ? {} : stored;
        if (old === null || typeof old !== 'object' || Array.isArray(old)) throw fail(400, 'only object values can be updated');
        const value = applyUpdate(old as Record<string, unknown>, action, attributes);
        checkValue(key, value);
        return { value, result: { Updated: true } };
      });
    },
  };
}

// Attribute paths are dotted (`a.b.c`), as in Freshworks' update API.
function applyUpdate(old: Record<string, unknown>, action: string, attributes: object): Record<string, unknown> {
  const value = structuredClone(old);
  const paths = Array.isArray(attributes) ? attributes.map((p) => [String(p), undefined] as const) : Object.entries(attributes);
  for (const [path, arg] of paths) {
    const parts = path.split('.');
    if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) throw fail(400, `invalid attribute path ${path}`);
    let node: Record<string, unknown> = value;
    for (const part of parts.slice(0, -1)) {
      if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    const leaf = parts.at(-1)!;
    if (action === 'set') node[leaf] = arg;
    else if (action === 'remove') delete node[leaf];
    else if (action === 'increment') {
      if (typeof arg !== 'number' || (node[leaf] !== undefined && typeof node[leaf] !== 'number')) throw fail(400, `increment needs numbers at ${path}`);
      node[leaf] = ((node[leaf] as number | undefined) ?? 0) + arg;
    } else {
      const items = Array.isArray(arg) ? arg : [arg];
      if (node[leaf] !== undefined && !Array.isArray(node[leaf])) throw fail(400, `append needs an array at ${path}`);
      node[leaf] = [...((node[leaf] as unknown[] | undefined) ?? []), ...items];
    }
  }
  return value;
}
