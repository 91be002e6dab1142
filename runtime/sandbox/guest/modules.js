// Guest CommonJS loader. `require` resolves, in order: the host modules (`zn-http`,
// `requestify`, `plughost`, even when the package vendors a copy), files of the plugin package
// (relative paths with `.js`/`.json`/`index.js`), then pure-JS packages under the package's own
// `node_modules`. Anything else
// throws an error naming the module. Sources arrive once, at init, as plain strings.

let packageFiles = ObjectCreate(null);
const moduleCache = new MapCtor();
const hostModules = new MapCtor();

function dirnameOf(p) {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function normalize(p) {
  const out = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (!out.length) return null; // escapes the package
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

function asFile(p) {
  if (p === null) return null;
  for (const candidate of [p, p + '.js', p + '.json']) {
    if (candidate in packageFiles) return candidate;
  }
  return null;
}

function asDirectory(p) {
  if (p === null) return null;
  const manifest = (p ? p + '/' : '') + 'package.json';
  if (manifest in packageFiles) {
    let main;
    try { main = jsonParse(packageFiles[manifest]).main; } catch { main = undefined; }
    if (typeof main === 'string') {
      const target = normalize((p ? p + '/' : '') + main);
      const found = asFile(target) || asFile(target === null ? null : target + '/index');
      if (found) return found;
    }
  }
  return asFile((p ? p + '/' : '') + 'index');
}

function resolveFrom(fromDir, specifier) {
  if (specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..') {
    const p = normalize((fromDir ? fromDir + '/' : '') + specifier);
    return asFile(p) || asDirectory(p);
  }
  if (specifier.startsWith('/')) return null;
  // Bare specifier: the package's own node_modules, walking up as Node does.
  let dir = fromDir;
  for (;;) {
    const p = normalize((dir ? dir + '/' : '') + 'node_modules/' + specifier);
    const found = asFile(p) || asDirectory(p);
    if (found) return found;
    if (!dir) return null;
    dir = dirnameOf(dir);
  }
}

function makeRequire(fromDir) {
  const require = function require(specifier) {
    if (typeof specifier !== 'string') throw new TypeError('require() takes a module name string');
    // The host's modules come before a vendored copy: a Zengine draft ships the real
    // requestify under node_modules, which needs Node's http and could never load here.
    if (hostModules.has(specifier)) return hostModules.get(specifier)();
    const file = resolveFrom(fromDir, specifier);
    if (file) return loadModule(file);
    const err = new ErrorCtor("Cannot find module '" + specifier + "': plugins can require their own files, pure-JS packages under their node_modules, and the host modules zn-http, requestify and plughost; Node built-ins are not available");
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  };
  require.resolve = (specifier) => resolveFrom(fromDir, specifier) || specifier;
  return require;
}

function loadModule(file) {
  const cached = moduleCache.get(file);
  if (cached) return cached.exports;
  const module = { id: file, filename: file, loaded: false, exports: {} };
  moduleCache.set(file, module);
  try {
    if (file.endsWith('.json')) {
      module.exports = jsonParse(packageFiles[file]);
    } else {
      // The wrapper returns the local `exports` binding as well, so that a module doing
      // `exports = {…}` (the Freshworks idiom) is honoured, not silently ignored.
      let wrapper;
      try {
        wrapper = indirectEval(
          '(function (exports, require, module, __filename, __dirname) {' + packageFiles[file] +
          '\n;return exports;\n})\n//# sourceURL=plugin:///' + file,
        );
      } catch (err) {
        // V8 gives a syntax error no position in eval'd code: say which file it is in.
        if (err instanceof SyntaxError) throw new SyntaxError(err.message + ' (in ' + file + ')');
        throw err;
      }
      const original = module.exports;
      const returned = wrapper.call(original, original, makeRequire(dirnameOf(file)), module, '/' + file, '/' + dirnameOf(file));
      if (module.exports === original && returned !== original && returned !== undefined && returned !== null) {
        module.exports = returned;
      }
    }
    module.loaded = true;
  } catch (err) {
    moduleCache.delete(file);
    throw err;
  }
  return module.exports;
}

function setPackageFiles(files) {
  packageFiles = ObjectCreate(null);
  for (const key of ObjectKeys(files)) packageFiles[key] = files[key];
  moduleCache.clear();
}

function defineHostModule(name, factory) {
  let instance;
  hostModules.set(name, () => (instance === undefined ? (instance = factory()) : instance));
}
