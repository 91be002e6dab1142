// Planning: which occurrences a due schedule gets, by its misfire policy. An occurrence is
// late when it is more than the grace period behind; after downtime, `coalesce` turns all
// the late ones into one catch-up run, `skip` drops them, `all` runs each (at most `cap`).
import type { Schedule } from '../store/schedules.ts';
import type { OccurrenceTrigger } from '../store/occurrences.ts';
import { nextAfter } from './recurrence.ts';

export interface Plan { occurrences: Array<{ dueAt: number; trigger: OccurrenceTrigger }>; next: number | null }

const MAX_WALK = 10_000;

export function planSchedule(s: Schedule, now: number, graceMs: number, cap: number): Plan {
  const due: number[] = [];
  let t = s.nextRunAt;
  while (t !== null && t <= now && due.length < MAX_WALK) {
    due.push(t);
    t = nextAfter(s.recurrence, t);
  }
  // A very long outage of a frequent schedule: stop walking and jump past now.
  if (t !== null && t <= now) t = nextAfter(s.recurrence, now);
  const late = due.filter((d) => now - d > graceMs);
  const onTime = due.filter((d) => now - d <= graceMs).map((dueAt) => ({ dueAt, trigger: 'schedule' as const }));
  let occurrences: Plan['occurrences'];
  if (s.misfire === 'skip') occurrences = onTime;
  else if (s.misfire === 'all') occurrences = [...late.slice(-cap).map((dueAt) => ({ dueAt, trigger: 'catch-up' as const })), ...onTime];
  else occurrences = onTime.length > 0 ? onTime : late.length > 0 ? [{ dueAt: late.at(-1)!, trigger: 'catch-up' as const }] : [];
  return { occurrences, next: t };
}
