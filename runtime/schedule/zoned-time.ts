// Wall-clock time in an IANA zone, and the daylight-saving rules every schedule follows:
// a wall time inside a spring-forward gap maps to the first valid instant after it (the
// transition itself), and a wall time repeated by fall-back maps to its first occurrence
// only. "Wall" values are the local date-time written as if it were UTC milliseconds, so
// calendar arithmetic on them (add a day, a month) never meets a DST jump.

export interface WallFields { year: number; month: number; day: number; hour: number; minute: number; second: number }

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

// formatToParts costs microseconds and a schedule's times repeat (many schedules share a
// minute, and each firing computes its next time): the walls of recent whole seconds are kept
// per zone, at most WALL_MEMO of them (dropped all at once when full).
const WALL_MEMO = 4096;
const walls = new Map<string, Map<number, number>>();

/** The wall time (as fake-UTC ms, whole seconds) that `instant` shows in `tz`. */
export function instantToWall(instant: number, tz: string): number {
  const second = Math.floor(instant / 1000);
  let memo = walls.get(tz);
  if (!memo) walls.set(tz, (memo = new Map()));
  let wall = memo.get(second);
  if (wall === undefined) {
    const parts: Record<string, number> = {};
    for (const p of formatter(tz).formatToParts(new Date(second * 1000))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    if (memo.size >= WALL_MEMO) memo.clear();
    memo.set(second, wall);
  }
  return wall + (instant - second * 1000);
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
export function offsetAt(instant: number, tz: string): number {
  return instantToWall(instant, tz) - instant;
}

/** The instant a wall time happens in `tz`, with the gap and overlap rules above. */
export function wallToInstant(wall: number, tz: string): number {
  const day = 86_400_000;
  const offsets = new Set([offsetAt(wall - day, tz), offsetAt(wall, tz), offsetAt(wall + day, tz)]);
  const valid = [...offsets].map((o) => wall - o).filter((i) => instantToWall(i, tz) === wall);
  if (valid.length > 0) return Math.min(...valid); // fall-back: the first occurrence
  // Spring-forward gap: find the transition between the instant read with the later offset
  // (before the jump) and with the earlier one (after it).
  let lo = wall - Math.max(...offsets);
  let hi = wall - Math.min(...offsets);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (instantToWall(mid, tz) < wall) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function wallFields(wall: number): WallFields {
  const d = new Date(wall);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYY-MM-DD HH:mm:ss` of `instant` in `tz`, the format scheduled webhooks send. */
export function formatInZone(instant: number, tz: string): string {
  const f = wallFields(instantToWall(instant, tz));
  return `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)} ${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}`;
}

/** Parses `YYYY-MM-DD[T ]HH:mm[:ss]` (no zone) as a wall time; undefined when malformed. */
export function parseWall(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as number[];
  const wall = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  const f = wallFields(wall);
  if (f.year !== year || f.month !== month || f.day !== day || f.hour !== hour || f.minute !== minute || f.second !== second) return undefined;
  return wall;
}

export function daysInMonth(year: number, month1: number): number {
  return new Date(Date.UTC(year, month1, 0)).getUTCDate();
}
