// One error class for the whole host. Every failure a client or plugin can see carries a
// stable `code`; the HTTP layer maps it to a status and `{error: {code, message}}`.
// `expose` says whether the message may reach the client (internal causes never do).

export const errorCodes = {
  // request shape
  INVALID_JSON: { status: 400, doc: 'the request body is not valid JSON, or nests arrays and objects more than 512 levels deep' },
  INVALID_BODY: { status: 400, doc: 'the request body fails validation; details list each field' },
  INVALID_QUERY: { status: 400, doc: 'a query parameter is malformed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, doc: 'the body has a content type this path does not take' },
  BODY_TOO_LARGE: { status: 413, doc: 'the request body is over the size limit' },
  // auth
  UNAUTHORIZED: { status: 401, doc: 'no bearer token, or one the host does not know' },
  FORBIDDEN: { status: 403, doc: 'the token is valid but not for this workspace or action' },
  // lookups
  NOT_FOUND: { status: 404, doc: 'no such path' },
  METHOD_NOT_ALLOWED: { status: 405, doc: 'the path exists but not for this method' },
  WORKSPACE_NOT_FOUND: { status: 404, doc: 'no workspace with that id' },
  PLUGIN_NOT_FOUND: { status: 404, doc: 'no published plugin (or version) with that name' },
  INSTALLATION_NOT_FOUND: { status: 404, doc: 'no installation with that id in the workspace' },
  ROUTE_NOT_FOUND: { status: 404, doc: 'no active installation serves that namespace and route' },
  FUNCTION_NOT_FOUND: { status: 404, doc: 'no active installation in the namespace lists that server method (FDK function)' },
  RECORD_NOT_FOUND: { status: 404, doc: 'no form, folder or record with that id' },
  RUN_NOT_FOUND: { status: 404, doc: 'no run with that id in the workspace' },
  SCHEDULE_NOT_FOUND: { status: 404, doc: 'no scheduled webhook, plugin schedule or hook with that id in the workspace' },
  API_KEY_NOT_FOUND: { status: 404, doc: 'no API key with that id in the workspace' },
  TOKEN_NOT_FOUND: { status: 404, doc: 'no workspace token with that id in the workspace (a revoked token is gone)' },
  // conflicts
  APP_INSTALL_FAILED: { status: 422, doc: "the app's onAppInstall handler refused the installation (its message says why); nothing was installed" },
  APP_SETTINGS_REFUSED: { status: 422, doc: "the app's onSettingsUpdate handler refused the new installation parameters; nothing changed" },
  WORKSPACE_EXISTS: { status: 409, doc: 'a workspace with that id exists' },
  VERSION_EXISTS: { status: 409, doc: 'that plugin version is published; versions are immutable' },
  NAMESPACE_TAKEN: { status: 409, doc: 'another installation in the workspace uses that namespace' },
  // packages
  INVALID_MANIFEST: { status: 422, doc: 'plugin.json breaks the manifest rules; details list each problem by field path' },
  INVALID_ARCHIVE: { status: 400, doc: 'the package is not a readable .zip or .tar.gz, or holds an unsafe path' },
  PACKAGE_TOO_LARGE: { status: 413, doc: 'the package is over 5 MiB packed or 20 MiB unpacked, or holds too many files' },
  INVALID_IPARAMS: { status: 422, doc: 'installation parameters are missing or of the wrong type' },
  // plugin runs
  PLUGIN_ERROR: { status: 500, doc: 'the plugin threw or rejected, or sent a response Node cannot send (status outside 200–599, invalid header name or value)' },
  PLUGIN_TIMEOUT: { status: 504, doc: 'the plugin did not finish or respond within its time limit' },
  PLUGIN_MEMORY_LIMIT: { status: 500, doc: 'the plugin ran out of its isolate memory' },
  PLUGIN_RESULT_TOO_LARGE: { status: 500, doc: 'the plugin produced a response over the size limit' },
  PLUGIN_NO_HANDLER: { status: 500, doc: 'the plugin module does not export the function the host must call' },
  PLUGIN_LOAD_ERROR: { status: 500, doc: 'the plugin code failed to load (syntax error, missing module, throw at top level)' },
  PLUGIN_LIMIT: { status: 429, doc: 'the plugin reached one of its budgets (see Budgets in the README); `details.limit` names it' },
  PLUGIN_DB_INVALID: { status: 400, doc: 'a P.db table declaration or query breaks Haplo\'s rules (a bad name, an unknown field or type, a field whose type changed)' },
  PLUGIN_DB_CONSTRAINT: { status: 409, doc: 'a P.db write would break a unique index of its table' },
  // Haplo services and integration messages
  SERVICE_NOT_IMPLEMENTED: { status: 404, doc: 'no installation in the workspace implements that Haplo service' },
  SERVICE_DEADLOCK: { status: 409, doc: 'a synchronous service call would call back into an installation already waiting on it' },
  QUEUE_NOT_FOUND: { status: 404, doc: 'no integration-message queue or message with that name or id in the workspace' },
  POLL_KEY_NOT_FOUND: { status: 404, doc: 'no Haplo poll key with that id in the workspace (a revoked key is gone)' },
  SENDING_DISABLED: { status: 409, doc: 'this store is a copy (clone guard): an operator must enable sending on this host first' },
  SEND_FAILED: { status: 502, doc: 'sending a queue\'s messages failed; they stay unsent and the error is recorded on the queue' },
  WEBHOOK_FAILED: { status: 502, doc: 'a scheduled webhook\'s endpoint answered with an error status' },
  // egress
  EGRESS_DENIED: { status: 403, doc: 'an outbound request went to a host or address the policy refuses' },
  EGRESS_FAILED: { status: 502, doc: 'an outbound request failed (connection, too large, too slow)' },
  // host
  STORE_UNAVAILABLE: { status: 503, doc: 'the database cannot be reached' },
  STORE_FULL: { status: 507, doc: 'the database (or the disk under it) is full: writes fail until space is freed' },
  SCHEDULER_STALLED: { status: 503, doc: 'the scheduler started but has not completed a pass within 5 poll intervals' },
  INTERNAL: { status: 500, doc: 'an unexpected host error; the log has the cause' },
} as const satisfies Record<string, { status: number; doc: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** 5xx codes whose messages are about the caller's own request, so the caller may read them. */
const EXPOSED_5XX = new Set<string>(['EGRESS_FAILED', 'SEND_FAILED', 'WEBHOOK_FAILED', 'STORE_UNAVAILABLE', 'STORE_FULL', 'SCHEDULER_STALLED']);

export interface PlughostErrorOptions {
  cause?: unknown;
  /** Per-field problems, e.g. manifest issues by path. */
  details?: unknown;
  /** Override the code's default status (rare). */
  status?: number;
  /** Whether the message may be shown to the client; default: status < 500 or a plugin error. */
  expose?: boolean;
}

export class PlughostError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: PlughostErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PlughostError';
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.expose = options.expose ?? (this.status < 500 || code.startsWith('PLUGIN_') || EXPOSED_5XX.has(code));
    this.details = options.details;
  }
}

export function isPlughostError(err: unknown, code?: ErrorCode): err is PlughostError {
  return err instanceof PlughostError && (code === undefined || err.code === code);
}
