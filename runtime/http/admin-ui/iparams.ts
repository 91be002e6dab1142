// Installation parameters as form fields, from the manifest's iparams, and back. Secure ones
// (and password-type ones) are write-only: a password field that is never filled in, showing
// only whether a value is set; left blank it keeps the stored value.
import type { IparamOption, IparamSpec } from '../../packages/iparams.ts';
import { html, type SafeHtml } from './html.ts';

const INPUT_TYPES: Partial<Record<IparamSpec['type'], string>> = {
  text: 'text', number: 'number', email: 'email', url: 'url', phone_number: 'tel', date: 'date', password: 'password',
};

export const writeOnly = (spec: IparamSpec) => spec.secure || spec.type === 'password';
const fieldName = (name: string) => `ip.${name}`;
const fieldId = (name: string) => `ip-${name}`;

function valueText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : String(value);
}

function field(name: string, spec: IparamSpec, value: unknown, set: boolean, editing: boolean): SafeHtml {
  const id = fieldId(name);
  const required = spec.required && !(writeOnly(spec) && set) && spec.type !== 'checkbox' ? html` required` : '';
  const label = html`<label for="${id}">${spec.displayName ?? name}${spec.required ? ' *' : ''}${writeOnly(spec) && set ? html` <span class="badge good">set</span>` : ''}</label>`;
  const hint = html`${spec.description ? html`<div class="hint">${spec.description}</div>` : ''}${writeOnly(spec)
    ? html`<div class="hint">Write-only: ${set || editing ? 'leave blank to keep the stored value' : 'it is never shown again once saved'}.</div>` : ''}`;
  const options = (selected: (o: IparamOption) => boolean) => (spec.options ?? []).map((o) => html`<option value="${String(o)}"${selected(o) ? html` selected` : ''}>${String(o)}</option>`);
  let input: SafeHtml;
  if (writeOnly(spec)) {
    input = html`<input type="password" id="${id}" name="${fieldName(name)}" autocomplete="new-password"${required}>`;
  } else if (spec.type === 'paragraph') {
    input = html`<textarea id="${id}" name="${fieldName(name)}"${required}>${valueText(value)}</textarea>`;
  } else if (spec.type === 'checkbox') {
    input = html`<input type="checkbox" id="${id}" name="${fieldName(name)}" value="true"${value === true ? html` checked` : ''}>`;
  } else if (spec.type === 'dropdown') {
    input = html`<select id="${id}" name="${fieldName(name)}"${required}><option value="">—</option>${options((o) => o === value)}</select>`;
  } else if (spec.type === 'multiselect') {
    const chosen = Array.isArray(value) ? value : [];
    input = html`<select id="${id}" name="${fieldName(name)}" multiple${required}>${options((o) => chosen.includes(o))}</select>`;
  } else {
    input = html`<input type="${INPUT_TYPES[spec.type] ?? 'text'}" id="${id}" name="${fieldName(name)}" value="${valueText(value)}"${spec.type === 'number' ? html` step="any"` : ''}${required}>`;
  }
  return html`<div>${label}${input}${hint}</div>`;
}

/** The fields for a manifest's iparams; `values` are the shown (non-secure) ones, `secureSet` the write-only ones that hold a value. */
export function iparamFields(specs: Record<string, IparamSpec>, values: Record<string, unknown>, secureSet: string[], editing: boolean): SafeHtml {
  const names = Object.keys(specs);
  if (names.length === 0) return html`<p class="hint">This plugin version has no installation parameters.</p>`;
  return html`${names.map((n) => field(n, specs[n]!, writeOnly(specs[n]!) ? undefined : (values[n] ?? (editing ? undefined : specs[n]!.default)), secureSet.includes(n), editing))}`;
}

const optionOf = (spec: IparamSpec, text: string): unknown => (spec.options ?? []).find((o) => String(o) === text) ?? text;

/**
 * The iparams a form gave. Blank fields are left out when installing (so defaults apply) and,
 * when editing, clear optional values, except write-only ones, whose blank keeps the stored value.
 */
export function iparamsFromForm(specs: Record<string, IparamSpec>, form: URLSearchParams, editing: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const key = fieldName(name);
    if (spec.type === 'checkbox') {
      out[name] = form.get(key) === 'true';
      continue;
    }
    if (spec.type === 'multiselect') {
      const chosen = form.getAll(key).map((t) => optionOf(spec, t));
      if (chosen.length > 0 || editing) out[name] = chosen;
      continue;
    }
    const raw = form.get(key);
    const text = writeOnly(spec) ? (raw ?? '') : (raw ?? '').trim();
    if (text === '') {
      if (editing && !writeOnly(spec)) out[name] = null;
      continue;
    }
    if (spec.type === 'number') out[name] = Number.isFinite(Number(text)) ? Number(text) : text;
    else if (spec.type === 'dropdown') out[name] = optionOf(spec, text);
    else out[name] = text;
  }
  return out;
}
