// The libraries Haplo gives every plugin as globals: Underscore (`_`) and XDate, read once from
// their npm packages and handed to a Haplo-format plugin's isolate when it loads.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let sources: Record<string, string> | undefined;

/** Name → source, evaluated as classic scripts in the isolate's global scope, in this order. */
export function haploLibraries(): Record<string, string> {
  sources ??= {
    underscore: readFileSync(require.resolve('underscore/underscore-umd.js'), 'utf8'),
    xdate: readFileSync(require.resolve('xdate'), 'utf8'),
  };
  return sources;
}
