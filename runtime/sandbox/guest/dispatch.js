// Guest dispatch: the one entry the host calls to start plugin code (`deliver` and `tick`
// continue it). `init` loads the package,
// `route` calls a service module's `run(eventData)` (Zengine), `event` calls a handler named
// in the manifest (a Freshworks event or server method, which may answer with renderData), `hook` a Haplo hook, `service` a Haplo service (synchronously,
// returning its answer). Other outcomes go back over the channel: `respond` when a route
// sends its response, `settled` when the called function's promise settles.

let mainFile = null;

function settle(id, ok, value) {
  current = id;
  try {
    send(ok ? { t: 'settled', id, ok: true, value: value === undefined ? null : value } : { t: 'settled', id, ok: false, error: errorInfo(value) });
  } catch (err) {
    send({ t: 'settled', id, ok: false, error: errorInfo(err), tooLarge: true });
  }
}

/** Calls `fn` and reports how it settles; `quietOk` skips the report of a success nobody waits for. */
function runSettling(id, fn, quietOk) {
  let result;
  try {
    result = fn();
  } catch (err) {
    settle(id, false, err);
    return;
  }
  // After renderData the handler's own outcome changes nothing; a failure is still logged.
  PromiseCtor.resolve(result).then((value) => { if (!quietOk && !renderedIn(id)) settle(id, true, value); }, (err) => {
    if (!renderedIn(id)) settle(id, false, err);
    else { current = id; globalThis.console.error('the handler failed after renderData: ' + describe(err)); }
  });
}

function encodeBody(body, type) {
  if (body === undefined || body === null) return { bodyText: '', type };
  if (typeof body === 'string') return { bodyText: body, type: type || 'text/html; charset=utf-8' };
  if (body instanceof ArrayBuffer) return { bodyBase64: bytesToBase64(new Uint8Array(body)), type: type || 'application/octet-stream' };
  if (ArrayBuffer.isView(body)) {
    return { bodyBase64: bytesToBase64(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)), type: type || 'application/octet-stream' };
  }
  if (typeof body === 'object') return { bodyText: jsonStringify(body), type: type || 'application/json; charset=utf-8' };
  return { bodyText: StringCtor(body), type: type || 'text/html; charset=utf-8' };
}

function makeResponse(id) {
  let statusCode = 200;
  const headers = ObjectCreate(null);
  let sent = false;
  const response = {
    get headersSent() { return sent; },
    get statusCode() { return statusCode; },
    status(code) {
      const n = Number(code);
      if (!Number.isInteger(n) || n < 100 || n > 599) throw new RangeError('invalid status code: ' + code);
      statusCode = n;
      return response;
    },
    set(name, value) {
      if (name && typeof name === 'object') { for (const k of ObjectKeys(name)) response.set(k, name[k]); return response; }
      headers[StringCtor(name).toLowerCase()] = ArrayIsArray(value) ? value.map(StringCtor).join(', ') : StringCtor(value);
      return response;
    },
    header(name, value) { return response.set(name, value); },
    get(name) { return headers[StringCtor(name).toLowerCase()]; },
    type(value) { return response.set('content-type', StringCtor(value).includes('/') ? value : 'application/' + value); },
    send(body) {
      if (sent) {
        globalThis.console.warn('response already sent; this send() is ignored');
        return response;
      }
      sent = true;
      current = id;
      const encoded = encodeBody(body, headers['content-type']);
      const message = { t: 'respond', id, status: statusCode, headers: { ...headers, 'content-type': encoded.type }, bodyText: encoded.bodyText, bodyBase64: encoded.bodyBase64 };
      try {
        send(message);
      } catch (err) {
        send({ t: 'respond', id, tooLarge: true, error: errorInfo(err) });
      }
      return response;
    },
    json(body) {
      if (!headers['content-type']) headers['content-type'] = 'application/json; charset=utf-8';
      return response.send(jsonStringify(body === undefined ? null : body));
    },
    end(body) { return response.send(body === undefined ? '' : body); },
    sendStatus(code) { return response.status(code).send(StringCtor(code)); },
    redirect(statusOrUrl, maybeUrl) {
      const url = maybeUrl === undefined ? statusOrUrl : maybeUrl;
      return response.status(maybeUrl === undefined ? 302 : statusOrUrl).set('location', url).send('');
    },
  };
  return response;
}

/**
 * What Zengine's runner does before a service's run(): note the request's `baseurl`, and let a
 * draft's own lib/zn-http.js read its headers (`znHttp(req).parseHeaders()`), which it keeps
 * for the plugin's later `znHttp()` calls.
 */
function zengineRunner(request) {
  setZengineBase(request.headers && request.headers.baseurl);
  if (!('lib/zn-http.js' in packageFiles)) return;
  const factory = loadModule('lib/zn-http.js');
  if (typeof factory !== 'function') return;
  const client = factory(request);
  if (client && typeof client.parseHeaders === 'function') client.parseHeaders();
}

function exportsOf(file, what) {
  const exported = loadModule(file);
  if (exported === null || (typeof exported !== 'object' && typeof exported !== 'function')) {
    throw new TypeError(file + ' does not export an object; ' + what);
  }
  return exported;
}

function dispatch(id, kind, payloadJson, offset, endedIds) {
  const outer = current;
  current = id;
  if (typeof offset === 'number') clockOffset = offset;
  if (endedIds) ended(jsonParse(endedIds));
  if (!MapHas(runs, id)) openRun(id);
  // The host's wake-up may have gone with an ended run: ask again for the earliest live timer.
  armedDue = Infinity;
  arm();
  const payload = jsonParse(payloadJson);
  if (kind === 'init') {
    budgets.pendingOps = payload.budgets.pendingOps;
    budgets.pendingOpBytes = payload.budgets.pendingOpBytes;
    budgets.guestMessages = payload.budgets.guestMessages;
    setPackageFiles(payload.files);
    setInstallationContext(payload.context);
    mainFile = payload.main;
    runSettling(id, () => {
      if (payload.haplo) loadHaplo(payload.haplo);
      if (mainFile) loadModule(mainFile);
      return { hooks: hookNames(), services: serviceNames() };
    });
  } else if (kind === 'route' && payload.respond) {
    // A Haplo P.respond request under the workspace's /do or /api.
    runSettling(id, () => runRespond(payload.respond, makeResponse(id)), true);
  } else if (kind === 'route') {
    runSettling(id, () => {
      const mod = exportsOf(payload.main, 'a service module must set exports.run');
      if (typeof mod.run !== 'function') {
        const err = new TypeError(payload.main + ' has no exports.run(eventData); a service module must export run');
        err.code = 'PLUGIN_NO_HANDLER';
        throw err;
      }
      const eventData = { request: payload.request, response: makeResponse(id) };
      zengineRunner(payload.request);
      return mod.run(eventData);
    }, true); // a route is over when it responds, not when run() returns
  } else if (kind === 'event') {
    runSettling(id, () => {
      const mod = exportsOf(mainFile, 'event handlers are exported functions');
      const handler = fdkHandler(mod, payload.event, payload.handler);
      if (typeof handler !== 'function') {
        const err = new TypeError(mainFile + ' exports no function `' + payload.handler + '`; export it or fix events.' + payload.event + '.handler in the manifest');
        err.code = 'PLUGIN_NO_HANDLER';
        throw err;
      }
      return handler.call(mod, payload.payload);
    });
  } else if (kind === 'service') {
    // Synchronous: the answer is this call's return value, not a settle message. It may come
    // back into this isolate while its own O.service call waits: hand `current` back after.
    try {
      return runService(payload);
    } finally {
      current = outer;
    }
  } else if (kind === 'hook' && payload.background) {
    // A Haplo background job: O.background.run's callback, or an O.httpClient response's.
    runSettling(id, () => runBackground(payload.background));
  } else if (kind === 'hook') {
    runSettling(id, () => runHook(payload.hook, payload.response, payload.args));
  } else {
    settle(id, false, new ErrorCtor('unknown dispatch kind: ' + kind));
  }
}

return { dispatch, deliver, tick, droppedOf };
