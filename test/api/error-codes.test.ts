// The stable error codes (runtime/errors.ts): each has an HTTP status and a doc line, a
// PlughostError takes its status from the table, and, once README.md carries the error-code
// table (a line starting with "| `INVALID_JSON`"), every code is documented there with the
// same status and the table names no code the host does not have.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PlughostError, errorCodes, type ErrorCode } from '../../runtime/errors.ts';

const codes = Object.keys(errorCodes) as ErrorCode[];
const readmePath = path.join(import.meta.dirname, '../../README.md');

test('every error code has an HTTP error status and a doc line', () => {
  assert.ok(codes.length >= 20, `only ${codes.length} codes`);
  for (const code of codes) {
    const entry = errorCodes[code];
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
    assert.deepEqual(Object.keys(entry).sort(), ['doc', 'status'], code);
    assert.ok(Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599, `${code}: status ${entry.status}`);
    assert.equal(typeof entry.doc, 'string', code);
    assert.ok(entry.doc.trim().length >= 10, `${code}: doc line too short: ${JSON.stringify(entry.doc)}`);
    assert.ok(!entry.doc.includes('\n'), `${code}: the doc is one line`);
  }
});

test('the statuses the SPEC and the API tests rely on', () => {
  const expected: Partial<Record<ErrorCode, number>> = {
    INVALID_JSON: 400, INVALID_BODY: 400, INVALID_QUERY: 400, UNSUPPORTED_MEDIA_TYPE: 415, BODY_TOO_LARGE: 413,
    UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405,
    WORKSPACE_NOT_FOUND: 404, PLUGIN_NOT_FOUND: 404, INSTALLATION_NOT_FOUND: 404, ROUTE_NOT_FOUND: 404, RECORD_NOT_FOUND: 404, RUN_NOT_FOUND: 404,
    WORKSPACE_EXISTS: 409, VERSION_EXISTS: 409, NAMESPACE_TAKEN: 409,
    INVALID_MANIFEST: 422, INVALID_ARCHIVE: 400, PACKAGE_TOO_LARGE: 413, INVALID_IPARAMS: 422,
    PLUGIN_ERROR: 500, PLUGIN_TIMEOUT: 504, INTERNAL: 500, STORE_UNAVAILABLE: 503,
  };
  for (const [code, status] of Object.entries(expected)) {
    assert.ok(Object.hasOwn(errorCodes, code), `${code} is missing from errorCodes`);
    assert.equal(errorCodes[code as ErrorCode].status, status, code);
  }
  // Every *_NOT_FOUND is a 404, every *_EXISTS / *_TAKEN a 409.
  for (const code of codes) {
    if (code.endsWith('_NOT_FOUND')) assert.equal(errorCodes[code].status, 404, code);
    if (code.endsWith('_EXISTS') || code.endsWith('_TAKEN')) assert.equal(errorCodes[code].status, 409, code);
  }
});

// 5xx codes whose messages describe the caller's own request (an outbound call, a send, the
// store being down) are shown to the caller; every other 5xx hides its message.
const EXPOSED_5XX = ['EGRESS_FAILED', 'SEND_FAILED', 'WEBHOOK_FAILED', 'STORE_UNAVAILABLE', 'STORE_FULL', 'SCHEDULER_STALLED'];

test('a PlughostError takes its status from the table and exposes client errors only', () => {
  for (const code of codes) {
    const err = new PlughostError(code, 'message');
    assert.equal(err.code, code);
    assert.equal(err.status, errorCodes[code].status, code);
    const expectedExpose = errorCodes[code].status < 500 || code.startsWith('PLUGIN_') || EXPOSED_5XX.includes(code);
    assert.equal(err.expose, expectedExpose, code);
  }
  assert.equal(new PlughostError('INTERNAL', 'secret cause').expose, false);
});

/** The README's error-code table as code → the row's cells, or null when it has none yet. */
function readmeTable(): Map<string, string[]> | null {
  if (!fs.existsSync(readmePath)) return null;
  const lines = fs.readFileSync(readmePath, 'utf8').split(/\r?\n/);
  if (!lines.some((line) => line.startsWith('| `INVALID_JSON`'))) return null;
  const rows = new Map<string, string[]>();
  for (const line of lines) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*)$/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `README lists ${m[1]} twice`);
    rows.set(m[1]!, m[2]!.split('|').map((cell) => cell.trim()).filter(Boolean));
  }
  return rows;
}

test('README.md documents every error code with its status, once it has the table', () => {
  const table = readmeTable();
  if (table === null) {
    // No table yet: the doc lines in errorCodes are the documentation (checked above).
    for (const code of codes) assert.ok(errorCodes[code].doc.length > 0, code);
    return;
  }
  const missing = codes.filter((code) => !table.has(code));
  assert.deepEqual(missing, [], `README.md's error-code table leaves out: ${missing.join(', ')}`);
  const unknown = [...table.keys()].filter((code) => !Object.hasOwn(errorCodes, code));
  assert.deepEqual(unknown, [], `README.md's error-code table names codes runtime/errors.ts does not have: ${unknown.join(', ')}`);
  for (const code of codes) {
    const cells = table.get(code)!;
    assert.ok(cells.some((cell) => cell.replace(/`/g, '') === String(errorCodes[code].status)),
      `README.md gives ${code} no status cell of ${errorCodes[code].status}: | ${cells.join(' | ')} |`);
    assert.ok(cells.some((cell) => /[a-z]{3}/.test(cell)), `README.md gives ${code} no description`);
  }
});
