// The REST client the CLI's remote commands share: base URL and token from flags or
// PLUGHOST_URL / PLUGHOST_TOKEN, API errors turned into one-line messages, JSON answers and
// NDJSON streams (one object per line, handed over as each line arrives).
import type { Command } from 'commander';

export interface ClientOptions { url: string; token?: string | undefined }

export interface RequestBody { json?: unknown; bytes?: Uint8Array; type?: string }

export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'base URL of the host (PLUGHOST_URL)', process.env.PLUGHOST_URL ?? 'http://127.0.0.1:3000')
    .option('--token <token>', 'operator or workspace token (PLUGHOST_TOKEN)', process.env.PLUGHOST_TOKEN);
}

/** The response of a request the host accepted; a refusal throws its `CODE: message [details]`. */
async function request(opts: ClientOptions, method: string, path: string, body?: RequestBody, extra: { accept?: string; signal?: AbortSignal } = {}): Promise<Response> {
  if (!opts.token) throw new Error('no token: pass --token or set PLUGHOST_TOKEN (the operator token printed by `plughost serve`)');
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
  if (extra.accept) headers.accept = extra.accept;
  let payload: string | Uint8Array | undefined;
  if (body?.json !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body.json); }
  if (body?.bytes) { headers['content-type'] = body.type ?? 'application/octet-stream'; payload = body.bytes; }
  let res: Response;
  try {
    res = await fetch(new URL(path, opts.url), { method, headers, ...(payload === undefined ? {} : { body: payload }), ...(extra.signal ? { signal: extra.signal } : {}) });
  } catch (err) {
    if (extra.signal?.aborted) throw err;
    throw new Error(`cannot reach ${opts.url} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is \`plughost serve\` running?`);
  }
  if (!res.ok) {
    const parsed = parse(await res.text());
    const e = parsed?.error;
    const details = Array.isArray(e?.details) ? ` [${e.details.map((d: { path?: string; message?: string }) => `${d.path}: ${d.message}`).join('; ')}]` : '';
    throw new Error(e ? `${e.code}: ${e.message}${details}` : `HTTP ${res.status}`);
  }
  return res;
}

function parse(text: string): any {
  try { return text ? JSON.parse(text) : undefined; } catch { return text; }
}

export async function call(opts: ClientOptions, method: string, path: string, body?: RequestBody, signal?: AbortSignal): Promise<any> {
  const res = await request(opts, method, path, body, signal ? { signal } : {});
  return parse(await res.text());
}

/**
 * Asks for `application/x-ndjson` and calls `onLine` with each object as its line arrives.
 * A host that answers plain JSON instead (an older one) gives that one object.
 */
export async function callLines(opts: ClientOptions, method: string, path: string, body: RequestBody | undefined, onLine: (value: any) => void): Promise<void> {
  const res = await request(opts, method, path, body, { accept: 'application/x-ndjson' });
  if (!/ndjson/.test(res.headers.get('content-type') ?? '') || !res.body) {
    onLine(parse(await res.text()));
    return;
  }
  const decoder = new TextDecoder();
  let partial = '';
  for await (const chunk of res.body) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
  }
  const rest = partial + decoder.decode();
  if (rest.trim()) onLine(JSON.parse(rest));
}

/** The IANA zone of a workspace, to print its times in; also fails early on a workspace that does not exist. */
export async function workspaceZone(opts: ClientOptions, workspace: string): Promise<string> {
  const ws = await call(opts, 'GET', `/api/v1/workspaces/${encodeURIComponent(workspace)}`);
  return typeof ws?.timezone === 'string' ? ws.timezone : 'UTC';
}
