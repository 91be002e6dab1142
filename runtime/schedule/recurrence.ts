// When a schedule fires. Every recurrence is a sequence of wall times in the schedule's zone
// (or plain instants for Freshworks' UTC schedules), mapped to instants by zoned-time's
// daylight-saving rules. Cron expressions are evaluated by cron-parser in UTC on wall time,
// never with its own zone handling: its DST arithmetic has open bugs (issues 404 and 378), and
// in UTC there are no jumps to get wrong.
import { CronExpressionParser } from 'cron-parser';
import { daysInMonth, instantToWall, offsetAt, wallFields, wallToInstant } from './zoned-time.ts';

export type Frequency = 'hourly' | 'daily' | 'weekly' | 'monthly';

export type Recurrence =
  /** Scheduled webhooks: a frequency anchored at `anchorWall`, or a cron expression, in `timezone`. */
  | { type: 'calendar'; timezone: string; anchorWall: number; frequency?: Frequency | undefined; cron?: string | undefined }
  /** Freshworks `$schedule`: `at`, then every `everyMs` if it repeats. */
  | { type: 'interval'; at: number; everyMs?: number | undefined }
  /** Haplo hooks: wall times in the workspace zone, every hour or daily at `hour`. */
  | { type: 'hook'; timezone: string; hour?: number | undefined };

const HOUR = 3_600_000;
const DAY = 86_400_000;

function addMonths(anchorWall: number, n: number): number {
  const f = wallFields(anchorWall);
  const total = f.month - 1 + n;
  const year = f.year + Math.floor(total / 12);
  const month0 = ((total % 12) + 12) % 12;
  // The 29th-31st fall on a shorter month's last day rather than skipping it.
  const day = Math.min(f.day, daysInMonth(year, month0 + 1));
  return Date.UTC(year, month0, day, f.hour, f.minute, f.second);
}

/** Wall times of a frequency, in order, from the one at or before `fromWall`. */
function* frequencyWalls(anchorWall: number, frequency: Frequency, fromWall: number): Generator<number> {
  if (frequency === 'monthly') {
    const a = wallFields(anchorWall), b = wallFields(fromWall);
    let k = Math.max(0, (b.year - a.year) * 12 + (b.month - a.month) - 1);
    for (;;) yield addMonths(anchorWall, k++);
  }
  const step = frequency === 'hourly' ? HOUR : frequency === 'daily' ? DAY : 7 * DAY;
  let k = Math.max(0, Math.floor((fromWall - anchorWall) / step) - 1);
  for (;;) yield anchorWall + step * k++;
}

function* cronWalls(expression: string, fromWall: number): Generator<number> {
  const it = CronExpressionParser.parse(expression, { currentDate: new Date(fromWall), tz: 'UTC' });
  for (;;) yield it.next().getTime();
}

const SHIFT = 3 * HOUR; // no zone moves its clocks by more than this at once

/** True when `tz` changes its offset within SHIFT of `instant`. */
function nearTransition(instant: number, tz: string): boolean {
  const o = offsetAt(instant, tz);
  return offsetAt(instant - SHIFT, tz) !== o || offsetAt(instant + SHIFT, tz) !== o;
}

function* hookWalls(hour: number | undefined, fromWall: number): Generator<number> {
  const step = hour === undefined ? HOUR : DAY;
  const first = hour === undefined ? Math.floor(fromWall / HOUR) * HOUR - HOUR : Math.floor(fromWall / DAY) * DAY - DAY + hour * HOUR;
  for (let k = 0; ; k++) yield first + step * k;
}

/** The first fire time strictly after `after` (epoch ms), or null when there is none. */
export function nextAfter(r: Recurrence, after: number): number | null {
  if (r.type === 'interval') {
    if (r.at > after) return r.at;
    if (!r.everyMs) return null;
    return r.at + (Math.floor((after - r.at) / r.everyMs) + 1) * r.everyMs;
  }
  const fromWall = instantToWall(after, r.timezone);
  // Near a DST change a wall time earlier than `fromWall` can still map after `after`, so the
  // walk starts a little back; elsewhere a cron starts right at `fromWall` (an every-second
  // cron would otherwise walk thousands of slots).
  const cronFrom = nearTransition(after, r.timezone) ? fromWall - SHIFT : fromWall - 1000;
  const walls = r.type === 'hook' ? hookWalls(r.hour, fromWall)
    : r.cron ? cronWalls(r.cron, Math.max(cronFrom, r.anchorWall - 1000))
    : frequencyWalls(r.anchorWall, r.frequency ?? 'daily', fromWall);
  // Gaps can map several wall times onto one instant; fall-back can map a later wall time
  // earlier than `after`. Keep walking until an instant lies strictly after `after`.
  for (let i = 0; i < 20_000; i++) {
    const wall = walls.next().value as number;
    if (r.type === 'calendar' && wall < r.anchorWall) continue;
    const instant = wallToInstant(wall, r.timezone);
    if (instant > after) return instant;
  }
  return null;
}

/** The next `count` fire times after `after`. */
export function preview(r: Recurrence, after: number, count: number): number[] {
  const out: number[] = [];
  let t = after;
  while (out.length < count) {
    const next = nextAfter(r, t);
    if (next === null) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** Throws cron-parser's message for an invalid expression. */
export function checkCron(expression: string): void {
  CronExpressionParser.parse(expression, { tz: 'UTC', strict: false });
}
