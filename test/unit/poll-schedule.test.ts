import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL, type PollSettings } from '../../lambda/runtime/config.ts';
import {
  firstInstantAfter,
  nextCheckDelayMs,
  nextCheckDueMs,
  queuedCheckDelaySeconds,
} from '../../lambda/runtime/poll-schedule.ts';

/** The instants (ms after the opening request) of the checks up to the first at or after `untilMs`. */
function checkTimes(untilMs: number, settings = DEFAULT_POLL): number[] {
  const times: number[] = [];
  for (let at = 0; at < untilMs; ) {
    at = nextCheckDueMs(settings, at);
    times.push(at);
  }
  return times;
}

describe('the check schedule', () => {
  it('checks first at 0.5 s, then every second while the opening is young', () => {
    expect(checkTimes(4_500)).toEqual([500, 1_500, 2_500, 3_500, 4_500]);
  });

  it('then waits a fifth of the time already spent', () => {
    expect(nextCheckDelayMs(DEFAULT_POLL, 10_000)).toBeCloseTo(2_000);
    expect(nextCheckDelayMs(DEFAULT_POLL, 100_000)).toBeCloseTo(20_000);
  });

  it('never waits longer than the maximum delay', () => {
    expect(nextCheckDelayMs(DEFAULT_POLL, 36_000_000)).toBe(900_000);
    expect(nextCheckDelayMs({ ...DEFAULT_POLL, maxDelaySeconds: 60 }, 36_000_000)).toBe(60_000);
  });

  it('confirms an operation of 10 s or less within 1.5 s, with no more checks than toloka-kit', () => {
    for (const lengthMs of [1_000, 3_000, 5_000, 7_000, 10_000]) {
      const times = checkTimes(lengthMs);
      expect((times.at(-1) ?? 0) - lengthMs).toBeLessThanOrEqual(1_500);
      // toloka-kit sleeps 0.5 s, then checks every second until it sees the end.
      const tolokaKitChecks = Math.ceil((lengthMs - 500) / 1_000) + 1;
      expect(times.length).toBeLessThanOrEqual(tolokaKitChecks);
    }
  });

  it('checks an operation of a minute or more at most a third as often as toloka-kit, within 20 % of its length', () => {
    for (const lengthMs of [60_000, 90_000, 300_000, 1_800_000]) {
      const times = checkTimes(lengthMs);
      const tolokaKitChecks = Math.ceil((lengthMs - 500) / 1_000) + 1;
      expect(times.length).toBeLessThanOrEqual(tolokaKitChecks / 3);
      expect((times.at(-1) ?? 0) - lengthMs).toBeLessThan(0.2 * lengthMs);
    }
  });

  it('follows an hour-long operation with few checks', () => {
    expect(checkTimes(3_600_000).length).toBeLessThan(45);
  });
});

describe('nextCheckDueMs', () => {
  it('keeps to the fixed instants whatever time the last check took', () => {
    const onTime = checkTimes(30_000);
    const late = onTime.map((at) => nextCheckDueMs(DEFAULT_POLL, at + 180));
    expect(late.slice(0, -1)).toEqual(onTime.slice(1));
  });

  it('skips the instants it is past, rather than catching up with a burst of checks', () => {
    // A check redelivered six minutes late: the next one is a fifth of that later, not at once.
    expect(nextCheckDueMs(DEFAULT_POLL, 360_000) - 360_000).toBeGreaterThan(36_000);
  });

  it('does not check twice in a row when a check comes a little early', () => {
    const due = checkTimes(60_000).at(-1) ?? 0;
    expect(nextCheckDueMs(DEFAULT_POLL, due - 400)).toBeGreaterThan(due);
  });
});

describe('queuedCheckDelaySeconds', () => {
  it('rounds down to the whole seconds SQS takes, so that delivery does not make the check late', () => {
    expect(queuedCheckDelaySeconds(7_400, 3_600_000)).toBe(7);
    expect(queuedCheckDelaySeconds(7_900, 3_600_000)).toBe(7);
    expect(queuedCheckDelaySeconds(500, 3_600_000)).toBe(1);
    expect(queuedCheckDelaySeconds(-300, 3_600_000)).toBe(0);
  });

  it('never exceeds the SQS maximum of 900 seconds', () => {
    expect(queuedCheckDelaySeconds(5_000_000, 1e12)).toBe(900);
  });

  it('lands the last check on the deadline rather than past it', () => {
    expect(queuedCheckDelaySeconds(60_000, 42_200)).toBe(43);
    expect(queuedCheckDelaySeconds(60_000, 0)).toBe(0);
    expect(queuedCheckDelaySeconds(60_000, -5_000)).toBe(0);
  });
});

describe('the next check in closed form', () => {
  /** The rule stepped from 0, as the schedule defines it: the reference. */
  function stepped(settings: PollSettings, earliest: number): number {
    let due = 0;
    while (due <= earliest) due += nextCheckDelayMs(settings, due);
    return due;
  }

  it.each([
    DEFAULT_POLL,
    { ...DEFAULT_POLL, backoffFactor: 1 },
    { ...DEFAULT_POLL, backoffFactor: 2, minDelaySeconds: 5, maxDelaySeconds: 600 },
    { ...DEFAULT_POLL, backoffFactor: 1.05, minDelaySeconds: 1, maxDelaySeconds: 60 },
    { ...DEFAULT_POLL, backoffFactor: 10, minDelaySeconds: 900, maxDelaySeconds: 900 },
  ])('matches stepping the rule from 0 for %j', (settings) => {
    for (const earliest of [
      0,
      499,
      500,
      501,
      1_000,
      4_999,
      5_000,
      12_345,
      59_999,
      600_000,
      3_599_000,
      12 * 3_600_000,
    ]) {
      expect(
        Math.abs(firstInstantAfter(settings, earliest) - stepped(settings, earliest)),
        `${earliest}`,
      ).toBeLessThan(0.001);
    }
  });

  it('costs no loop over the elapsed time: a check a year into an opening is answered at once', () => {
    const yearMs = 365 * 86_400_000;
    const due = firstInstantAfter(DEFAULT_POLL, yearMs);
    expect(due).toBeGreaterThan(yearMs);
    expect(due - yearMs).toBeLessThanOrEqual(DEFAULT_POLL.maxDelaySeconds * 1000);
  });
});
