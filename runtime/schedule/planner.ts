// Planning: which occurrences a due schedule gets, by its misfire policy. The slots of a
// schedule that fell due by `now` are "missed"; a slot is late when `now - dueAt > grace`
// (the schedule's own `misfireGraceMs`, else the host's `graceMs`), otherwise on time.
//   coalesce: exactly one run, for the newest slot: trigger `catch-up` if it is late, else
//             `schedule`. Older slots, late or not, are dropped.
//   skip:     at most one run: the newest slot, trigger `schedule`, and only if it is on time.
//             Late slots never run; older on-time slots are dropped.
//   all:      every on-time slot (`schedule`) and the late ones as `catch-up`, at most `cap`
//             late ones (the newest kept).
// The README's Schedules section has this as a table; test/schedule/misfire-table.test.ts
// checks it.
import type { Schedule } from '../store/schedules.ts';
import type { OccurrenceTrigger } from '../store/occurrences.ts';
import { nextAfter } from './recurrence.ts';

export interface Plan { occurrences: Array<{ dueAt: number; trigger: OccurrenceTrigger }>; next: number | null }

const MAX_WALK = 10_000;

/** The grace period that applies to `s`: its own, else the host default. */
export const graceOf = (s: Pick<Schedule, 'misfireGraceMs'>, hostGraceMs: number): number => s.misfireGraceMs ?? hostGraceMs;

export function planSchedule(s: Schedule, now: number, hostGraceMs: number, cap: number): Plan {
  const graceMs = graceOf(s, hostGraceMs);
  const due: number[] = [];
  let t = s.nextRunAt;
  while (t !== null && t <= now && due.length < MAX_WALK) {
    due.push(t);
    t = nextAfter(s.recurrence, t);
  }
  // A very long outage of a frequent schedule: stop walking and jump past now.
  if (t !== null && t <= now) t = nextAfter(s.recurrence, now);
  const isLate = (d: number) => now - d > graceMs;
  const newest = due.at(-1);
  let occurrences: Plan['occurrences'] = [];
  if (newest !== undefined) {
    if (s.misfire === 'skip') {
      if (!isLate(newest)) occurrences = [{ dueAt: newest, trigger: 'schedule' }];
    } else if (s.misfire === 'all') {
      const late = due.filter(isLate);
      const onTime = due.filter((d) => !isLate(d));
      occurrences = [
        ...(cap > 0 ? late.slice(-cap) : []).map((dueAt) => ({ dueAt, trigger: 'catch-up' as const })),
        ...onTime.map((dueAt) => ({ dueAt, trigger: 'schedule' as const })),
      ];
    } else {
      occurrences = [{ dueAt: newest, trigger: isLate(newest) ? 'catch-up' : 'schedule' }];
    }
  }
  return { occurrences, next: t };
}
