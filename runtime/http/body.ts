// Request bodies, always bounded. JSON and form bodies are parsed; a malformed one is a 400
// with a stable code, an oversized one a 413, before anything is stored.
import * as contentType from 'content-type';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { z } from 'zod';
import { PlughostError } from '../errors.ts';

export async function readRaw(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw new PlughostError('BODY_TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit}`);
  try {
    return await getRawBody(ctx.req, { limit, length: Number.isFinite(declared) ? declared : undefined });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw new PlughostError('BODY_TOO_LARGE', `the body is over the ${limit}-byte limit`, { cause: err });
    throw new PlughostError('INVALID_BODY', 'the request body could not be read completely', { cause: err });
  }
}

export function mediaType(ctx: Context): string | undefined {
  const header = ctx.get('content-type');
  if (!header) return undefined;
  try {
    return contentType.parse(header).type;
  } catch (err) {
    throw new PlughostError('UNSUPPORTED_MEDIA_TYPE', `the content type ${JSON.stringify(header)} is malformed`, { cause: err });
  }
}

/**
 * The deepest nesting of arrays and objects a JSON body may have. Plenty for real payloads
 * (serde_json stops at 128, .NET at 64, Jackson at 1000), and far below where the host's own
 * recursive steps (JSON.stringify of the run's payload, copies into the isolate) would run out
 * of stack, which a body a few thousand levels deep did.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Where `raw` first opens more than `max` arrays and objects at once, or -1. One pass over the
 * bytes, no recursion: brackets inside strings (escapes honoured) do not count. UTF-8 needs no
 * decoding here, since no byte of a multi-byte character is below 0x80.
 */
function jsonTooDeepAt(raw: Uint8Array, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (inString) {
      if (b === 0x5c) i++; // a backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return i;
    } else if (b === 0x5d || b === 0x7d) {
      if (--depth < 0) return -1; // unbalanced: JSON.parse reports it
    }
  }
  return -1;
}

function parseJson(raw: Buffer): unknown {
  const at = jsonTooDeepAt(raw, MAX_JSON_DEPTH);
  if (at >= 0) throw new PlughostError('INVALID_JSON', `the body nests too deep: arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at byte ${at})`);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new PlughostError('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** A JSON body for the admin API; empty means `{}`. */
export async function jsonBody(ctx: Context, limit: number): Promise<unknown> {
  const raw = await readRaw(ctx, limit);
  if (raw.length === 0) return {};
  const type = mediaType(ctx);
  if (type !== undefined && type !== 'application/json' && !type.endsWith('+json')) {
    throw new PlughostError('UNSUPPORTED_MEDIA_TYPE', `send the body as application/json, not ${type}`);
  }
  return parseJson(raw);
}

/** A plugin route's body: JSON and form bodies parsed, anything else as text; `raw` is the text as sent. */
export async function anyBody(ctx: Context, limit: number): Promise<{ parsed: unknown; raw: string }> {
  // No length and no chunked encoding: there is no body to read (most GETs).
  const bytes = ctx.get('content-length') === '' && ctx.get('transfer-encoding') === '' ? Buffer.alloc(0) : await readRaw(ctx, limit);
  const raw = bytes.toString('utf8');
  if (bytes.length === 0) return { parsed: ctx.method === 'GET' || ctx.method === 'HEAD' ? undefined : {}, raw };
  const type = mediaType(ctx);
  if (type === 'application/json' || type?.endsWith('+json')) return { parsed: parseJson(bytes), raw };
  if (type === 'application/x-www-form-urlencoded') return { parsed: queryObject(new URLSearchParams(raw)), raw };
  return { parsed: raw, raw };
}

/** URL parameters as an object; a repeated name becomes an array. */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of params) {
    const old = out[k];
    out[k] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
  }
  return { ...out };
}

/** Validates a body with zod, listing every problem by path. */
export function validate<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  throw new PlughostError('INVALID_BODY', `the body has ${details.length} problem(s): ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
}
