import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import { checkDelaySeconds } from '../../lambda/runtime/poll-schedule.ts';

describe('checkDelaySeconds', () => {
  it('starts at the first delay and grows by the backoff factor', () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => checkDelaySeconds(DEFAULT_POLL, attempt, 3600));
    expect(delays).toEqual([2, 3, 5, 7, 11]);
  });

  it('never exceeds the SQS maximum of 900 seconds', () => {
    const settings = { ...DEFAULT_POLL, maxDelaySeconds: 900, backoffFactor: 10 };
    for (let attempt = 1; attempt < 40; attempt++) {
      expect(checkDelaySeconds(settings, attempt, 86_400)).toBeLessThanOrEqual(900);
    }
  });

  it('stops at the configured maximum delay', () => {
    expect(checkDelaySeconds({ ...DEFAULT_POLL, maxDelaySeconds: 60 }, 30, 3600)).toBe(60);
  });

  it('lands the last check on the deadline rather than past it', () => {
    expect(checkDelaySeconds(DEFAULT_POLL, 20, 42.2)).toBe(43);
    expect(checkDelaySeconds(DEFAULT_POLL, 20, 0)).toBe(0);
  });

  it('needs few checks for a long operation', () => {
    let elapsed = 0;
    let checks = 0;
    while (elapsed < 3600) {
      checks++;
      elapsed += checkDelaySeconds(DEFAULT_POLL, checks, 3600 - elapsed);
    }
    expect(checks).toBeLessThan(25);
  });
});
