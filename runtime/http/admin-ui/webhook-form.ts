// The scheduled-webhook form: its fields (kept as typed when a save fails) and the input it gives
// webhooks.create, webhooks.change and webhooks.preview (validated by the REST API's own
// schemas). The preview's times come from webhooks.preview, the code a save runs.
import { webhookChangeInput, webhookCreateInput, type Webhooks } from '../../schedule/webhooks.ts';
import { parseWall } from '../../schedule/zoned-time.ts';
import type { Workspace } from '../../store/workspaces.ts';
import { validate } from '../body.ts';
import { html, type SafeHtml } from './html.ts';

export const FREQUENCIES = ['hourly', 'daily', 'weekly', 'monthly'] as const;
const MISFIRES = ['coalesce', 'skip', 'all'] as const;
const OVERLAPS = ['skip', 'allow', 'queue'] as const;

/** The form's fields as text, as typed (or as stored, when editing). */
export interface WebhookFields {
  url: string; description: string; repeat: string; cron: string; start: string; timezone: string;
  active: boolean; retries: string; misfire: string; overlap: string; grace: string;
}

const text = (form: URLSearchParams, name: string) => (form.get(name) ?? '').trim();

export function fieldsFromForm(form: URLSearchParams): WebhookFields {
  return {
    url: text(form, 'url'), description: text(form, 'description'), repeat: text(form, 'repeat'), cron: text(form, 'cron'),
    start: text(form, 'start'), timezone: text(form, 'timezone'), active: form.get('active') === 'true', retries: text(form, 'retries'),
    misfire: text(form, 'misfire'), overlap: text(form, 'overlap'), grace: text(form, 'grace'),
  };
}

/** The fields of a stored webhook (webhooks.view's values). */
export function fieldsOf(view: ReturnType<Webhooks['view']>): WebhookFields {
  return {
    url: view.url, description: view.description, repeat: view.cron ? 'cron' : view.frequency ?? 'daily', cron: view.cron ?? '',
    start: view.start ?? '', timezone: view.timezone, active: view.isActive, retries: String(view.retries), misfire: view.misfire,
    overlap: view.overlap, grace: view.misfireGraceSeconds === null ? '' : String(view.misfireGraceSeconds),
  };
}

export function blankFields(ws: Workspace): WebhookFields {
  return { url: '', description: '', repeat: 'daily', cron: '', start: '', timezone: ws.timezone, active: true, retries: '3', misfire: 'coalesce', overlap: 'skip', grace: '' };
}

/** A whole number as a number; other text is passed on as text, so validation names the field. */
const number = (t: string): number | string | undefined => (t === '' ? undefined : /^-?\d{1,9}$/.test(t) ? Number(t) : t);
/** `2026-05-04T09:00` (a datetime-local field) as the API writes it, `2026-05-04 09:00`. */
const startText = (t: string) => t.replace('T', ' ');
/** A start as a datetime-local field shows it: a date alone is its midnight (else the field would show nothing, and a save would drop it). */
const startField = (t: string) => (/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00` : t.replace(' ', 'T'));
const TIMING = ['frequency', 'cron', 'start', 'timezone'];

/** The create input, validated by the REST API's schema. */
export function createInput(f: WebhookFields) {
  const cron = f.repeat === 'cron';
  return validate(webhookCreateInput, {
    url: f.url, description: f.description || undefined, frequency: cron ? undefined : f.repeat || undefined, cron: cron ? f.cron || undefined : undefined,
    start: f.start ? startText(f.start) : undefined, timezone: f.timezone || undefined, isActive: f.active,
    retries: number(f.retries), misfire: f.misfire || undefined, overlap: f.overlap || undefined, misfireGraceSeconds: number(f.grace),
  });
}

/**
 * The change input: only what differs from the stored webhook, so untouched timing keeps its next
 * run (webhooks.change recomputes it when frequency, cron, start or zone is given) and an
 * unchanged URL keeps the webhook's secret.
 */
export function changeInput(f: WebhookFields, stored: WebhookFields) {
  const cron = f.repeat === 'cron';
  const wanted: Record<string, unknown> = {
    url: f.url, description: f.description, frequency: cron ? null : f.repeat || null, cron: cron ? f.cron || null : null,
    start: f.start ? startText(f.start) : null, timezone: f.timezone, isActive: f.active, retries: number(f.retries),
    misfire: f.misfire, overlap: f.overlap, misfireGraceSeconds: number(f.grace) ?? null,
  };
  const was = changeOf(stored);
  // The same start written another way (`09:00` and `09:00:00`) is no change.
  const same = (k: string) => (k === 'start' && typeof wanted[k] === 'string' && typeof was[k] === 'string'
    ? parseWall(wanted[k] as string) !== undefined && parseWall(wanted[k] as string) === parseWall(was[k] as string) : wanted[k] === was[k]);
  // The timing fields go together: a change of one is a new timing, given whole.
  const timing = TIMING.some((k) => !same(k));
  return validate(webhookChangeInput, Object.fromEntries(Object.entries(wanted).filter(([k]) => !same(k) || (timing && TIMING.includes(k)))));
}

function changeOf(f: WebhookFields): Record<string, unknown> {
  const cron = f.repeat === 'cron';
  return {
    url: f.url, description: f.description, frequency: cron ? null : f.repeat, cron: cron ? f.cron : null, start: f.start ? startText(f.start) : null,
    timezone: f.timezone, isActive: f.active, retries: Number(f.retries), misfire: f.misfire, overlap: f.overlap, misfireGraceSeconds: f.grace === '' ? null : Number(f.grace),
  };
}

const options = (values: readonly string[], chosen: string, label: (v: string) => string = (v) => v) =>
  values.map((v) => html`<option value="${v}"${v === chosen ? html` selected` : ''}>${label(v)}</option>`);

/** The form's fields (without the form element and buttons). */
export function webhookFields(f: WebhookFields, ws: Workspace): SafeHtml {
  const start = startField(f.start);
  return html`<label for="wh-url">URL *</label>
<input type="text" id="wh-url" name="url" value="${f.url}" required maxlength="2000" placeholder="/workspaces/${ws.id}/namespace/route">
<div class="hint">A plugin route of this workspace (/workspaces/${ws.id}/{namespace}/{route}…), called in-process, or an absolute http(s) URL.</div>
<label for="wh-description">Description</label><input type="text" id="wh-description" name="description" value="${f.description}" maxlength="500">
<div class="row"><div><label for="wh-repeat">Repeats</label><select id="wh-repeat" name="repeat">${options([...FREQUENCIES, 'cron'], f.repeat, (v) => (v === 'cron' ? 'by cron expression' : v))}</select></div>
<div><label for="wh-cron">Cron expression</label><input type="text" id="wh-cron" name="cron" value="${f.cron}" maxlength="200" placeholder="30 6 * * 1"></div></div>
<div class="hint">The cron expression is used when "Repeats" is "by cron expression" (minute hour day month weekday, read in the webhook's zone).</div>
<div class="row"><div><label for="wh-start">Starts <span class="hint">(optional)</span></label><input type="datetime-local" id="wh-start" name="start" value="${start}" step="1"></div>
<div><label for="wh-timezone">Time zone</label><input type="text" id="wh-timezone" name="timezone" value="${f.timezone}" maxlength="64"></div></div>
<div class="hint">The start is a local time in the webhook's zone. Without one, a frequency starts now and a cron at its next match.</div>
<label><input type="checkbox" name="active" value="true"${f.active ? html` checked` : ''}> Active</label>
<details><summary>Retries and missed runs</summary>
<div class="row"><div><label for="wh-retries">Retries</label><input type="number" id="wh-retries" name="retries" value="${f.retries}" min="0" max="10"></div>
<div><label for="wh-misfire">Missed runs</label><select id="wh-misfire" name="misfire">${options(MISFIRES, f.misfire)}</select></div>
<div><label for="wh-overlap">Overlap</label><select id="wh-overlap" name="overlap">${options(OVERLAPS, f.overlap)}</select></div>
<div><label for="wh-grace">Misfire grace (s)</label><input type="number" id="wh-grace" name="grace" value="${f.grace}" min="0" max="86400"></div></div>
<div class="hint">Missed runs (the host was down): coalesce runs one, skip none, all every one. Overlap: what a run due while the last one goes on does. Grace blank: the host's default.</div>
</details>`;
}
