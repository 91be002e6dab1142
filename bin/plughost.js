#!/usr/bin/env -S node --no-node-snapshot
// The `plughost` command: checks the Node.js version, then runs the command line (TypeScript,
// which Node 24 runs as it is).
import './preflight.js';

await import('../runtime/cli/plughost.ts');
