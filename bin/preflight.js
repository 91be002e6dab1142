// The Node.js check every entry point makes first (`node --import ./bin/preflight.js …`, and
// bin/plughost.js). Plain JavaScript on purpose: an older Node cannot load the TypeScript it
// guards, and would otherwise fail with ERR_UNKNOWN_FILE_EXTENSION instead of saying why.
export const NEEDED_MAJOR = 24;

/** The one-line reason `version` ("v20.20.2") cannot run plughost, or null when it can. */
export function nodeProblem(version) {
  const major = Number(/^v?(\d+)\./.exec(String(version))?.[1]);
  if (major >= NEEDED_MAJOR) return null;
  return `plughost needs Node.js ${NEEDED_MAJOR} LTS or later, and this is Node.js ${version}: install it (nvm install ${NEEDED_MAJOR}, as .nvmrc says, or https://nodejs.org/en/download) and run this again`;
}

// PLUGHOST_PREFLIGHT_NODE_VERSION stands in for the running version (the tests' older Node).
const problem = nodeProblem(process.env.PLUGHOST_PREFLIGHT_NODE_VERSION || process.version);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
