import { describe, expect, it } from 'vitest';
import { RetriesExhaustedError, TolokaApiError, TolokaNetworkError } from '../../lambda/runtime/errors.ts';
import { retryDelayMs, withRetries } from '../../lambda/runtime/retry.ts';
import { ManualClock } from '../support/fakes.ts';

const policy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };
const unavailable = () => new TolokaApiError(503, { code: 'REMOTE_SERVICE_UNAVAILABLE' });

describe('withRetries', () => {
  it('retries a transient failure and returns the later success', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const result = await withRetries(policy, { budgetMs: 60_000, ...clock, random: () => 1 }, async () => {
      calls++;
      if (calls < 3) throw unavailable();
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([200, 400]);
  });

  it('does not retry a permanent failure', async () => {
    let calls = 0;
    const conflict = new TolokaApiError(409, { code: 'CONFLICT_STATE' });
    await expect(
      withRetries(policy, { budgetMs: 60_000, ...new ManualClock() }, async () => {
        calls++;
        throw conflict;
      }),
    ).rejects.toBe(conflict);
    expect(calls).toBe(1);
  });

  it('gives up after the maximum number of attempts with the last error as cause', async () => {
    let calls = 0;
    const error = await withRetries(policy, { budgetMs: 60_000, ...new ManualClock() }, async () => {
      calls++;
      throw new TolokaNetworkError('reset', { cause: new Error('ECONNRESET'), timedOut: false });
    }).catch((caught: unknown) => caught);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).cause).toBeInstanceOf(TolokaNetworkError);
  });

  it('gives up early when the next pause would outlast the time budget', async () => {
    let calls = 0;
    const clock = new ManualClock();
    const rateLimited = new TolokaApiError(429, { code: 'TOO_MANY_REQUESTS' }, 30_000);
    await expect(
      withRetries(policy, { budgetMs: 10_000, ...clock }, async () => {
        calls++;
        throw rateLimited;
      }),
    ).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(calls).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('retryDelayMs', () => {
  it('honours Retry-After when Toloka sends it', () => {
    const error = new TolokaApiError(429, {}, 1_500);
    expect(retryDelayMs(policy, 1, error, () => 0)).toBe(1_500);
  });

  it('uses full jitter under an exponential ceiling without Retry-After', () => {
    expect(retryDelayMs(policy, 3, unavailable(), () => 1)).toBe(800);
    expect(retryDelayMs(policy, 3, unavailable(), () => 0.5)).toBe(400);
    expect(retryDelayMs(policy, 30, unavailable(), () => 1)).toBe(5_000);
  });
});
