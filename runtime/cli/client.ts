// The REST client the CLI's remote commands share: base URL and token from flags or
// PLUGHOST_URL / PLUGHOST_TOKEN, and API errors turned into one-line messages.
import type { Command } from 'commander';

export interface ClientOptions { url: string; token?: string | undefined }

export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'base URL of the host (PLUGHOST_URL)', process.env.PLUGHOST_URL ?? 'http://127.0.0.1:3000')
    .option('--token <token>', 'operator or workspace token (PLUGHOST_TOKEN)', process.env.PLUGHOST_TOKEN);
}

export async function call(opts: ClientOptions, method: string, path: string, body?: { json?: unknown; bytes?: Uint8Array; type?: string }): Promise<any> {
  if (!opts.token) throw new Error('no token: pass --token or set PLUGHOST_TOKEN (the operator token printed by `plughost serve`)');
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
  let payload: string | Uint8Array | undefined;
  if (body?.json !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body.json); }
  if (body?.bytes) { headers['content-type'] = body.type ?? 'application/octet-stream'; payload = body.bytes; }
  let res: Response;
  try {
    res = await fetch(new URL(path, opts.url), { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  } catch (err) {
    throw new Error(`cannot reach ${opts.url} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is \`plughost serve\` running?`);
  }
  const text = await res.text();
  let parsed: any;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
  if (!res.ok) {
    const e = parsed?.error;
    const details = Array.isArray(e?.details) ? ` [${e.details.map((d: { path?: string; message?: string }) => `${d.path}: ${d.message}`).join('; ')}]` : '';
    throw new Error(e ? `${e.code}: ${e.message}${details}` : `HTTP ${res.status}`);
  }
  return parsed;
}
