// Guest core: runs inside the isolate, before any plugin code, in strict mode (the host
// wraps every guest file in one strict function). It takes the host's channel
// (`__plughost_post`, a plain copied callback, and `__plughost_service` for synchronous
// service calls), deletes them from the global object, and
// captures the intrinsics it relies on, so plugin code that tampers with globals cannot
// change how the host glue behaves.

const post = globalThis.__plughost_post;
const limits = JSON.parse(globalThis.__plughost_limits);
const serviceRef = globalThis.__plughost_service;
delete globalThis.__plughost_post;
delete globalThis.__plughost_limits;
delete globalThis.__plughost_service;
// Shared memory and timing primitives are no use to a plugin and help side channels.
delete globalThis.SharedArrayBuffer;
delete globalThis.Atomics;
delete globalThis.WebAssembly;

const jsonParse = JSON.parse;
const jsonStringify = JSON.stringify;
const ObjectFreeze = Object.freeze;
const ObjectCreate = Object.create;
const ObjectKeys = Object.keys;
const ObjectDefineProperty = Object.defineProperty;
const ArrayIsArray = Array.isArray;
const MapCtor = Map;
const PromiseCtor = Promise;
const ErrorCtor = Error;
const StringCtor = String;
const indirectEval = eval;

/** The invocation whose code is running now: set on every entry from the host. */
let current = 0;
let nextOpId = 0;
const pendingOps = new MapCtor();

function send(message) {
  const text = jsonStringify(message);
  // Checked here, before the copy out of the isolate: the host never receives more.
  if (text.length > limits.maxResultBytes) {
    throw new ErrorCtor('result too large: ' + text.length + ' bytes, the limit is ' + limits.maxResultBytes);
  }
  post(text);
}

/** A synchronous request to the host (Haplo services): blocks this isolate until it answers. */
function hostSync(request) {
  const text = jsonStringify({ ...request, id: current });
  if (text.length > limits.maxResultBytes) throw new ErrorCtor('service arguments too large: ' + text.length + ' bytes');
  const answer = jsonParse(serviceRef.applySyncPromise(undefined, [text], { arguments: { copy: true } }));
  if (!answer.ok) {
    const err = new ErrorCtor(answer.error && answer.error.message ? answer.error.message : 'service call failed');
    if (answer.error && answer.error.code) err.code = answer.error.code;
    throw err;
  }
  return answer.value;
}

/** Asks the host to carry out `op`; the promise settles when the host delivers the outcome. */
function hostCall(op, args) {
  const invocation = current;
  return new PromiseCtor((resolve, reject) => {
    const opId = ++nextOpId;
    pendingOps.set(opId, { resolve, reject, invocation });
    try {
      send({ t: 'op', id: invocation, opId, op, args });
    } catch (err) {
      pendingOps.delete(opId);
      reject(err);
    }
  });
}

/** Host → guest: the outcome of an op. Errors arrive as `{code, message, status?, data?}`. */
function deliver(opId, ok, payloadJson) {
  const pending = pendingOps.get(opId);
  if (!pending) return;
  pendingOps.delete(opId);
  current = pending.invocation;
  const payload = payloadJson === undefined ? undefined : jsonParse(payloadJson);
  if (ok) pending.resolve(payload);
  else pending.reject(payload);
}

/** Turns a host error payload into an Error the plugin can catch and read. */
function toError(payload) {
  const err = new ErrorCtor(payload && payload.message ? payload.message : 'host operation failed');
  if (payload && payload.code) err.code = payload.code;
  if (payload && payload.status) err.status = payload.status;
  if (payload && payload.limit) err.limit = payload.limit;
  return err;
}

function describe(value) {
  if (typeof value === 'string') return value;
  if (value instanceof ErrorCtor) return value.stack || (value.name + ': ' + value.message);
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return '[Function ' + (value.name || 'anonymous') + ']';
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  try {
    const text = jsonStringify(value);
    return text === undefined ? StringCtor(value) : text;
  } catch {
    return StringCtor(value);
  }
}

function errorInfo(err) {
  // `noRetry: true` on what a handler throws asks the scheduler not to retry this occurrence.
  const noRetry = err !== null && typeof err === 'object' && err.noRetry === true;
  if (err instanceof ErrorCtor) return { message: err.message, stack: err.stack, name: err.name, code: err.code, noRetry };
  return { message: describe(err), noRetry };
}
