/**
 * When a schedule fires, as EventBridge Scheduler fires it (lib/schedule-occurrences.ts): cron read
 * in its zone across daylight-saving changes (a skipped time does not run, a repeated one runs
 * once), the special day fields, rate and at. The dates are those of the zones' rules, not today's.
 */
import { describe, expect, it } from 'vitest';
import { nextOccurrences, numericDayOfWeekWarning } from '../../lib/schedule-occurrences.ts';

const iso = (ms: number[]) => ms.map((at) => new Date(at).toISOString());
const startingAt = (instant: string) => Date.parse(instant);

describe('cron in a time zone, across daylight saving', () => {
  it('keeps 09:00 Berlin time on both sides of the spring change: 08:00 UTC, then 07:00 UTC', () => {
    const runs = nextOccurrences(
      { expression: 'cron(0 9 ? * MON-FRI *)', timeZone: 'Europe/Berlin' },
      startingAt('2027-03-25T00:00:00Z'),
      4,
    );
    expect(iso(runs)).toEqual([
      '2027-03-25T08:00:00.000Z',
      '2027-03-26T08:00:00.000Z',
      '2027-03-29T07:00:00.000Z',
      '2027-03-30T07:00:00.000Z',
    ]);
  });

  it('does not run a time the clocks skip (02:30 on the spring change day)', () => {
    const runs = nextOccurrences(
      { expression: 'cron(30 2 * * ? *)', timeZone: 'Europe/Berlin' },
      startingAt('2027-03-27T00:00:00Z'),
      2,
    );
    expect(iso(runs)).toEqual(['2027-03-27T01:30:00.000Z', '2027-03-29T00:30:00.000Z']);
  });

  it('runs a time the clocks repeat once, the first time (02:30 on the autumn change day)', () => {
    const runs = nextOccurrences(
      { expression: 'cron(30 2 * * ? *)', timeZone: 'Europe/Berlin' },
      startingAt('2027-10-30T12:00:00Z'),
      2,
    );
    expect(iso(runs)).toEqual(['2027-10-31T00:30:00.000Z', '2027-11-01T01:30:00.000Z']);
  });

  it('reads the day fields as AWS does: L, LW, 15W, 6#1 (first Friday), 2L (last Monday)', () => {
    const first = (expression: string) =>
      iso(nextOccurrences({ expression }, startingAt('2027-01-01T00:00:00Z'), 1))[0];
    expect(first('cron(0 12 L * ? *)')).toBe('2027-01-31T12:00:00.000Z');
    expect(first('cron(0 12 LW * ? *)')).toBe('2027-01-29T12:00:00.000Z'); // the 31st is a Sunday
    expect(first('cron(0 12 16W * ? *)')).toBe('2027-01-15T12:00:00.000Z'); // the 16th is a Saturday
    expect(first('cron(0 12 ? * 6#1 *)')).toBe('2027-01-01T12:00:00.000Z');
    expect(first('cron(0 12 ? * 2L *)')).toBe('2027-01-25T12:00:00.000Z');
    expect(first('cron(0 12 ? * MON#1 2028)')).toBe('2028-01-03T12:00:00.000Z');
  });

  it('keeps to a start and an end date', () => {
    const runs = nextOccurrences(
      {
        expression: 'cron(0 12 * * ? *)',
        startDate: new Date('2027-02-03T00:00:00Z'),
        endDate: new Date('2027-02-05T00:00:00Z'),
      },
      startingAt('2027-01-01T00:00:00Z'),
      5,
    );
    expect(iso(runs)).toEqual(['2027-02-03T12:00:00.000Z', '2027-02-04T12:00:00.000Z']);
  });
});

describe('rate and at', () => {
  it('runs a rate every so much absolute time from its start date', () => {
    const runs = nextOccurrences(
      { expression: 'rate(1 day)', startDate: new Date('2027-03-27T10:00:00Z'), timeZone: 'Europe/Berlin' },
      startingAt('2027-03-27T11:00:00Z'),
      2,
    );
    // 24 hours, whatever the clocks do in between.
    expect(iso(runs)).toEqual(['2027-03-28T10:00:00.000Z', '2027-03-29T10:00:00.000Z']);
  });

  it('runs an at() once, read in its zone, and not when it has passed', () => {
    const query = { expression: 'at(2027-07-01T09:00:00)', timeZone: 'Asia/Tokyo' };
    expect(iso(nextOccurrences(query, startingAt('2027-01-01T00:00:00Z'), 3))).toEqual([
      '2027-07-01T00:00:00.000Z',
    ]);
    expect(nextOccurrences(query, startingAt('2027-07-02T00:00:00Z'), 3)).toEqual([]);
  });
});

describe("a numeric day-of-week, which AWS's cron reads from Sunday", () => {
  it('is named for what it means here: 1-5 is Sunday to Thursday', () => {
    expect(numericDayOfWeekWarning('cron(0 9 ? * 1-5 *)')).toContain('it means SUN-THU');
    expect(numericDayOfWeekWarning('cron(0 9 ? * 2#1 *)')).toContain('it means MON#1');
  });

  it('is no warning for names, ?, * or L, nor for rate and at', () => {
    for (const expression of [
      'cron(0 9 ? * MON-FRI *)',
      'cron(0 9 1 * ? *)',
      'cron(0 9 ? * L *)',
      'rate(1 day)',
      'at(2027-01-01T00:00:00)',
    ]) {
      expect(numericDayOfWeekWarning(expression), expression).toBeUndefined();
    }
  });
});
