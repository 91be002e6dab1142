// Guest HTTP clients: WHATWG `fetch` (with minimal Headers and Response), the `requestify`
// module and Zengine's `zn-http`. All of them are thin shapes over one host op, `http`,
// which the host carries out under the egress policy; `zn-http` with a relative path reads
// the workspace data API in-process through the `data` op.

class Headers {
  #map = new MapCtor();
  constructor(init) {
    if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
    else if (ArrayIsArray(init)) for (const [k, v] of init) this.append(k, v);
    else if (init && typeof init === 'object') for (const k of ObjectKeys(init)) this.append(k, init[k]);
  }
  append(name, value) {
    const key = StringCtor(name).toLowerCase();
    const old = this.#map.get(key);
    this.#map.set(key, old === undefined ? StringCtor(value) : old + ', ' + StringCtor(value));
  }
  set(name, value) { this.#map.set(StringCtor(name).toLowerCase(), StringCtor(value)); }
  get(name) { const v = this.#map.get(StringCtor(name).toLowerCase()); return v === undefined ? null : v; }
  has(name) { return this.#map.has(StringCtor(name).toLowerCase()); }
  delete(name) { this.#map.delete(StringCtor(name).toLowerCase()); }
  forEach(fn, thisArg) { for (const [k, v] of this.#map) fn.call(thisArg, v, k, this); }
  *entries() { yield* this.#map.entries(); }
  *keys() { yield* this.#map.keys(); }
  *values() { yield* this.#map.values(); }
  [Symbol.iterator]() { return this.#map.entries(); }
}

function bodyToWire(body) {
  if (body === undefined || body === null) return {};
  if (typeof body === 'string') return { bodyText: body };
  if (body instanceof ArrayBuffer) return { bodyBase64: bytesToBase64(new Uint8Array(body)) };
  if (ArrayBuffer.isView(body)) return { bodyBase64: bytesToBase64(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
  return { bodyText: StringCtor(body) };
}

class Response {
  #text; #base64; #used = false;
  constructor(wire) {
    this.status = wire.status;
    this.statusText = wire.statusText || '';
    this.ok = wire.status >= 200 && wire.status < 300;
    this.headers = new Headers(wire.headers);
    this.url = wire.url || '';
    this.redirected = Boolean(wire.redirected);
    this.#text = wire.text;
    this.#base64 = wire.base64;
  }
  get bodyUsed() { return this.#used; }
  #take() {
    if (this.#used) return PromiseCtor.reject(new TypeError('Body has already been consumed.'));
    this.#used = true;
    return PromiseCtor.resolve();
  }
  text() { return this.#take().then(() => (this.#text !== undefined ? this.#text : utf8Decode(base64ToBytes(this.#base64 || '')))); }
  json() { return this.text().then((t) => jsonParse(t)); }
  arrayBuffer() {
    return this.#take().then(() => (this.#base64 !== undefined ? base64ToBytes(this.#base64) : utf8Encode(this.#text || '')).buffer);
  }
}

function httpOp(request, via) {
  return hostCall('http', { ...request, via });
}

globalThis.Headers = Headers;
globalThis.Response = Response;
globalThis.fetch = function fetch(input, init = {}) {
  const url = typeof input === 'string' ? input : input && typeof input.url === 'string' ? input.url : StringCtor(input);
  const headers = {};
  new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
  return httpOp({ url, method: StringCtor(init.method || 'GET').toUpperCase(), headers, redirect: init.redirect || 'follow', ...bodyToWire(init.body) }, 'fetch')
    .then((wire) => new Response(wire), (err) => {
      const failure = new TypeError('fetch failed: ' + (err && err.message ? err.message : 'network error'));
      // A host budget names itself, so the plugin can tell "too many at once" from a network error.
      if (err && err.code === 'PLUGIN_LIMIT') { failure.code = err.code; failure.limit = err.limit; }
      throw failure;
    });
};

// The `baseurl` header of the route call being served (Zengine's runner gives one), or null.
let zengineBase = null;
function setZengineBase(value) {
  zengineBase = typeof value === 'string' && /^https?:\/\//.test(value) ? value.replace(/\/+$/, '') : null;
}

// requestify: responses expose getBody/getCode/getHeaders; HTTP errors (>= 400) reject
// with the response itself, as requestify does, so `.fail(function (response) {…})` works.
class RequestifyResponse {
  constructor(wire) {
    this.code = wire.status;
    this.headers = wire.headers || {};
    this.body = wire.text !== undefined ? wire.text : '';
  }
  getCode() { return this.code; }
  getHeaders() { return this.headers; }
  getHeader(name) { return this.headers[StringCtor(name).toLowerCase()]; }
  getBody() {
    const type = this.headers['content-type'] || '';
    if (/json/i.test(type)) {
      try { return jsonParse(this.body); } catch { return this.body; }
    }
    return this.body;
  }
}

class RequestifyPromise extends PromiseCtor {
  fail(fn) { return this.catch(fn); }
  static get [Symbol.species]() { return RequestifyPromise; }
}

function encodeForm(data) {
  return ObjectKeys(data).map((k) => encodeURIComponent(k) + '=' + encodeURIComponent(data[k] === undefined ? '' : data[k])).join('&');
}

function requestifyRequest(url, options = {}, via = 'requestify') {
  const method = StringCtor(options.method || 'GET').toUpperCase();
  const headers = {};
  for (const k of ObjectKeys(options.headers || {})) headers[k.toLowerCase()] = StringCtor(options.headers[k]);
  let target = StringCtor(url);
  if (options.params && typeof options.params === 'object') {
    const qs = encodeForm(options.params);
    if (qs) target += (target.includes('?') ? '&' : '?') + qs;
  }
  let wireBody = {};
  if (options.body !== undefined && options.body !== null && method !== 'GET' && method !== 'HEAD') {
    if (typeof options.body === 'string') wireBody = { bodyText: options.body };
    else if (options.dataType === 'form-url-encoded') {
      headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded';
      wireBody = { bodyText: encodeForm(options.body) };
    } else {
      headers['content-type'] = headers['content-type'] || 'application/json';
      wireBody = { bodyText: jsonStringify(options.body) };
    }
  }
  if (options.auth && options.auth.username !== undefined) {
    headers.authorization = 'Basic ' + globalThis.btoa(options.auth.username + ':' + (options.auth.password || ''));
  }
  // The workspace's data API under the `baseurl` Zengine's runner gave (a draft's own
  // lib/zn-http.js builds its URLs so) is served in-process, like zn-http's paths.
  if (zengineBase !== null && target.startsWith(zengineBase + '/')) {
    let body;
    if (wireBody.bodyText !== undefined) { try { body = jsonParse(wireBody.bodyText); } catch { body = wireBody.bodyText; } }
    return dataRequest(method, target.slice(zengineBase.length), body);
  }
  return new RequestifyPromise((resolve, reject) => {
    httpOp({ url: target, method, headers, redirect: options.redirect === false ? 'manual' : 'follow', ...wireBody }, via).then((wire) => {
      const response = new RequestifyResponse(wire);
      if (response.code >= 400) reject(response);
      else resolve(response);
    }, (err) => reject(toError(err)));
  });
}

defineHostModule('requestify', () => ObjectFreeze({
  request: (url, options) => requestifyRequest(url, options),
  get: (url, options = {}) => requestifyRequest(url, { ...options, method: 'GET' }),
  head: (url, options = {}) => requestifyRequest(url, { ...options, method: 'HEAD' }),
  delete: (url, options = {}) => requestifyRequest(url, { ...options, method: 'DELETE' }),
  post: (url, body, options = {}) => requestifyRequest(url, { ...options, method: 'POST', body }),
  put: (url, body, options = {}) => requestifyRequest(url, { ...options, method: 'PUT', body }),
  patch: (url, body, options = {}) => requestifyRequest(url, { ...options, method: 'PATCH', body }),
}));

// zn-http: Zengine's API client. A path (`/forms/1/records`) is the calling workspace's
// data API, served in-process; an absolute URL is ordinary egress.
function znRequest(method, path, body, options = {}) {
  let target = StringCtor(path);
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return requestifyRequest(target, { ...options, method, body }, 'zn-http');
  // `options.params` is the query, as on an absolute URL (paging: {limit, page}).
  const qs = options && options.params && typeof options.params === 'object' ? encodeForm(options.params) : '';
  if (qs) target += (target.includes('?') ? '&' : '?') + qs;
  return dataRequest(method, target, body);
}

/** The calling workspace's data API, in-process: a path such as `/forms/1/records?page=2`. */
function dataRequest(method, target, body) {
  return new RequestifyPromise((resolve, reject) => {
    hostCall('data', { method, path: target, body: body === undefined ? undefined : body }).then((wire) => {
      const response = new RequestifyResponse({ status: wire.status, headers: { 'content-type': 'application/json' }, text: jsonStringify(wire.body) });
      if (response.code >= 400) reject(response);
      else resolve(response);
    }, (err) => reject(toError(err)));
  });
}

defineHostModule('zn-http', () => function znHttp() {
  return ObjectFreeze({
    get: (path, options) => znRequest('GET', path, undefined, options),
    post: (path, body, options) => znRequest('POST', path, body, options),
    put: (path, body, options) => znRequest('PUT', path, body, options),
    del: (path, options) => znRequest('DELETE', path, undefined, options),
    delete: (path, options) => znRequest('DELETE', path, undefined, options),
  });
});

// Zengine's `znFirebase()` (a per-workspace Firebase settings store) has no counterpart here:
// calling it says what to use instead, rather than "znFirebase is not defined".
globalThis.znFirebase = function znFirebase() {
  const err = new ErrorCtor('znFirebase is not available on plughost: keep settings in installation parameters (require(\'plughost\').iparams) and data in $db or the workspace data API');
  err.code = 'PLUGIN_UNSUPPORTED_API';
  throw err;
};
