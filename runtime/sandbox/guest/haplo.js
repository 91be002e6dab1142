// Guest Haplo globals. `P` (the plugin object): `P.hook(name, fn)` for schedule hooks and
// `P.implementService(name, fn)`. `O`: `O.service(name, …args)` (synchronous, as in Haplo:
// implementations across the workspace's installations in install order, first result other
// than undefined wins, none throws), `O.serviceMaybe`, `O.serviceImplemented`, `O.binaryData`.
// Hooks and services register when the main module loads; the init result tells the host.

const hookTable = new MapCtor();
const serviceTable = new MapCtor();
/** Installations waiting on the synchronous service call now running here (deadlock guard). */
let serviceChain = [];

function register(table, name, fn, what) {
  if (typeof name !== 'string' || typeof fn !== 'function') throw new TypeError(what + '(name, function) takes a name and a function');
  if (!table.has(name)) table.set(name, []);
  table.get(name).push(fn);
}

const ProxyCtor = Proxy;
const SymbolToPrimitive = Symbol.toPrimitive;

/**
 * What a Haplo API plughost does not provide is: reading it gives this stand-in, and calling
 * it (or anything under it: `P.db.table(…)`) throws PLUGIN_UNSUPPORTED_API naming the API,
 * rather than "undefined is not a function".
 */
const NOT_STAND_INS = new Set(['then', 'toJSON', 'prototype', 'constructor', 'caller', 'arguments', '__proto__']);
const SetHas = uncurry(Set.prototype.has);

function unsupported(path) {
  const fail = () => {
    const err = new ErrorCtor(path + ' is not provided by plughost');
    err.code = 'PLUGIN_UNSUPPORTED_API';
    throw err;
  };
  // No own properties: what walks an object graph finds nothing under a stand-in.
  delete fail.length;
  delete fail.name;
  return new ProxyCtor(fail, {
    get(target, key) {
      // Using it as a value (`O.PERM_READ | O.PERM_CREATE`) fails naming it, not its valueOf.
      if (key === SymbolToPrimitive || key === 'valueOf' || key === 'toString') return fail;
      // Not thenable, not JSON, no caller chain or constructor: `await`, logging and a walk
      // of the object graph end at a stand-in.
      if (typeof key === 'symbol' || SetHas(NOT_STAND_INS, key)) return undefined;
      return unsupported(path + '.' + StringCtor(key));
    },
  });
}

/** `base` as plugin code sees it: what it has, what code sets on it, and stand-ins for the rest. */
function withUnsupported(base, name) {
  return new ProxyCtor(base, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || key in target || key === 'then' || key === 'toJSON') return ReflectGet(target, key, receiver);
      return unsupported(name + '.' + StringCtor(key));
    },
  });
}

/** P.backgroundCallback and P.callback functions, by their short name (the plugin's name is the prefix). */
const backgroundTable = new MapCtor();
const callbackTable = new MapCtor();

/** P.respond handlers: `{methods, path, args, handler}`, matched by the longest path. */
const respondTable = [];

const P = withUnsupported({
  hook(name, fn) { register(hookTable, name, fn, 'P.hook'); },
  implementService(name, fn) { register(serviceTable, name, fn, 'P.implementService'); },
  backgroundCallback(name, fn) {
    if (typeof name !== 'string' || typeof fn !== 'function') throw new TypeError('P.backgroundCallback(name, function) takes a name and a function');
    MapSet(backgroundTable, name, fn);
  },
  callback(name, fn) {
    if (typeof name !== 'string' || typeof fn !== 'function') throw new TypeError('P.callback(name, function) takes a name and a function');
    MapSet(callbackTable, name, fn);
    return ObjectFreeze({ $callbackName: name });
  },
  respond(methods, path, args, handler) {
    if (typeof methods !== 'string' || typeof path !== 'string' || !ArrayIsArray(args) || typeof handler !== 'function') {
      throw new TypeError('P.respond(methods, path, argumentDeclarations, handler) takes "GET,POST", "/do/…", an array and a function');
    }
    respondTable.push({ methods: methods.toUpperCase().split(',').map((m) => m.trim()), path: path.replace(/\/+$/, ''), args, handler });
  },
}, 'P');
globalThis.P = P;

class BinaryData {
  constructor(text, options) {
    this.text = StringCtor(text);
    this.mimeType = (options && options.mimeType) || 'application/octet-stream';
    this.filename = (options && options.filename) || 'data';
  }
  readAsString() { return this.text; }
  get fileSize() { return utf8Encode(this.text).length; }
}

// Values crossing to and from another installation: JSON, with BinaryData, collector
// functions (`discover`) and an http-client recorder (`setup-http-request`) as markers.
function encodeValue(value) {
  if (value instanceof BinaryData) return { __plughost: 'binaryData', text: value.text, mimeType: value.mimeType, filename: value.filename };
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (ArrayIsArray(value)) return value.map(encodeValue);
  if (value !== null && typeof value === 'object') {
    if (typeof value.toJSON === 'function') return value.toJSON();
    const out = {};
    for (const k of ObjectKeys(value)) out[k] = encodeValue(value[k]);
    return out;
  }
  return value;
}

function decodeValue(value, effects) {
  if (ArrayIsArray(value)) return value.map((v) => decodeValue(v, effects));
  if (value === null || typeof value !== 'object') return value;
  if (value.__plughost === 'binaryData') return new BinaryData(value.text, value);
  if (value.__plughost === 'collector') {
    const calls = [];
    effects.collected = calls;
    return (...args) => { calls.push(encodeValue(args.length === 1 ? args[0] : args)); };
  }
  if (value.__plughost === 'httpClient') {
    const request = { url: null, method: 'POST', headers: {} };
    effects.httpRequest = request;
    const client = {
      url(u) { request.url = StringCtor(u); return client; },
      method(m) { request.method = StringCtor(m).toUpperCase(); return client; },
      header(name, v) { request.headers[StringCtor(name).toLowerCase()] = StringCtor(v); return client; },
    };
    return client;
  }
  const out = {};
  for (const k of ObjectKeys(value)) out[k] = decodeValue(value[k], effects);
  return out;
}

function callLocal(name, args) {
  for (const fn of serviceTable.get(name) || []) {
    const value = fn.apply(P, args);
    if (value !== undefined) return value;
  }
  return undefined;
}

function serviceCall(name, args, required) {
  if (typeof name !== 'string') throw new TypeError('O.service(name, …) takes a service name');
  const chain = serviceChain;
  const plan = hostSync({ t: 'plan', name, chain });
  for (const target of plan.targets) {
    const value = target === plan.self ? callLocal(name, args)
      : decodeValue(hostSync({ t: 'call', name, target, chain, args: encodeValue(args) }), {});
    if (value !== undefined) return value;
  }
  // As in Haplo: only a service nobody implements is an error; all answering undefined is not.
  if (required && plan.targets.length === 0) {
    const err = new ErrorCtor('No implementation of service ' + name + ' in this workspace');
    err.code = 'SERVICE_NOT_IMPLEMENTED';
    throw err;
  }
  return undefined;
}

let application;
const SCHEMA_GLOBALS = ['SCHEMA', 'TYPE', 'ATTR', 'ALIASED_ATTR', 'QUAL', 'LABEL', 'Label', 'GROUP', 'Group'];
/** O.stop(message): ends the request with the message (a P.respond answers 400 with it; any other run fails with it). */
class HaploStop extends ErrorCtor {}
let pluginName = null;
const keychain = ObjectCreate(null);
/** P.onLoad runs once, at the start of the first run after the plugin loaded (it may call services). */
let onLoadPending = false;
function haploOnLoad() {
  if (!onLoadPending) return;
  onLoadPending = false;
  // `in`, not a read: an unset P.onLoad reads as an unsupported-API stand-in.
  if ('onLoad' in P && typeof P.onLoad === 'function') P.onLoad();
}
globalThis.O = withUnsupported(ObjectFreeze({
  get application() { return application === undefined ? unsupported('O.application') : application; },
  service: (name, ...args) => serviceCall(name, args, true),
  serviceMaybe: (name, ...args) => serviceCall(name, args, false),
  serviceImplemented: (name) => hostSync({ t: 'plan', name: StringCtor(name), chain: serviceChain }).targets.length > 0,
  binaryData: (text, options) => new BinaryData(text, options),
  stop(message, title) {
    const err = new HaploStop(StringCtor(message === undefined ? 'Stopped' : message));
    err.code = 'HAPLO_STOP';
    err.title = title === undefined ? undefined : StringCtor(title);
    throw err;
  },
  background: withUnsupported(ObjectFreeze({
    run(name, data) { countedSync({ t: 'background', name: StringCtor(name), data: data === undefined ? null : encodeValue(data) }); },
  }), 'O.background'),
  httpClient: (url) => haploHttpClient(url),
  keychain: withUnsupported(ObjectFreeze({
    credential(name) {
      const c = keychain[StringCtor(name)];
      if (c === undefined) throw new ErrorCtor('No credential named "' + StringCtor(name) + '" in the keychain (the installation\'s iparams.keychain)');
      return c;
    },
    query(kind) { return ObjectKeys(keychain).filter((n) => kind === undefined || keychain[n].kind === kind).map((n) => keychain[n]); },
  }), 'O.keychain'),
  audit: withUnsupported(ObjectFreeze({
    write(entry) {
      if (entry === null || typeof entry !== 'object' || typeof entry.auditEntryType !== 'string') throw new TypeError('O.audit.write({auditEntryType: "plugin:type", data}) takes an entry with an auditEntryType');
      countedSync({ t: 'audit', entry: encodeValue(entry) });
    },
  }), 'O.audit'),
}), 'O');

/**
 * A Haplo-format plugin, as Haplo loads one: Underscore and XDate as globals, the plugin
 * object also under the plugin's own name, then each `load` file in order, evaluated with
 * `P`, `O`, `_` and `XDate` in scope (a file's own variables stay its own).
 */
function loadHaplo(haplo) {
  // O.application: the workspace, as Haplo describes its application.
  application = withUnsupported(ObjectFreeze({
    name: haplo.application.name, hostname: haplo.application.hostname, url: 'https://' + haplo.application.hostname,
    config: ObjectFreeze({ ...haplo.config }),
  }), 'O.application');
  pluginName = haplo.pluginName;
  for (const name of ObjectKeys(haplo.keychain)) {
    const c = haplo.keychain[name] || {};
    keychain[name] = ObjectFreeze({ name, kind: StringCtor(c.kind || 'Generic'), instanceKind: StringCtor(c.instanceKind || c.kind || 'Generic'),
      account: ObjectFreeze({ ...(c.account || {}) }), secret: ObjectFreeze({ ...(c.secret || {}) }) });
  }
  // Haplo's schema globals need its object store: using one fails naming it, not "Group is not defined".
  for (const name of SCHEMA_GLOBALS) if (!(name in globalThis)) globalThis[name] = unsupported(name);
  for (const name of ObjectKeys(haplo.libraries)) indirectEval(haplo.libraries[name] + '\n//# sourceURL=plughost:///lib/' + name + '.js');
  globalThis[haplo.pluginName] = P;
  // P.db: the plugin's tables, for a plugin that declares pDatabase (the host checks it too).
  P.db = haplo.privileges.includes('pDatabase') ? createPluginDb() : createDeniedDb();
  for (const file of haplo.load) {
    let fn;
    try {
      fn = indirectEval('(function (P, O, _, XDate) {' + packageFiles[file] + '\n})\n//# sourceURL=plugin:///' + file);
    } catch (err) {
      if (err instanceof SyntaxError) throw new SyntaxError(err.message + ' (in ' + file + ')');
      throw err;
    }
    fn.call(globalThis, P, globalThis.O, globalThis._, globalThis.XDate);
  }
  onLoadPending = true;
}

function hookNames() {
  return [...hookTable.keys()];
}

function serviceNames() {
  return [...serviceTable.keys()];
}

/** Calls every function registered for `name`, in order; Haplo's hook arguments follow `response`. */
function runHook(name, response, args) {
  haploOnLoad();
  const fns = hookTable.get(name) || [];
  let chain = PromiseCtor.resolve();
  for (const fn of fns) chain = chain.then(() => fn.call(P, response, ...args));
  return chain.then(() => response);
}

/** Host → guest: runs this installation's implementations of a service, synchronously. */
function runService(payload) {
  const effects = {};
  const saved = serviceChain;
  serviceChain = payload.chain;
  try {
    haploOnLoad();
    const value = callLocal(payload.name, decodeValue(payload.args, effects));
    return jsonStringify({ ok: true, value: encodeValue(value), effects });
  } catch (err) {
    return jsonStringify({ ok: false, error: errorInfo(err) });
  } finally {
    serviceChain = saved;
  }
}

// ---- P.respond: one request, as Haplo's runtime hands it to a handler.

class RespondArgumentError extends ErrorCtor {}

/** The handler's argument for one declaration: a path element, a parameter or the body, converted `as` declared. */
function respondArgument(decl, request, extras) {
  let raw;
  let what;
  if (typeof decl.pathElement === 'number') { raw = extras[decl.pathElement]; what = 'path element ' + decl.pathElement; }
  else if (typeof decl.parameter === 'string') { raw = request.parameters[decl.parameter]; what = 'parameter ' + decl.parameter; }
  else if (decl.body !== undefined) { raw = request.body === '' ? undefined : request.body; what = 'the body'; }
  else throw new TypeError('a P.respond argument declares pathElement, parameter or body');
  if (raw === undefined || raw === null || raw === '') {
    if (decl.optional) return undefined;
    throw new RespondArgumentError('missing ' + what);
  }
  const as = decl.as || 'string';
  let value;
  if (as === 'string') value = StringCtor(raw);
  else if (as === 'int') {
    value = /^-?\d+$/.test(StringCtor(raw)) ? Number(raw) : NaN;
    if (!Number.isFinite(value)) throw new RespondArgumentError(what + ' must be a whole number');
  } else if (as === 'json') {
    try { value = jsonParse(StringCtor(raw)); } catch { throw new RespondArgumentError(what + ' must be JSON'); }
  } else {
    // object refs, db:table rows, files: Haplo's object store and P.db are not provided.
    return unsupported('P.respond argument as "' + StringCtor(as) + '"')();
  }
  if (decl.validate !== undefined) {
    const ok = typeof decl.validate === 'function' ? decl.validate(value) : decl.validate instanceof RegExp ? decl.validate.test(StringCtor(value)) : true;
    if (!ok) throw new RespondArgumentError(what + ' is not valid');
  }
  return value;
}

const RESPOND_TYPES = ObjectFreeze({ json: 'application/json; charset=utf-8', text: 'text/plain; charset=utf-8', html: 'text/html; charset=utf-8' });

/** Runs the P.respond handler for `request` ({method, path, parameters, headers, body}); answers through `response`. */
function runRespond(request, response) {
  haploOnLoad();
  let best;
  for (const entry of respondTable) {
    if (request.path !== entry.path && !request.path.startsWith(entry.path + '/')) continue;
    if (best === undefined || entry.path.length > best.path.length) best = entry;
  }
  if (best === undefined || (!best.methods.includes(request.method) && !(request.method === 'HEAD' && best.methods.includes('GET')))) {
    response.status(best === undefined ? 404 : 405).type('text/plain; charset=utf-8').send(best === undefined ? 'Not found' : 'Method not allowed');
    return undefined;
  }
  const remainingPath = request.path.slice(best.path.length);
  const extras = remainingPath.split('/').filter((s) => s !== '').map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  let args;
  try {
    args = best.args.map((decl) => respondArgument(decl, request, extras));
  } catch (err) {
    if (!(err instanceof RespondArgumentError)) throw err;
    response.status(400).type('text/plain; charset=utf-8').send('Bad request: ' + err.message);
    return undefined;
  }
  const out = { statusCode: 200, kind: 'html', body: '', headers: {}, redirect(url) { out.statusCode = 302; out.headers.Location = StringCtor(url); } };
  const E = withUnsupported({
    request: ObjectFreeze({ method: request.method, path: request.path, parameters: request.parameters, headers: request.headers, body: request.body, remainingPath, extraPathElements: extras }),
    response: out,
  }, 'E');
  const send = () => {
    // A BinaryData body (O.binaryData(…)) goes out as it is, with its own MIME type.
    if (out.body instanceof BinaryData) {
      response.status(out.statusCode).set(out.headers).type(out.body.mimeType).send(out.body.text);
      return;
    }
    const type = RESPOND_TYPES[out.kind] || StringCtor(out.kind);
    const body = typeof out.body === 'string' ? out.body : out.kind === 'json' ? jsonStringify(out.body) : StringCtor(out.body === undefined || out.body === null ? '' : out.body);
    response.status(out.statusCode).set(out.headers).type(type).send(body);
  };
  const stopped = (err) => {
    if (!(err instanceof HaploStop)) throw err;
    response.status(400).type('text/plain; charset=utf-8').send((err.title ? err.title + ': ' : '') + err.message);
  };
  let result;
  try {
    result = best.handler.apply(P, [E, ...args]);
  } catch (err) {
    stopped(err);
    return undefined;
  }
  if (result && typeof result.then === 'function') return result.then(send, stopped);
  send();
  return undefined;
}

// ---- Synchronous host calls of Haplo APIs (P.db, O.background, O.httpClient, O.audit).

/** One synchronous call to the host within the run's message budget (each counts as a message). */
function countedSync(request) {
  const r = runOf(current);
  if (r === CLOSED) throw toError({ code: 'CANCELLED', message: 'this Haplo API can only be used while the plugin is running' });
  if (r.messages >= budgets.guestMessages) {
    noteOnce(current, r, 'guestMessages');
    throw toError(limitPayload('guestMessages', 'this run has sent the host ' + budgets.guestMessages + ' messages, its limit (guestMessages); P.db, O.background, O.httpClient and O.audit calls count as messages'));
  }
  r.messages++;
  return hostSync(request);
}

/**
 * O.httpClient(url): Haplo's request builder. `request(callback, data)` queues the request on
 * the host's durable ledger; the host makes it and runs the P.callback with
 * `(data, client, response)` in a background run of its own.
 */
function haploHttpClient(url) {
  const req = { url: url === undefined || url === null ? null : StringCtor(url), method: 'GET', headers: {}, body: undefined, params: [], keychain: undefined };
  const client = {
    url(u) { req.url = StringCtor(u); return client; },
    method(m) { req.method = StringCtor(m).toUpperCase(); return client; },
    header(name, value) { req.headers[StringCtor(name)] = StringCtor(value); return client; },
    body(contentType, body) { req.headers['Content-Type'] = StringCtor(contentType); req.body = StringCtor(body); return client; },
    bodyParameter(name, value) { req.params.push(encodeURIComponent(StringCtor(name)) + '=' + encodeURIComponent(StringCtor(value))); return client; },
    retryDelay() { return client; },
    useCredentialsFromKeychain(name) {
      // Checked now, sent by name: the host adds the credential when it makes the request, so
      // the secret is never stored with the queued job.
      const c = globalThis.O.keychain.credential(name);
      if (c.account.username === undefined && c.secret.token === undefined && c.secret.bearer === undefined) {
        throw new ErrorCtor('credential "' + StringCtor(name) + '" has no account.username (HTTP Basic) or secret.token (Bearer)');
      }
      req.keychain = StringCtor(name);
      return client;
    },
    request(callback, data) {
      if (callback === null || typeof callback !== 'object' || typeof callback.$callbackName !== 'string') {
        throw new TypeError('request() must be called with a callback object obtained from P.callback()');
      }
      if (req.url === null) throw new TypeError('O.httpClient: give the URL (O.httpClient(url) or .url(url)) before request()');
      let target = req.url;
      let body = req.body;
      const headers = { ...req.headers };
      if (req.params.length > 0) {
        if (req.method === 'GET' || req.method === 'HEAD') target += (target.includes('?') ? '&' : '?') + req.params.join('&');
        else if (body === undefined) { body = req.params.join('&'); headers['Content-Type'] = 'application/x-www-form-urlencoded'; }
      }
      countedSync({ t: 'background', callback: pluginName + ':' + callback.$callbackName, data: data === undefined ? null : encodeValue(data),
        http: { url: target, method: req.method, headers, ...(body === undefined ? {} : { body }), ...(req.keychain === undefined ? {} : { keychain: req.keychain }) } });
    },
    get $requestSettings() { return { url: req.url, method: req.method }; },
  };
  return client;
}

/** Host → guest: a background run, `P.backgroundCallback(name)(data)`, or `P.callback(name)(data, client, response)`. */
function runBackground(job) {
  haploOnLoad();
  const short = job.name.slice(job.name.indexOf(':') + 1);
  if (job.response === undefined) {
    const fn = MapGet(backgroundTable, short);
    if (fn === undefined) throw new ErrorCtor('no P.backgroundCallback("' + short + '") in this plugin for O.background.run("' + job.name + '")');
    return fn.call(P, job.data);
  }
  const fn = MapGet(callbackTable, short);
  if (fn === undefined) throw new ErrorCtor('no P.callback("' + short + '") in this plugin for the response of ' + job.http.method + ' ' + job.http.url);
  const res = job.response;
  const body = new BinaryData(res.bodyText, { mimeType: res.mimeType, filename: 'response' });
  const response = ObjectFreeze({
    successful: res.successful, status: res.status, type: res.type, errorMessage: res.errorMessage, headers: ObjectFreeze({ ...res.headers }),
    charset: 'utf-8', body, bodyAsString: () => res.bodyText,
  });
  const client = ObjectFreeze({ $requestSettings: ObjectFreeze({ url: job.http.url, method: job.http.method }) });
  return fn.call(P, job.data, client, response);
}
