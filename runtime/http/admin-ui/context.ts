// What every admin UI page handler shares: the router's state (principal, session, form),
// the dependencies, and helpers to answer a page, redirect (post/redirect/get) and run a
// form's action with its outcome shown as a flash message on the next page.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Principal } from '../../auth.ts';
import { PlughostError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { Workspace } from '../../store/workspaces.ts';
import type { ApiDeps } from '../api-context.ts';
import type { PageContext, Section } from './layout.ts';
import type { Flash, Session, Sessions } from './session.ts';

export interface UiState {
  principal: Principal;
  session: Session;
  /** The POSTed form (urlencoded); empty on GET. */
  form: URLSearchParams;
  flash?: Flash | undefined;
}

export type UiRouter = Router<UiState>;
export type UiContext = Context & { state: UiState; params: Record<string, string> };
export interface UiDeps extends ApiDeps { log: Logger; sessions: Sessions }

export function pageContext(ctx: Context, section?: Section, workspace?: Workspace): PageContext {
  const state = ctx.state as Partial<UiState>;
  return { principal: state.principal, csrf: state.session?.csrf, flash: state.flash, section, workspace };
}

export function sendPage(ctx: Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = body;
}

/** 303 See Other: the browser follows with a GET. `to` is always a path this UI built. */
export function seeOther(ctx: Context, to: string): void {
  ctx.status = 303;
  ctx.set('location', to);
  ctx.body = '';
}

/** The workspace of the path, if the signed-in principal may manage it (else FORBIDDEN). */
export async function workspaceOf(ctx: UiContext, deps: UiDeps): Promise<Workspace> {
  deps.auth.checkWorkspace(ctx.state.principal, ctx.params.ws!);
  return deps.store.workspaces.require(ctx.params.ws!);
}

/** The message a person may read for an error, or undefined when it is not one to show. */
export function readableError(err: unknown): string | undefined {
  return err instanceof PlughostError && err.expose ? err.message : undefined;
}

/**
 * Runs a form's action. Success: a notice and a redirect to `to` (default `back`). A
 * PlughostError whose message may be shown: that message as an error, back on `back`.
 */
export async function act(ctx: UiContext, deps: UiDeps, back: string, fn: () => Promise<{ notice: string; to?: string; failed?: boolean }>): Promise<void> {
  try {
    const { notice, to, failed } = await fn();
    await deps.sessions.flash(ctx, { kind: failed ? 'error' : 'notice', text: notice });
    seeOther(ctx, to ?? back);
  } catch (err) {
    const message = readableError(err);
    if (message === undefined || (err as PlughostError).code === 'FORBIDDEN') throw err;
    await deps.sessions.flash(ctx, { kind: 'error', text: `${(err as PlughostError).code}: ${message}` });
    seeOther(ctx, back);
  }
}

/**
 * For a form shown again after a failed action (with what was typed): the error to show and the
 * status to answer. An error that is not one to show, or FORBIDDEN, is thrown on.
 */
export function shownError(err: unknown): { error: string; status: number } {
  const message = readableError(err);
  if (message === undefined || (err as PlughostError).code === 'FORBIDDEN') throw err;
  return { error: `${(err as PlughostError).code}: ${message}`, status: (err as PlughostError).status };
}

/** The audit log's actor for the signed-in principal, as the REST API writes it. */
export const actorOf = (p: Principal) => `${p.kind}:${p.tokenId}`;

/** A single text field of the form, trimmed; undefined when absent. */
export function field(ctx: UiContext, name: string): string | undefined {
  const v = ctx.state.form.get(name);
  return v === null ? undefined : v.trim();
}
