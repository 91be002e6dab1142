// Recurrence rules without a host: `nextAfter` and `preview` for every frequency, cron in a
// zone, `start` anchoring, Freshworks intervals and Haplo hook hours, the daylight-saving
// rules (a time in a spring-forward gap fires once at the first valid instant, a time
// repeated by fall-back fires once, at its first occurrence) around the 2026 transitions in
// America/New_York and Europe/Rome, and `formatInZone` / `parseWall`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextAfter, preview, type Frequency, type Recurrence } from '../../runtime/schedule/recurrence.ts';
import { formatInZone, parseWall, wallToInstant } from '../../runtime/schedule/zoned-time.ts';

const iso = (t: number) => new Date(t).toISOString();
const isoAll = (ts: number[]) => ts.map(iso);
const at = (s: string) => Date.parse(s);
const wall = (s: string) => {
  const w = parseWall(s);
  assert.ok(w !== undefined, `bad wall time ${s}`);
  return w;
};
const calendar = (timezone: string, anchor: string, frequency?: Frequency, cron?: string): Recurrence =>
  ({ type: 'calendar', timezone, anchorWall: wall(anchor), frequency, cron });

/** Every fire time in [from, to). */
function between(r: Recurrence, from: number, to: number): number[] {
  const out: number[] = [];
  let t = from - 1;
  for (;;) {
    const next = nextAfter(r, t);
    if (next === null || next >= to) return out;
    out.push(next);
    t = next;
  }
}

function assertStrictlyIncreasing(ts: number[]) {
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]!, `not increasing at ${i}: ${iso(ts[i - 1]!)} then ${iso(ts[i]!)}`);
  assert.equal(new Set(ts).size, ts.length, 'duplicate instants');
}

test('hourly: every hour on the anchor minute, strictly after `after`', () => {
  const r = calendar('UTC', '2026-01-10 08:15:00', 'hourly');
  assert.deepEqual(isoAll(preview(r, at('2026-01-10T10:00:00Z'), 3)), ['2026-01-10T10:15:00.000Z', '2026-01-10T11:15:00.000Z', '2026-01-10T12:15:00.000Z']);
  // Exactly on a fire time: the next one, never the same.
  assert.equal(iso(nextAfter(r, at('2026-01-10T10:15:00Z'))!), '2026-01-10T11:15:00.000Z');
  assert.equal(iso(nextAfter(r, at('2026-01-10T10:14:59.999Z'))!), '2026-01-10T10:15:00.000Z');
});

test('daily keeps the anchor time of day in the zone', () => {
  const r = calendar('America/New_York', '2015-09-23 21:00:00', 'daily');
  assert.deepEqual(isoAll(preview(r, at('2015-09-23T12:00:00Z'), 3)), ['2015-09-24T01:00:00.000Z', '2015-09-25T01:00:00.000Z', '2015-09-26T01:00:00.000Z']);
});

test('weekly fires on the anchor weekday and time', () => {
  // 2026-01-05 is a Monday.
  const r = calendar('Asia/Tokyo', '2026-01-05 09:30:00', 'weekly');
  const got = preview(r, at('2026-01-06T00:00:00Z'), 3);
  assert.deepEqual(got.map((t) => formatInZone(t, 'Asia/Tokyo')), ['2026-01-12 09:30:00', '2026-01-19 09:30:00', '2026-01-26 09:30:00']);
  assert.deepEqual(isoAll(got), ['2026-01-12T00:30:00.000Z', '2026-01-19T00:30:00.000Z', '2026-01-26T00:30:00.000Z']);
});

test('monthly on the 31st falls on the last day of shorter months and returns to the 31st', () => {
  const r = calendar('UTC', '2026-01-31 10:00:00', 'monthly');
  assert.deepEqual(preview(r, at('2026-01-01T00:00:00Z'), 7).map((t) => formatInZone(t, 'UTC')), [
    '2026-01-31 10:00:00', '2026-02-28 10:00:00', '2026-03-31 10:00:00', '2026-04-30 10:00:00',
    '2026-05-31 10:00:00', '2026-06-30 10:00:00', '2026-07-31 10:00:00',
  ]);
  // A leap year's February has a 29th.
  const leap = calendar('Europe/Rome', '2028-01-31 10:00:00', 'monthly');
  assert.deepEqual(preview(leap, at('2028-02-01T00:00:00Z'), 2).map((t) => formatInZone(t, 'Europe/Rome')), ['2028-02-29 10:00:00', '2028-03-31 10:00:00']);
  // Far from the anchor the walk still lands on the right month.
  assert.equal(formatInZone(nextAfter(r, at('2027-02-15T00:00:00Z'))!, 'UTC'), '2027-02-28 10:00:00');
});

test('`start` anchors the series: nothing before it, the start itself is the first fire time', () => {
  const r = calendar('Europe/Rome', '2026-06-10 07:45:00', 'daily');
  assert.equal(formatInZone(nextAfter(r, at('2026-01-01T00:00:00Z'))!, 'Europe/Rome'), '2026-06-10 07:45:00');
  assert.equal(iso(nextAfter(r, at('2026-01-01T00:00:00Z'))!), '2026-06-10T05:45:00.000Z');
  const hourly = calendar('UTC', '2026-06-10 07:45:00', 'hourly');
  assert.equal(iso(nextAfter(hourly, at('2026-06-10T07:00:00Z'))!), '2026-06-10T07:45:00.000Z');
  // A cron expression does not fire before its start either.
  const cron = calendar('UTC', '2026-06-10 12:00:00', undefined, '0 * * * *');
  assert.deepEqual(isoAll(preview(cron, at('2026-06-10T08:00:00Z'), 2)), ['2026-06-10T12:00:00.000Z', '2026-06-10T13:00:00.000Z']);
});

test('cron expressions are read on wall time in the zone', () => {
  // 09:00 on weekdays in New York: Friday 2026-01-09, then Monday 2026-01-12.
  const r = calendar('America/New_York', '2026-01-01 00:00:00', undefined, '0 9 * * 1-5');
  const got = preview(r, at('2026-01-09T00:00:00Z'), 3);
  assert.deepEqual(got.map((t) => formatInZone(t, 'America/New_York')), ['2026-01-09 09:00:00', '2026-01-12 09:00:00', '2026-01-13 09:00:00']);
  assert.deepEqual(isoAll(got), ['2026-01-09T14:00:00.000Z', '2026-01-12T14:00:00.000Z', '2026-01-13T14:00:00.000Z']);
  // Every 15 minutes in a half-hour zone.
  const q = calendar('Asia/Kolkata', '2026-01-01 00:00:00', undefined, '*/15 * * * *');
  assert.deepEqual(preview(q, at('2026-02-01T00:00:00Z'), 3).map((t) => formatInZone(t, 'Asia/Kolkata')), ['2026-02-01 05:45:00', '2026-02-01 06:00:00', '2026-02-01 06:15:00']);
});

// The 2026 transitions: New York springs forward on 8 March (02:00 EST → 03:00 EDT) and falls
// back on 1 November (02:00 EDT → 01:00 EST); Rome springs forward on 29 March (02:00 CET →
// 03:00 CEST) and falls back on 25 October (03:00 CEST → 02:00 CET, so 02:30 happens twice).
const DST_CASES: Array<{ zone: string; from: string; to: string; expected: Array<[string, string]> }> = [
  {
    zone: 'America/New_York', from: '2026-03-06T00:00:00Z', to: '2026-03-11T00:00:00Z',
    expected: [
      ['2026-03-06T07:30:00.000Z', '2026-03-06 02:30:00'], ['2026-03-07T07:30:00.000Z', '2026-03-07 02:30:00'],
      ['2026-03-08T07:00:00.000Z', '2026-03-08 03:00:00'], // in the gap: the transition itself
      ['2026-03-09T06:30:00.000Z', '2026-03-09 02:30:00'], ['2026-03-10T06:30:00.000Z', '2026-03-10 02:30:00'],
    ],
  },
  {
    zone: 'America/New_York', from: '2026-10-30T00:00:00Z', to: '2026-11-04T00:00:00Z',
    expected: [
      ['2026-10-30T06:30:00.000Z', '2026-10-30 02:30:00'], ['2026-10-31T06:30:00.000Z', '2026-10-31 02:30:00'],
      ['2026-11-01T07:30:00.000Z', '2026-11-01 02:30:00'], // 02:30 is after the repeated hour in New York
      ['2026-11-02T07:30:00.000Z', '2026-11-02 02:30:00'], ['2026-11-03T07:30:00.000Z', '2026-11-03 02:30:00'],
    ],
  },
  {
    zone: 'Europe/Rome', from: '2026-03-27T00:00:00Z', to: '2026-04-01T00:00:00Z',
    expected: [
      ['2026-03-27T01:30:00.000Z', '2026-03-27 02:30:00'], ['2026-03-28T01:30:00.000Z', '2026-03-28 02:30:00'],
      ['2026-03-29T01:00:00.000Z', '2026-03-29 03:00:00'], // in the gap: the transition itself
      ['2026-03-30T00:30:00.000Z', '2026-03-30 02:30:00'], ['2026-03-31T00:30:00.000Z', '2026-03-31 02:30:00'],
    ],
  },
  {
    zone: 'Europe/Rome', from: '2026-10-23T00:00:00Z', to: '2026-10-28T00:00:00Z',
    expected: [
      ['2026-10-23T00:30:00.000Z', '2026-10-23 02:30:00'], ['2026-10-24T00:30:00.000Z', '2026-10-24 02:30:00'],
      ['2026-10-25T00:30:00.000Z', '2026-10-25 02:30:00'], // the first of the two 02:30s (CEST); 01:30Z (CET) does not fire
      ['2026-10-26T01:30:00.000Z', '2026-10-26 02:30:00'], ['2026-10-27T01:30:00.000Z', '2026-10-27 02:30:00'],
    ],
  },
];

for (const c of DST_CASES) {
  test(`daily 02:30 in ${c.zone} fires once a day from ${c.from.slice(0, 10)} to ${c.to.slice(0, 10)}`, () => {
    const got = between(calendar(c.zone, '2026-01-01 02:30:00', 'daily'), at(c.from), at(c.to));
    assert.deepEqual(got.map((t) => [iso(t), formatInZone(t, c.zone)]), c.expected);
    // preview agrees with walking nextAfter.
    assert.deepEqual(preview(calendar(c.zone, '2026-01-01 02:30:00', 'daily'), at(c.from) - 1, 5), got);
  });

  test(`cron "30 2 * * *" in ${c.zone} fires once a day from ${c.from.slice(0, 10)} to ${c.to.slice(0, 10)}`, () => {
    const got = between(calendar(c.zone, '2026-01-01 00:00:00', undefined, '30 2 * * *'), at(c.from), at(c.to));
    assert.deepEqual(got.map((t) => [iso(t), formatInZone(t, c.zone)]), c.expected);
  });
}

test('hourly across the New York transitions: strictly increasing, each local hour once', () => {
  const r = calendar('America/New_York', '2026-01-01 00:00:00', 'hourly');
  const spring = between(r, at('2026-03-08T04:00:00Z'), at('2026-03-08T10:00:00Z'));
  assertStrictlyIncreasing(spring);
  // 23:00, 00:00, 01:00 EST, then the gap hour 02:00 at the jump (03:00 EDT), which is also 03:00: once.
  assert.deepEqual(isoAll(spring), ['2026-03-08T04:00:00.000Z', '2026-03-08T05:00:00.000Z', '2026-03-08T06:00:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z', '2026-03-08T09:00:00.000Z']);
  const fall = between(r, at('2026-11-01T03:00:00Z'), at('2026-11-01T09:00:00Z'));
  assertStrictlyIncreasing(fall);
  // 01:00 happens twice (05:00Z EDT, 06:00Z EST): it fires once, the first time.
  assert.deepEqual(fall.map((t) => formatInZone(t, 'America/New_York')), ['2026-10-31 23:00:00', '2026-11-01 00:00:00', '2026-11-01 01:00:00', '2026-11-01 02:00:00', '2026-11-01 03:00:00']);
  assert.deepEqual(isoAll(fall), ['2026-11-01T03:00:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-01T05:00:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-01T08:00:00.000Z']);
  // Over the whole of both days no local hour fires twice.
  for (const [from, to] of [['2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z'], ['2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z']] as const) {
    const all = between(r, at(from), at(to));
    assertStrictlyIncreasing(all);
    const locals = all.map((t) => formatInZone(t, 'America/New_York'));
    assert.equal(new Set(locals).size, locals.length, 'a local hour fired twice');
  }
});

test('hourly across the Rome transitions: strictly increasing, no duplicates', () => {
  const r = calendar('Europe/Rome', '2026-01-01 00:00:00', 'hourly');
  const spring = between(r, at('2026-03-28T23:00:00Z'), at('2026-03-29T03:00:00Z'));
  assertStrictlyIncreasing(spring);
  // 00:00, 01:00 CET, then 02:00 (gap) at the jump, which is 03:00 CEST: one run at 01:00Z.
  assert.deepEqual(isoAll(spring), ['2026-03-28T23:00:00.000Z', '2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
  const fall = between(r, at('2026-10-24T23:00:00Z'), at('2026-10-25T04:00:00Z'));
  assertStrictlyIncreasing(fall);
  // 02:00 happens at 00:00Z (CEST) and 01:00Z (CET): only the first.
  assert.deepEqual(isoAll(fall), ['2026-10-24T23:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  assert.deepEqual(fall.map((t) => formatInZone(t, 'Europe/Rome')), ['2026-10-25 01:00:00', '2026-10-25 02:00:00', '2026-10-25 03:00:00', '2026-10-25 04:00:00']);
  // A long walk over both transitions with preview.
  const year = preview(r, at('2026-03-01T00:00:00Z'), 24 * 250);
  assertStrictlyIncreasing(year);
});

test('wallToInstant: gap times map to the transition, repeated times to their first occurrence', () => {
  assert.equal(iso(wallToInstant(wall('2026-03-08 02:30:00'), 'America/New_York')), '2026-03-08T07:00:00.000Z');
  assert.equal(iso(wallToInstant(wall('2026-11-01 01:30:00'), 'America/New_York')), '2026-11-01T05:30:00.000Z');
  assert.equal(iso(wallToInstant(wall('2026-03-29 02:00:00'), 'Europe/Rome')), '2026-03-29T01:00:00.000Z');
  assert.equal(iso(wallToInstant(wall('2026-10-25 02:30:00'), 'Europe/Rome')), '2026-10-25T00:30:00.000Z');
});

test('interval recurrences (Freshworks): at, then every N ms; one-time ends', () => {
  const once: Recurrence = { type: 'interval', at: at('2026-05-01T10:00:00Z') };
  assert.equal(iso(nextAfter(once, at('2026-05-01T09:00:00Z'))!), '2026-05-01T10:00:00.000Z');
  assert.equal(nextAfter(once, at('2026-05-01T10:00:00Z')), null);
  const every5: Recurrence = { type: 'interval', at: at('2026-05-01T10:00:00.860Z'), everyMs: 5 * 60_000 };
  assert.deepEqual(isoAll(preview(every5, at('2026-05-01T10:00:00.860Z'), 3)), ['2026-05-01T10:05:00.860Z', '2026-05-01T10:10:00.860Z', '2026-05-01T10:15:00.860Z']);
  assert.equal(iso(nextAfter(every5, at('2026-05-01T11:03:00Z'))!), '2026-05-01T11:05:00.860Z');
  assert.deepEqual(preview(once, at('2026-05-01T09:00:00Z'), 5).length, 1);
});

test('hook recurrences: every hour, or daily at a local hour in the workspace zone', () => {
  const hourly: Recurrence = { type: 'hook', timezone: 'Asia/Kolkata' };
  assert.deepEqual(preview(hourly, at('2026-02-01T00:10:00Z'), 2).map((t) => formatInZone(t, 'Asia/Kolkata')), ['2026-02-01 06:00:00', '2026-02-01 07:00:00']);
  const early: Recurrence = { type: 'hook', timezone: 'Asia/Tokyo', hour: 6 };
  assert.deepEqual(isoAll(preview(early, at('2026-02-01T00:00:00Z'), 2)), ['2026-02-01T21:00:00.000Z', '2026-02-02T21:00:00.000Z']);
  const midnight: Recurrence = { type: 'hook', timezone: 'Asia/Tokyo', hour: 0 };
  assert.equal(iso(nextAfter(midnight, at('2026-02-01T14:59:59Z'))!), '2026-02-01T15:00:00.000Z');
});

test('hourly hooks across the New York transitions: strictly increasing, each local hour once', () => {
  const r: Recurrence = { type: 'hook', timezone: 'America/New_York' };
  for (const [from, to] of [['2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z'], ['2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z']] as const) {
    const all = between(r, at(from), at(to));
    assertStrictlyIncreasing(all);
    const locals = all.map((t) => formatInZone(t, 'America/New_York'));
    assert.equal(new Set(locals).size, locals.length, 'a local hour fired twice');
  }
  // The daily 06:00 hook on both transition days.
  const early: Recurrence = { type: 'hook', timezone: 'America/New_York', hour: 6 };
  assert.deepEqual(isoAll(between(early, at('2026-03-07T00:00:00Z'), at('2026-03-10T00:00:00Z'))), ['2026-03-07T11:00:00.000Z', '2026-03-08T10:00:00.000Z', '2026-03-09T10:00:00.000Z']);
  assert.deepEqual(isoAll(between(early, at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z'))), ['2026-10-31T10:00:00.000Z', '2026-11-01T11:00:00.000Z', '2026-11-02T11:00:00.000Z']);
});

test('an every-minute cron finds its next time without walking a whole day of slots', () => {
  // Each slot costs several Intl look-ups; a day of minutes is ~1440 slots (~6000 look-ups,
  // tens of ms of blocked event loop per call, seconds for preview?count=100).
  const r = calendar('Europe/Rome', '2026-01-01 00:00:00', undefined, '* * * * *');
  const original = Intl.DateTimeFormat.prototype.formatToParts;
  let lookups = 0;
  Intl.DateTimeFormat.prototype.formatToParts = function (this: Intl.DateTimeFormat, date?: Date | number) {
    lookups++;
    return original.call(this, date);
  };
  let next: number | null;
  try {
    next = nextAfter(r, at('2026-05-01T10:00:30Z'));
  } finally {
    Intl.DateTimeFormat.prototype.formatToParts = original;
  }
  assert.equal(iso(next!), '2026-05-01T10:01:00.000Z');
  assert.ok(lookups <= 1000, `nextAfter made ${lookups} time-zone look-ups for one every-minute cron step`);
});

test('formatInZone writes YYYY-MM-DD HH:mm:ss in the zone; parseWall reads it back', () => {
  assert.equal(formatInZone(at('2015-09-24T01:00:00Z'), 'America/New_York'), '2015-09-23 21:00:00');
  assert.equal(formatInZone(at('2026-01-01T00:00:00Z'), 'Asia/Kolkata'), '2026-01-01 05:30:00');
  assert.equal(formatInZone(at('2026-07-01T00:00:05Z'), 'Europe/Rome'), '2026-07-01 02:00:05');
  assert.equal(formatInZone(at('2026-12-31T23:59:59Z'), 'UTC'), '2026-12-31 23:59:59');
  assert.equal(formatInZone(at('2026-06-15T12:00:00Z'), 'Pacific/Chatham'), '2026-06-16 00:45:00');
  assert.equal(parseWall('2026-02-03 04:05'), Date.UTC(2026, 1, 3, 4, 5, 0));
  assert.equal(parseWall('2026-02-03T04:05:06'), Date.UTC(2026, 1, 3, 4, 5, 6));
  assert.equal(parseWall('2026-02-30 04:05'), undefined);
  assert.equal(parseWall('2026-02-03 24:00'), undefined);
  assert.equal(parseWall('tomorrow'), undefined);
  assert.equal(parseWall('2026-02-03T04:05:06Z'), undefined);
});
