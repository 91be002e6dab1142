// Installation parameters: each type, required against partial and existing values, the
// secure split and the redaction that keeps secure values write-only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../runtime/packages/manifest.ts';
import { redactIparams, validateIparams } from '../../runtime/packages/iparams.ts';
import { throwsWith } from './fixtures/expect-error.ts';

const manifest = parseManifest({
  name: 'todo-digest',
  version: '1.0.0',
  namespace: 'todo',
  iparams: {
    chatToken: { type: 'text', secure: true, required: true },
    room: { type: 'text', required: true },
    notes: { type: 'paragraph' },
    folderId: { type: 'number', default: 0 },
    contact: { type: 'email' },
    webhook: { type: 'url' },
    phone: { type: 'phone_number' },
    region: { type: 'dropdown', options: ['US', 'EU'], default: 'US' },
    days: { type: 'multiselect', options: ['mon', 'tue', 'wed'] },
    enabled: { type: 'checkbox', default: true },
    startOn: { type: 'date' },
    apiKey: { type: 'password', secure: true },
  },
});
const required = { chatToken: 't0k3n', room: 'general' };

test('valid values of every type pass, defaults fill the gaps and secure ones are split out', () => {
  const all = {
    ...required, notes: 'line 1\nline 2', folderId: 12, contact: 'ada@example.com', webhook: 'https://hooks.example.com/x',
    phone: '+1 (555) 010-0123', region: 'EU', days: ['mon', 'wed'], enabled: false, startOn: '2024-02-29', apiKey: 'k',
  };
  const { plain, secure } = validateIparams(manifest, all);
  assert.deepEqual(secure, { chatToken: 't0k3n', apiKey: 'k' });
  assert.deepEqual(plain, Object.fromEntries(Object.entries(all).filter(([k]) => k !== 'chatToken' && k !== 'apiKey')));
  assert.deepEqual(validateIparams(manifest, required), {
    plain: { room: 'general', folderId: 0, region: 'US', enabled: true },
    secure: { chatToken: 't0k3n' },
  });
});

test('wrong values of every type are reported together, by path', () => {
  const err = throwsWith(() => validateIparams(manifest, {
    ...required, notes: 5, folderId: '12', contact: 'ada', webhook: 'ftp://x.example.com', phone: 'call me',
    region: 'APAC', days: ['mon', 'mon'], enabled: 'yes', startOn: '2023-02-29', apiKey: 'x'.repeat(1001),
  }), 'INVALID_IPARAMS', ['iparams.notes', 'iparams.folderId', 'iparams.contact', 'iparams.webhook', 'iparams.phone',
    'iparams.region', 'iparams.days', 'iparams.enabled', 'iparams.startOn', 'iparams.apiKey']);
  assert.match(err.message, /^The installation parameters have 10 problems: iparams\.notes: /);
  throwsWith(() => validateIparams(manifest, { ...required, days: ['fri'], webhook: 'not a url', folderId: Number.NaN }),
    'INVALID_IPARAMS', ['iparams.folderId', 'iparams.webhook', 'iparams.days']);
});

test('required values must be given unless the call is partial or they are stored already', () => {
  throwsWith(() => validateIparams(manifest, {}), 'INVALID_IPARAMS', ['iparams.chatToken', 'iparams.room']);
  throwsWith(() => validateIparams(manifest, { room: '' }), 'INVALID_IPARAMS', ['iparams.chatToken', 'iparams.room']);
  assert.deepEqual(validateIparams(manifest, { room: 'ops' }, { partial: true }), { plain: { room: 'ops' }, secure: {} });
  const existing = { chatToken: 'stored', room: 'general' };
  assert.deepEqual(validateIparams(manifest, { notes: 'n' }, { existing }), {
    plain: { notes: 'n', folderId: 0, region: 'US', enabled: true },
    secure: {},
  });
  // A patch may leave a required value out, but not clear it.
  throwsWith(() => validateIparams(manifest, { room: null }, { partial: true, existing }), 'INVALID_IPARAMS', ['iparams.room']);
});

test('partial calls apply no defaults, and null clears an optional value', () => {
  assert.deepEqual(validateIparams(manifest, { notes: null, apiKey: null }, { partial: true }), {
    plain: { notes: null },
    secure: { apiKey: null },
  });
  assert.deepEqual(validateIparams(manifest, { folderId: 3 }, { existing: { ...required, region: 'EU' } }).plain, { folderId: 3, enabled: true });
});

test('undeclared names and non-object input are problems', () => {
  throwsWith(() => validateIparams(manifest, { ...required, roomId: 1, 'chat token': 'x' }), 'INVALID_IPARAMS',
    ['iparams.roomId', 'iparams["chat token"]']);
  for (const input of ['x', 3, [required]]) throwsWith(() => validateIparams(manifest, input), 'INVALID_IPARAMS', ['iparams']);
  assert.deepEqual(validateIparams(parseManifest({ name: 'n', version: '1.0.0', namespace: 'n' }), undefined), { plain: {}, secure: {} });
});

test('redaction drops secure and undeclared values and names the secure ones that are set', () => {
  const stored = { chatToken: 'secret', apiKey: null, room: 'general', folderId: 0, removedInThisVersion: 'x' };
  assert.deepEqual(redactIparams(manifest, stored), {
    values: { room: 'general', folderId: 0 },
    secureSet: ['chatToken'],
  });
  assert.deepEqual(redactIparams(manifest, {}), { values: {}, secureSet: [] });
});
