// The admin UI's page frame (header, navigation, flash message, inline stylesheet) and the
// small pieces every page uses: tables that stack into cards on a phone, CSRF-carrying POST
// buttons, badges and zoned times.
import { createHash } from 'node:crypto';
import type { Principal } from '../../auth.ts';
import { formatInZone } from '../../schedule/zoned-time.ts';
import type { Workspace } from '../../store/workspaces.ts';
import { html, path, trusted, type HtmlValue, type SafeHtml } from './html.ts';
import type { Flash } from './session.ts';

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f5f6f8}
header{background:#1f2a3c;color:#fff;padding:.6rem 1.5rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header a{color:#dfe7f5;text-decoration:none}header a:hover{text-decoration:underline}
header .brand{font-weight:600;color:#fff}header .who{margin-left:auto;font-size:.85rem;color:#b9c4d6}
header form{display:inline}header button{background:none;border:1px solid #5d6b82;color:#dfe7f5}
nav.ws{background:#fff;border-bottom:1px solid #dde1e7;padding:.45rem 1.5rem;display:flex;gap:1.2rem;flex-wrap:wrap}
nav.ws a{color:#34517d;text-decoration:none}nav.ws a.on{font-weight:600;color:#1d2430;border-bottom:2px solid #34517d}
main{max-width:72rem;margin:1.2rem auto;padding:0 1.5rem}
h1{font-size:1.35rem;margin:.3rem 0 1rem}h2{font-size:1.05rem;margin:1.6rem 0 .6rem}
a{color:#2b5797}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7;margin-bottom:1rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f0f2f5;font-weight:600;font-size:.85rem}
td form,dd form,.actions form{display:inline-block;margin:0 .25rem .15rem 0}
section.card{background:#fff;border:1px solid #dde1e7;padding:.9rem 1.1rem;margin-bottom:1rem}
label{display:block;margin:.55rem 0 .15rem;font-weight:500}
.hint{color:#5e6878;font-size:.85rem}
input[type=text],input[type=password],input[type=number],input[type=email],input[type=url],input[type=tel],input[type=date],input[type=datetime-local],select,textarea{
 font:inherit;padding:.3rem .45rem;border:1px solid #b9c1cd;border-radius:3px;min-width:16rem;max-width:100%}
textarea{width:100%;min-height:7rem;font-family:ui-monospace,Menlo,Consolas,monospace}
button{font:inherit;padding:.25rem .75rem;border:1px solid #34517d;background:#34517d;color:#fff;border-radius:3px;cursor:pointer}
button.quiet{background:#fff;color:#34517d}button.danger{background:#a0302a;border-color:#a0302a}
.row{display:flex;gap:.6rem;align-items:end;flex-wrap:wrap}.row label{margin-top:0}
.flash{padding:.6rem .9rem;margin-bottom:1rem;border:1px solid;white-space:pre-wrap;overflow-wrap:anywhere}
.flash.notice{background:#eaf6ec;border-color:#9ccaa5}.flash.error{background:#fbeceb;border-color:#e0a29d}
.badge{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.8rem;background:#e6e9ee}
.badge.good{background:#dcefdf;color:#1e6130}.badge.bad{background:#f6dedc;color:#8a231c}.badge.warn{background:#fbf0d2;color:#7a5a07}
pre{background:#f7f8fa;border:1px solid #e1e4ea;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word;margin:.3rem 0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
td,dd{overflow-wrap:break-word}td code,dd code{overflow-wrap:anywhere}button{white-space:nowrap}
section.card>h2:first-child{margin-top:0}
button[disabled]{opacity:.45;cursor:not-allowed}
.secret{font-size:1rem;background:#fffbe6;border:1px dashed #c9a227;padding:.5rem;user-select:all}
details summary{cursor:pointer;margin:.6rem 0 .2rem;color:#34517d}
ol.times{margin:.3rem 0;padding-left:1.4rem}
@media (max-width:40rem){
 header,nav.ws{padding-left:.75rem;padding-right:.75rem}main{padding:0 .75rem}
 table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
 table.stack thead{display:none}
 table.stack tr{border-bottom:2px solid #dde1e7;padding:.35rem 0}
 table.stack td{border:0;padding:.15rem .6rem}table.stack td:empty{display:none}
 table.stack td[data-label]:not([data-label=""])::before{content:attr(data-label);display:block;font-size:.75rem;font-weight:600;color:#5e6878}
 dl{grid-template-columns:minmax(0,1fr)}dd{margin-bottom:.35rem}
 input[type=text],input[type=password],input[type=number],input[type=email],input[type=url],input[type=tel],input[type=date],input[type=datetime-local],select,textarea{min-width:0;width:100%}
 .row>div{flex:1 1 100%}
}
`;

/** The stylesheet's hash, for a Content-Security-Policy that allows it and no other style or script. */
export const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

export type Section = 'workspaces' | 'overview' | 'schedules' | 'runs' | 'queues' | 'tokens';

export interface PageContext {
  principal?: Principal | undefined;
  csrf?: string | undefined;
  flash?: Flash | undefined;
  workspace?: Workspace | undefined;
  section?: Section | undefined;
}

function navigation(pc: PageContext): SafeHtml {
  const ws = pc.workspace;
  if (!ws) return html``;
  const link = (section: Section, href: string, label: string) => html`<a href="${href}"${trusted(pc.section === section ? ' class="on"' : '')}>${label}</a>`;
  return html`<nav class="ws"><strong>${ws.name}</strong>
${link('overview', path`/admin/workspaces/${ws.id}`, 'Installations')}
${link('schedules', path`/admin/workspaces/${ws.id}/schedules`, 'Schedules')}
${link('runs', path`/admin/workspaces/${ws.id}/runs`, 'Run history')}
${link('queues', path`/admin/workspaces/${ws.id}/queues`, 'Message queues')}
${link('tokens', path`/admin/workspaces/${ws.id}/tokens`, 'Tokens and keys')}</nav>`;
}

/** A whole page. */
export function page(pc: PageContext, title: string, body: SafeHtml): string {
  const p = pc.principal;
  const who = p ? (p.kind === 'operator' ? 'operator' : `workspace ${p.workspaceId}`) : '';
  const account = p && pc.csrf ? html`<span class="who">signed in as ${who}</span>
<form method="post" action="/admin/logout">${csrfField(pc)}<button type="submit">Sign out</button></form>` : html``;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · plughost admin</title><style>${trusted(STYLE)}</style></head>
<body><header><a class="brand" href="/admin">plughost admin</a>${p ? html`<a href="/admin/workspaces">Workspaces</a>` : ''}${account}</header>
${navigation(pc)}
<main>${pc.flash ? html`<div class="flash ${pc.flash.kind}" role="${pc.flash.kind === 'error' ? 'alert' : 'status'}">${pc.flash.text}</div>` : ''}
<h1>${title}</h1>
${body}</main></body></html>`.text;
}

export function csrfField(pc: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${pc.csrf ?? ''}">`;
}

/** A one-button POST form; `disabled` (a reason) greys the button out and names why as its title. */
export function postButton(pc: PageContext, action: string, label: string, opts: { fields?: Record<string, string>; style?: 'quiet' | 'danger'; extra?: HtmlValue; disabled?: string } = {}): SafeHtml {
  const fields = Object.entries(opts.fields ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  const off = opts.disabled === undefined ? '' : html` disabled title="${opts.disabled}"`;
  return html`<form method="post" action="${action}">${csrfField(pc)}${fields}${opts.extra}<button type="submit"${trusted(opts.style ? ` class="${opts.style}"` : '')}${off}>${label}</button></form>`;
}

/**
 * A table whose rows become labelled cards on a narrow screen: each cell carries its column's
 * name (`data-label`), which the stylesheet shows above the cell when the header row is hidden.
 */
export function dataTable(columns: readonly string[], rows: ReadonlyArray<readonly HtmlValue[]>, empty: HtmlValue): SafeHtml {
  const body = rows.length
    ? rows.map((cells) => html`<tr>${cells.map((c, i) => html`<td data-label="${columns[i] ?? ''}">${c}</td>`)}</tr>`)
    : html`<tr><td colspan="${columns.length}" class="hint">${empty}</td></tr>`;
  return html`<table class="stack"><thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead><tbody>${body}</tbody></table>`;
}

export function errorBox(message: string): SafeHtml {
  return html`<div class="flash error" role="alert">${message}</div>`;
}

const GOOD = new Set(['succeeded', 'sent', 'active']);
const BAD = new Set(['failed', 'timed-out', 'inactive', 'paused', 'broken', 'revoked']);

export function badge(text: string): SafeHtml {
  const tone = GOOD.has(text) ? ' good' : BAD.has(text) ? ' bad' : text === 'running' || text === 'unsent' || text === 'sending' ? ' warn' : '';
  return html`<span class="badge${trusted(tone)}">${text}</span>`;
}

/** An instant as the wall time of `tz`, with the zone named; the UTC time (ISO 8601) is its title, shown on hover without script. */
export function zoned(instant: number | null | undefined, tz: string): SafeHtml {
  if (instant === null || instant === undefined) return html`<span class="hint">—</span>`;
  const utc = new Date(instant).toISOString();
  return html`<time datetime="${utc}" title="${utc}">${formatInZone(instant, tz)}</time> <span class="hint">${tz}</span>`;
}
