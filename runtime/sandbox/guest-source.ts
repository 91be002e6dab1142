// Assembles the guest glue (the files under ./guest) into one strict-mode script. The files
// share one function scope, in this order; the last one returns `{dispatch, deliver}`, which
// only the host ever holds (as References): plugin code never sees them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const guestDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'guest');
const order = ['core.js', 'globals.js', 'modules.js', 'http-clients.js', 'freshworks.js', 'fdk-request.js', 'haplo.js', 'haplo-db.js', 'plughost-module.js', 'dispatch.js'];

let cached: string | undefined;

export function guestSource(): string {
  if (cached === undefined) {
    const parts = order.map((file) => `// ---- ${file}\n${fs.readFileSync(path.join(guestDir, file), 'utf8')}`);
    cached = `(function plughostGuest() {\n'use strict';\n${parts.join('\n')}\n})()`;
  }
  return cached;
}
