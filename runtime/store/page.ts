// Keyset pagination shared by every list: `limit` (1..200, default 50) and an opaque
// `cursor` (the last id of the previous page). Lists answer `{data, nextCursor}`.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';

export interface PageRequest { limit?: number | undefined; cursor?: string | undefined }
export interface Page<T> { data: T[]; nextCursor: string | null }

export function parsePage(query: Record<string, unknown>): PageRequest {
  const limit = query.limit === undefined ? undefined : Number(query.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 200)) {
    throw new PlughostError('INVALID_QUERY', '`limit` must be an integer from 1 to 200');
  }
  const cursor = typeof query.cursor === 'string' && query.cursor !== '' ? query.cursor : undefined;
  return { limit, cursor };
}

/** Applies the page to a query ordered by `column` ascending, and builds the answer. */
export async function pageBy<Row, T>(
  query: Knex.QueryBuilder,
  column: string,
  page: PageRequest,
  map: (row: Row) => T,
): Promise<Page<T>> {
  const limit = page.limit ?? 50;
  let after: string | undefined;
  if (page.cursor !== undefined) {
    after = Buffer.from(page.cursor, 'base64url').toString('utf8');
    if (after === '' || after.length > 200) throw new PlughostError('INVALID_QUERY', '`cursor` is not one this host gave out');
  }
  if (after !== undefined) query.where(column, '>', after);
  const rows = (await query.orderBy(column, 'asc').limit(limit + 1)) as Row[];
  const more = rows.length > limit;
  const data = rows.slice(0, limit);
  const last = data.at(-1) as Record<string, unknown> | undefined;
  return {
    data: data.map(map),
    nextCursor: more && last ? Buffer.from(String(last[column]), 'utf8').toString('base64url') : null,
  };
}
