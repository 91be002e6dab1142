// The dev host's page, as `fdk run` serves one: the plugin running, the virtual clock, the last
// runs, and forms to fire an event, a hook or a clock move. No JavaScript. It lives at
// `/dev/<key>`, a random key printed at start (the page acts with the operator token, so the
// key is its credential); a POST from another origin is refused. Each form goes through the
// same REST endpoints `plughost trigger` calls, then answers 303 back to the page.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { html, trusted, type SafeHtml } from '../http/admin-ui/html.ts';
import type { Run } from '../store/runs.ts';
import { formatInstant, parseDuration } from './dev-tools.ts';

export interface DevPageState {
  /** The host's base URL, the dev workspace and its zone. */
  url: string;
  workspaceId: string;
  zone: string;
  operatorToken: string;
  /** The plugin folder (FDK apps' server/test_data/<event>.json prefill the event form). */
  dir: string;
  /** What is loaded now: name@version, the installation, the events it handles (onScheduledEvent first) and its hooks. */
  loaded(): { name: string; installationId: string; events: string[]; hooks: string[] } | undefined;
}

const MAX_FORM_BYTES = 64 * 1024;
const STATUS_MARK: Record<string, string> = { succeeded: '✔', failed: '✖', 'timed-out': '⧗', running: '…' };

async function formOf(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new Error(`the form is over ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function devPage(state: DevPageState, key: string) {
  const base = `/dev/${key}`;
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${state.url}${p}`, {
      method, headers: { authorization: `Bearer ${state.operatorToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, any>;
    if (!res.ok) throw new Error(`${json.error?.code ?? res.status}: ${json.error?.message ?? res.statusText}`);
    return json;
  };
  const testData = (event: string): string => {
    const file = path.join(state.dir, 'server', 'test_data', `${event}.json`);
    try {
      return fs.readFileSync(file, 'utf8').slice(0, 16 * 1024);
    } catch {
      return '{}';
    }
  };

  const page = async (flash: URLSearchParams): Promise<SafeHtml> => {
    const loaded = state.loaded();
    const clock = await api('GET', '/api/v1/dev/clock');
    const runs = ((await api('GET', `/api/v1/workspaces/${state.workspaceId}/runs?limit=15`)).data ?? []) as Run[];
    const events = loaded?.events ?? [];
    const message = flash.get('error') ? html`<p class="error">${flash.get('error')}</p>`
      : flash.get('ran') ? html`<p class="ok">ran ${flash.get('ran')}: ${flash.get('status')}</p>` : '';
    return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>plughost dev</title><style>${trusted('body{font:14px/1.4 system-ui,sans-serif;margin:1rem;max-width:60rem}form{margin:.5rem 0;padding:.5rem;border:1px solid #ccc}textarea{width:100%;height:5rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.2rem .4rem;text-align:left;overflow-wrap:anywhere}.error{color:#a00}.ok{color:#060}pre{white-space:pre-wrap;margin:0;font-size:12px}')}</style></head>
<body><h1>plughost dev</h1>
<p>${loaded ? html`<b>${loaded.name}</b> (installation ${loaded.installationId})` : 'nothing loaded yet: see the terminal'} · workspace ${state.workspaceId} (${state.zone}) · virtual clock ${formatInstant(Date.parse(String(clock.now)), state.zone)}</p>
${message}
${loaded && events.length > 0 ? html`
<form method="post" action="${base}/event"><b>Fire an event</b>
 <select name="event">${events.map((e) => html`<option>${e}</option>`)}</select>
 <label>data (JSON) <textarea name="data">${events[0] ? testData(events[0]) : '{}'}</textarea></label>
 <button>Fire</button></form>` : ''}
${loaded && loaded.hooks.length > 0 ? html`<form method="post" action="${base}/hook"><b>Run a hook</b>
 <select name="hook">${loaded.hooks.map((hk) => html`<option>${hk}</option>`)}</select>
 <label>at (ISO, optional) <input name="at" placeholder="2026-06-10T06:00:00+02:00"></label> <button>Run</button></form>` : ''}
<form method="post" action="${base}/clock"><b>Move the clock</b>
 <label>advance <input name="advance" placeholder="1h, 30m, 1d"></label> or <label>set to <input name="set" placeholder="2026-06-10T06:00:00Z"></label>
 <button>Move</button></form>
<h2>Last runs</h2><table><tr><th>started</th><th>kind</th><th>target</th><th>status</th></tr>
${runs.map((r) => html`<tr><td title="${new Date(r.startedAt).toISOString()}">${formatInstant(r.startedAt, state.zone)}</td><td>${r.kind}</td><td>${r.target}</td>
<td>${STATUS_MARK[r.status] ?? ''} ${r.status}${r.error ? html`<pre>${r.error.message.split('\n')[0]}</pre>` : ''}</td></tr>`)}</table>
</body></html>`;
  };

  const act = async (what: string, form: URLSearchParams): Promise<URLSearchParams> => {
    const loaded = state.loaded();
    const inst = `/api/v1/workspaces/${state.workspaceId}/installations/${loaded?.installationId}`;
    if (what === 'clock') {
      const body = form.get('set') ? { set: form.get('set') } : { advance: parseDuration(form.get('advance') ?? '') };
      const moved = await api('POST', '/api/v1/dev/clock', body);
      return new URLSearchParams({ ran: `the clock to ${moved.now}`, status: `${(moved.runs ?? []).length} runs` });
    }
    if (!loaded) throw new Error('nothing is loaded: fix the plugin (see the terminal) first');
    if (what === 'event') {
      const event = form.get('event') ?? 'onScheduledEvent';
      let data: unknown;
      try {
        data = JSON.parse(form.get('data') || '{}');
      } catch {
        throw new Error('data is not JSON');
      }
      const r = await api('POST', `${inst}/events/${encodeURIComponent(event)}`, { data });
      return new URLSearchParams({ ran: `${event} (${r.run.id})`, status: r.run.status });
    }
    const hook = form.get('hook') ?? '';
    const at = form.get('at');
    const r = await api('POST', `${inst}/hooks/${encodeURIComponent(hook)}`, at ? { at } : {});
    return new URLSearchParams({ ran: `${hook} (${r.run.id})`, status: r.run.status });
  };

  /** Takes `/dev/<key>…` requests; others are not its own (undefined). */
  return (req: http.IncomingMessage): http.RequestListener | undefined => {
    const url = new URL(req.url ?? '/', 'http://dev');
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return undefined;
    return (rq, rs) => {
      const send = (status: number, body: string, headers: Record<string, string> = {}) => {
        rs.writeHead(status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
        rs.end(body);
      };
      void (async () => {
        try {
          if (rq.method === 'GET' && url.pathname === base) {
            send(200, (await page(url.searchParams)).text, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" });
            return;
          }
          const what = url.pathname.slice(base.length + 1);
          if (rq.method !== 'POST' || !['event', 'hook', 'clock'].includes(what)) { send(404, 'not found'); return; }
          const origin = rq.headers.origin;
          if (origin !== undefined && origin !== 'null' && new URL(origin).host !== rq.headers.host) { send(403, 'cross-origin form posts are refused'); return; }
          let flash: URLSearchParams;
          try {
            flash = await act(what, await formOf(rq));
          } catch (err) {
            flash = new URLSearchParams({ error: (err as Error).message.slice(0, 500) });
          }
          send(303, '', { location: `${base}?${flash}` });
        } catch (err) {
          send(500, `the dev page failed: ${(err as Error).message}`);
        }
      })();
    };
  };
}
