#!/usr/bin/env -S node --no-node-snapshot
// The `plughost` command: checks the Node.js version, then runs the command line: the
// compiled dist/ of an installed package (Node does not strip types under node_modules), or
// the TypeScript itself in a checkout of the repository.
import fs from 'node:fs';
import './preflight.js';

const compiled = new URL('../dist/runtime/cli/plughost.js', import.meta.url);
await import(fs.existsSync(compiled) ? compiled.href : new URL('../runtime/cli/plughost.ts', import.meta.url).href);
