// Installation parameters (Freshworks "iparams"): the values a workspace admin gives when
// installing a plugin, checked against the types plugin.json declares. Secure values are
// split out here so the caller can encrypt them; they are write-only from then on.

import { PlughostError } from '../errors.ts';

export const IPARAM_TYPES = [
  'text', 'paragraph', 'number', 'email', 'url', 'phone_number',
  'dropdown', 'multiselect', 'checkbox', 'date', 'password',
] as const;

export type IparamType = (typeof IPARAM_TYPES)[number];
export type IparamOption = string | number;

export interface IparamSpec {
  type: IparamType;
  secure: boolean;
  required: boolean;
  default?: unknown;
  options?: IparamOption[];
  displayName?: string;
  description?: string;
}

export interface IparamProblem {
  path: string;
  message: string;
}

export interface ValidateIparamsOptions {
  /** A PATCH: only the given names change, so missing required ones are not problems. */
  partial?: boolean;
  /** Values already stored; a required iparam stored earlier need not be given again. */
  existing?: Record<string, unknown>;
}

export interface ValidatedIparams {
  plain: Record<string, unknown>;
  /** Secure values, still in clear text: the caller encrypts them before storing. */
  secure: Record<string, unknown>;
}

// Bounds keep one installation's settings from bloating every run payload.
const STRING_MAX: Record<string, number> = { text: 1000, password: 1000, paragraph: 10000 };
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_RE = /^\+?[0-9 ().-]{3,32}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const IDENTIFIER_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const OPEN_VALUE_MAX = 10_000;

function optionList(options: readonly IparamOption[] | undefined): string {
  return (options ?? []).map((o) => JSON.stringify(o)).join(', ');
}

function isValidDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** Why `value` does not fit an iparam of this type, or null when it does. */
export function checkIparamValue(spec: Pick<IparamSpec, 'type' | 'options'>, value: unknown): string | null {
  switch (spec.type) {
    case 'text':
    case 'paragraph':
    case 'password': {
      const max = STRING_MAX[spec.type] ?? 1000;
      return typeof value === 'string' && value.length <= max ? null : `must be a string of at most ${max} characters`;
    }
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'must be a number';
    case 'email':
      return typeof value === 'string' && value.length <= 254 && EMAIL_RE.test(value)
        ? null : 'must be an email address such as ada@example.com';
    case 'url': {
      const ok = typeof value === 'string' && value.length <= 2048 && URL.canParse(value)
        && ['http:', 'https:'].includes(new URL(value).protocol);
      return ok ? null : 'must be an http:// or https:// URL';
    }
    case 'phone_number': {
      const ok = typeof value === 'string' && PHONE_RE.test(value) && (value.match(/\d/g)?.length ?? 0) >= 3;
      return ok ? null : 'must be a phone number such as +1 555 0100';
    }
    case 'dropdown':
      return (spec.options ?? []).includes(value as IparamOption) ? null : `must be one of ${optionList(spec.options)}`;
    case 'multiselect': {
      const ok = Array.isArray(value) && new Set(value).size === value.length
        && value.every((v) => (spec.options ?? []).includes(v as IparamOption));
      return ok ? null : `must be a list of distinct values from ${optionList(spec.options)}`;
    }
    case 'checkbox':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'date':
      return typeof value === 'string' && isValidDate(value) ? null : 'must be a date in YYYY-MM-DD form, such as 2024-03-31';
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function iparamPath(name: string): string {
  return IDENTIFIER_RE.test(name) ? `iparams.${name}` : `iparams[${JSON.stringify(name)}]`;
}

/** An empty string or list does not satisfy `required`: the form would show it blank. */
function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

function fail(problems: IparamProblem[]): never {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const listed = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new PlughostError('INVALID_IPARAMS', `The installation parameters have ${count}: ${listed}.`, { details: problems });
}

/**
 * Checks `input` against the manifest's iparams and applies defaults. `null` clears an
 * optional value. Throws INVALID_IPARAMS listing every problem by `iparams.<name>` path.
 */
export function validateIparams(
  manifest: { iparams: Record<string, IparamSpec>; openIparams?: boolean },
  input: unknown,
  options: ValidateIparamsOptions = {},
): ValidatedIparams {
  const partial = options.partial ?? false;
  const existing = options.existing ?? {};
  if (input !== undefined && input !== null && !isPlainObject(input)) {
    fail([{ path: 'iparams', message: 'must be an object that maps parameter names to values' }]);
  }
  const given: Record<string, unknown> = input ?? {};
  const specs = manifest.iparams;
  const problems: IparamProblem[] = [];
  const result: ValidatedIparams = { plain: {}, secure: {} };

  for (const [name, spec] of Object.entries(specs)) {
    const has = Object.hasOwn(given, name);
    let value = has ? given[name] : undefined;
    if (!has && !partial && !Object.hasOwn(existing, name) && spec.default !== undefined) value = spec.default;
    if (spec.required && isBlank(value)) {
      // A PATCH may leave out a required value, but it may not clear one.
      const missingIsFine = !has && (partial || !isBlank(existing[name]));
      if (!missingIsFine) problems.push({ path: iparamPath(name), message: 'is required; give it a value' });
      continue;
    }
    if (value === undefined) continue;
    if (value !== null) {
      const problem = checkIparamValue(spec, value);
      if (problem !== null) {
        problems.push({ path: iparamPath(name), message: problem });
        continue;
      }
    }
    (spec.secure ? result.secure : result.plain)[name] = value;
  }
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(specs, name)) continue;
    if (!manifest.openIparams) {
      problems.push({ path: iparamPath(name), message: 'is not declared in plugin.json; remove it or declare it under iparams' });
    } else if (!IDENTIFIER_RE.test(name) || name.length > 64) {
      problems.push({ path: iparamPath(name), message: 'must be a JavaScript identifier of at most 64 characters' });
    } else if (given[name] !== null && given[name] !== undefined) {
      // Undeclared (a custom installation page's): kept write-only, as its type is unknown.
      const size = JSON.stringify(given[name])?.length ?? 0;
      if (size > OPEN_VALUE_MAX) problems.push({ path: iparamPath(name), message: `is ${size} characters of JSON; at most ${OPEN_VALUE_MAX}` });
      else result.secure[name] = given[name];
    }
  }
  if (problems.length > 0) fail(problems);
  return result;
}

/**
 * What may be shown of stored iparams: declared, non-secure values only (undeclared keys
 * are dropped too, since a later version may have declared them secure), and the names of
 * the secure ones that hold a value.
 */
export function redactIparams(
  manifest: { iparams: Record<string, IparamSpec> },
  values: Record<string, unknown>,
): { values: Record<string, unknown>; secureSet: string[] } {
  const shown: Record<string, unknown> = {};
  const secureSet: string[] = [];
  for (const [name, spec] of Object.entries(manifest.iparams)) {
    if (!Object.hasOwn(values, name)) continue;
    const value = values[name];
    if (!spec.secure) shown[name] = value;
    else if (value !== undefined && value !== null) secureSet.push(name);
  }
  return { values: shown, secureSet };
}
