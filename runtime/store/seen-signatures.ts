// Signatures a signed plugin route has accepted, kept while they could still verify, so a
// replay is refused on every host that shares the store. A row is written with one atomic
// insert-if-absent; each write also deletes a bounded batch of expired rows, so the table
// holds little more than the signatures of the tolerance window.
import type { Knex } from 'knex';

/** Expired rows deleted by each write: more than one, so any backlog shrinks. */
const PURGE_BATCH = 100;
/**
 * Rows are kept this long past the end of their signature's window, so a host whose clock is
 * behind the others' cannot accept a signature another host has already forgotten.
 */
export const CLOCK_SKEW_MS = 60_000;

export function seenSignaturesTable(db: Knex) {
  return {
    /**
     * Records `signature` as used; false when it already was (a replay). `validUntil`: the end
     * of its window (ms); `now` decides which rows have expired.
     */
    async spend(signature: string, validUntil: number, now: number): Promise<boolean> {
      const expired = db('seen_signatures').select('signature').where('expires_at', '<', now).limit(PURGE_BATCH);
      await db('seen_signatures').whereIn('signature', expired).delete();
      const inserted = await db('seen_signatures').insert({ signature, expires_at: validUntil + CLOCK_SKEW_MS }).onConflict('signature').ignore().returning('signature');
      return inserted.length === 1;
    },
    /** Rows held: at most the signatures of one window and a few expired ones. */
    async count(): Promise<number> {
      const row = await db('seen_signatures').count({ n: '*' }).first();
      return Number(row?.n ?? 0);
    },
  };
}
