import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import { nextCheckDelayMs, queuedCheckDelaySeconds } from '../../lambda/runtime/poll-schedule.ts';

/** The instants (ms after the opening request) at which checks happen, up to `untilMs`. */
function checkTimes(untilMs: number, settings = DEFAULT_POLL): number[] {
  const times: number[] = [];
  for (let elapsed = 0; elapsed < untilMs; ) {
    elapsed += nextCheckDelayMs(settings, elapsed);
    times.push(elapsed);
  }
  return times;
}

describe('nextCheckDelayMs', () => {
  it('checks first at 0.5 s, then every second while the opening is young', () => {
    expect(checkTimes(4_500)).toEqual([500, 1_500, 2_500, 3_500, 4_500]);
  });

  it('then waits a quarter of the time already spent', () => {
    expect(nextCheckDelayMs(DEFAULT_POLL, 8_000)).toBe(2_000);
    expect(nextCheckDelayMs(DEFAULT_POLL, 100_000)).toBe(25_000);
  });

  it('never waits longer than the maximum delay', () => {
    expect(nextCheckDelayMs(DEFAULT_POLL, 36_000_000)).toBe(900_000);
    expect(nextCheckDelayMs({ ...DEFAULT_POLL, maxDelaySeconds: 60 }, 36_000_000)).toBe(60_000);
  });

  it('confirms an operation of 10 s or less within 1.5 s, with no more checks than toloka-kit', () => {
    for (const lengthMs of [1_000, 3_000, 5_000, 10_000]) {
      const times = checkTimes(lengthMs);
      const confirmedAt = times.at(-1) ?? 0;
      expect(confirmedAt - lengthMs).toBeLessThanOrEqual(1_500);
      // toloka-kit sleeps 0.5 s, then checks every second until it sees the end.
      const tolokaKitChecks = Math.ceil((lengthMs - 500) / 1_000) + 1;
      expect(times.length).toBeLessThanOrEqual(tolokaKitChecks);
    }
  });

  it('checks a 60 s operation at most a third as often as toloka-kit, within 20 % of its length', () => {
    const times = checkTimes(60_000);
    expect(times.length).toBeLessThanOrEqual(60 / 3);
    expect((times.at(-1) ?? 0) - 60_000).toBeLessThan(12_000);
  });

  it('follows an hour-long operation with few checks', () => {
    expect(checkTimes(3_600_000).length).toBeLessThan(40);
  });
});

describe('queuedCheckDelaySeconds', () => {
  it('rounds up to the whole seconds SQS takes', () => {
    expect(queuedCheckDelaySeconds(DEFAULT_POLL, 30_000, 3_600_000)).toBe(8);
  });

  it('never exceeds the SQS maximum of 900 seconds', () => {
    const settings = { ...DEFAULT_POLL, backoffFactor: 10 };
    for (const elapsed of [0, 1_000, 100_000, 10_000_000, 1e12]) {
      expect(queuedCheckDelaySeconds(settings, elapsed, 1e12)).toBeLessThanOrEqual(900);
    }
  });

  it('lands the last check on the deadline rather than past it', () => {
    expect(queuedCheckDelaySeconds(DEFAULT_POLL, 3_000_000, 42_200)).toBe(43);
    expect(queuedCheckDelaySeconds(DEFAULT_POLL, 3_000_000, 0)).toBe(0);
    expect(queuedCheckDelaySeconds(DEFAULT_POLL, 3_000_000, -5_000)).toBe(0);
  });
});
