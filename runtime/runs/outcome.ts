// The success rule, in one place: what a finished invocation or outbound call means for its
// run. A scheduled webhook succeeds on a 2xx only, whether it reached an in-process route or
// an outside URL; every other run succeeds when its plugin code finished without error. An
// error answer's body (its start) is kept in the run's log, so a failed run says why.
import type { InvocationOutcome } from '../sandbox/types.ts';
import type { RunKind } from '../store/runs.ts';

/** Most bytes of an error response kept on its run. */
export const ERROR_EXCERPT_BYTES = 500;

/** The start of an answer's body as one line of text (an error reply's reason), or '' when empty. */
export function bodyExcerpt(body: Uint8Array | undefined): string {
  if (!body || body.byteLength === 0) return '';
  const text = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, ERROR_EXCERPT_BYTES)).toString('utf8').replace(/\s+/g, ' ').trim();
  return body.byteLength > ERROR_EXCERPT_BYTES ? `${text}…` : text;
}

/** True when an HTTP status counts as a delivered webhook. */
export const webhookDelivered = (status: number): boolean => status >= 200 && status < 300;

/** The outcome as its run records it: the success rule applied, an error answer's reason kept. */
export function settle(kind: RunKind, outcome: InvocationOutcome): InvocationOutcome {
  const answered = outcome.response;
  if (!answered || answered.status < 400 && (kind !== 'webhook' || webhookDelivered(answered.status))) return outcome;
  const excerpt = bodyExcerpt(answered.body);
  let settled = outcome;
  if (excerpt && answered.status >= 400) {
    settled = { ...settled, log: `${settled.log}${settled.log && !settled.log.endsWith('\n') ? '\n' : ''}[host] answered ${answered.status}: ${excerpt}\n` };
  }
  if (kind === 'webhook' && !webhookDelivered(answered.status)) {
    settled = { ...settled, status: 'failed', error: settled.error ?? { code: 'WEBHOOK_FAILED', message: `the route answered ${answered.status}${excerpt ? `: ${excerpt}` : ''}` } };
  }
  return settled;
}

/** True when the plugin or the endpoint asked not to retry (a `{noRetry: true}` throw or `x-plughost-no-retry: true`). */
export function askedNoRetry(outcome: InvocationOutcome): boolean {
  return outcome.error?.noRetry === true || outcome.response?.headers['x-plughost-no-retry'] === 'true';
}
