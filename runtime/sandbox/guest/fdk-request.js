// Guest Freshworks `$request`: `invokeTemplate(name, {context, body})` sends one of the app's
// request templates, `get/post/put/patch/delete(url, options)` the older form. The host fills
// the placeholders and sends (ops/fdk-request.ts); here its `{ok, …}` outcome becomes FDK's
// shapes: `{status, headers, response}` on success, a rejection with the plain object
// `{status, headers, response, attempts, errorSource}` otherwise.

function fdkRequest(op, args) {
  return hostCall(op, args).then((outcome) => {
    const response = outcome.parse ? parsedOrText(outcome.response) : outcome.response;
    if (outcome.ok) return { status: outcome.status, headers: outcome.headers, response };
    const error = { status: outcome.status, headers: outcome.headers, response, attempts: outcome.attempts, errorSource: outcome.errorSource };
    if (outcome.errorSource === 'PLATFORM') {
      error.message = outcome.message;
      if (outcome.code) { error.code = outcome.code; error.limit = outcome.limit; }
    }
    throw error;
  }, (err) => {
    // Refused before the host saw it (a run budget), or the op itself failed.
    const message = (err && err.message) || 'internal error';
    const error = { status: (err && err.status) || 500, headers: {}, response: message, attempts: 0, errorSource: 'PLATFORM', message };
    if (err && err.code === 'PLUGIN_LIMIT') { error.code = err.code; error.limit = err.limit; }
    throw error;
  });
}

/** The legacy `json` option answers parsed JSON, or the text when the body is not JSON. */
function parsedOrText(text) {
  if (typeof text !== 'string' || text === '') return text;
  try {
    return jsonParse(text);
  } catch {
    return text;
  }
}

const objectOr = (value) => (value !== null && typeof value === 'object' ? value : {});
const legacy = (method) => (url, options) => fdkRequest('fdk.request.legacy', { method, url: StringCtor(url), options: objectOr(options) });

globalThis.$request = ObjectFreeze({
  invokeTemplate(name, options) {
    const o = objectOr(options);
    // `cache` and `ttl` are for front-end apps; the serverless form ignores them, as here.
    return fdkRequest('fdk.request.template', { name: StringCtor(name), context: objectOr(o.context), body: o.body, query: o.query });
  },
  get: legacy('get'),
  post: legacy('post'),
  put: legacy('put'),
  patch: legacy('patch'),
  delete: legacy('delete'),
});
