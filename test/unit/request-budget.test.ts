import { describe, expect, it } from 'vitest';
import { readRuntimeConfig } from '../../lambda/runtime/config.ts';
import { RequestBudgetBusyError, RetriesExhaustedError } from '../../lambda/runtime/errors.ts';
import { type PacerClock, RequestPacer } from '../../lambda/runtime/request-pacer.ts';
import { callToloka } from '../../lambda/runtime/toloka-calls.ts';

/** A clock that moves only when `drain` wakes the next sleeper, to that sleeper's instant. */
class SteppedClock implements PacerClock {
  time = 0;
  /** Sleepers due before this instant wake only then, all together: an event loop that stalled. */
  stalledUntil = Number.NEGATIVE_INFINITY;
  private readonly sleepers: Array<{ at: number; wake: () => void }> = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ at: this.time + ms, wake }));
  }

  /** Wakes the sleepers one by one in the order of their instants, until none is left. */
  async drain(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers.shift();
      if (next === undefined) return;
      this.time = Math.max(this.time, next.at, this.stalledUntil);
      next.wake();
    }
  }
}

/** The most instants that fall in any half-open window of `windowMs`. */
function peakInWindow(instants: readonly number[], windowMs: number): number {
  const sorted = [...instants].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

describe('RequestPacer', () => {
  it('lets 40 requests asked at once go 220 ms apart at 5 a second, in the order asked, never more than 5 in 1.1 s', async () => {
    const clock = new SteppedClock();
    const pacer = new RequestPacer(5, clock);
    const sent: Array<{ index: number; at: number }> = [];
    const all = Array.from({ length: 40 }, (_, index) =>
      pacer.take().then(() => sent.push({ index, at: clock.now() })),
    );
    await clock.drain();
    await Promise.all(all);
    expect(sent.map((s) => s.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(sent.map((s) => s.at)).toEqual(Array.from({ length: 40 }, (_, i) => i * 220));
    expect(
      peakInWindow(
        sent.map((s) => s.at),
        1000,
      ),
    ).toBe(5);
    expect(pacer.queued).toBe(0);
  });

  it('does not make a request wait that comes after a quiet spell', async () => {
    const clock = new SteppedClock();
    const pacer = new RequestPacer(2, clock);
    await pacer.take();
    clock.time = 5_000;
    const before = clock.now();
    await pacer.take();
    expect(clock.now()).toBe(before);
    // The next one within the spacing waits the rest of it.
    const next = pacer.take();
    expect(pacer.queued).toBe(1);
    await clock.drain();
    await next;
    expect(clock.now()).toBe(5_550);
  });

  it('remembers for the given time that a request queued behind a full second of others, and only that', async () => {
    const clock = new SteppedClock();
    const pacer = new RequestPacer(5, clock);
    // Five at once: the fifth waits behind four, less than a second's worth.
    const five = Array.from({ length: 5 }, () => pacer.take());
    expect(pacer.backlogged(20_000)).toBe(false);
    await clock.drain();
    await Promise.all(five);
    clock.time = 10_000;
    const six = Array.from({ length: 6 }, () => pacer.take());
    expect(pacer.backlogged(20_000)).toBe(true);
    await clock.drain();
    await Promise.all(six);
    clock.time = 10_000 + 20_000;
    expect(pacer.backlogged(20_000)).toBe(true);
    clock.time = 10_000 + 20_001;
    expect(pacer.backlogged(20_000)).toBe(false);
  });

  it('at a share of one, lets a lone opening check after its POST without counting it a backlog', async () => {
    const clock = new SteppedClock();
    const pacer = new RequestPacer(1, clock);
    await pacer.take();
    clock.time = 500;
    const check = pacer.take();
    await clock.drain();
    await check;
    expect(clock.now()).toBe(1_100);
    expect(pacer.backlogged(20_000)).toBe(false);
  });

  it('holds the next requests back when a timer fires late, so that no 1.1 s holds more than the share', async () => {
    const clock = new SteppedClock();
    clock.stalledUntil = 1_000;
    const pacer = new RequestPacer(5, clock);
    const sent: number[] = [];
    const all = Array.from({ length: 12 }, () => pacer.take().then(() => sent.push(clock.now())));
    await clock.drain();
    await Promise.all(all);
    expect(sent[0]).toBe(0);
    // Everything due before 1 s went at 1 s at the earliest, one by one, never five at once.
    expect(sent.filter((at) => at === 1_000)).toHaveLength(1);
    expect(peakInWindow(sent, 1_100)).toBeLessThanOrEqual(5);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
  });

  it('takes no turn, and says so at once, when the turn would come later than the caller can wait', async () => {
    const clock = new SteppedClock();
    const pacer = new RequestPacer(1, clock);
    expect(await pacer.take()).toBe(true);
    expect(await pacer.take(500)).toBe(false);
    expect(pacer.queued).toBe(0);
    const later = pacer.take(2_000);
    await clock.drain();
    expect(await later).toBe(true);
    expect(clock.now()).toBe(1_100);
  });

  it('refuses a share that is not a whole number of at least one', () => {
    expect(() => new RequestPacer(0)).toThrow(
      'requestsPerSecond must be a whole number of at least 1, got 0',
    );
    expect(() => new RequestPacer(2.5)).toThrow('got 2.5');
  });
});

describe('callToloka with a request budget', () => {
  const context = (take: (maxWaitMs?: number) => Promise<boolean>) => ({
    tokens: { getToken: async () => 'token' },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined },
    requestBudget: { take },
  });

  it('waits for a turn before each attempt, offering no more than the time the call has left', async () => {
    const offered: number[] = [];
    const result = await callToloka(
      context(async (maxWaitMs) => {
        offered.push(maxWaitMs ?? Number.NaN);
        return true;
      }),
      5_000,
      'getOperation',
      { authorization: 'OAuth token' },
      async () => 'answer',
    );
    expect(result).toBe('answer');
    expect(offered).toHaveLength(1);
    expect(offered[0]).toBeLessThanOrEqual(5_000);
    expect(offered[0]).toBeGreaterThan(4_000);
  });

  it('sends nothing when no turn comes within that time, and fails as a transient error', async () => {
    let sent = 0;
    const error = await callToloka(
      context(async () => false),
      5_000,
      'open',
      { authorization: 'OAuth token' },
      async () => {
        sent++;
        return 'answer';
      },
    ).catch((caught: unknown) => caught);
    expect(sent).toBe(0);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).cause).toBeInstanceOf(RequestBudgetBusyError);
    expect(((error as RetriesExhaustedError).cause as RequestBudgetBusyError).code).toBe(
      'TOLOKA_REQUEST_BUDGET_BUSY',
    );
  });
});

describe('TOLOKA_REQUESTS_PER_SECOND', () => {
  const base = {
    TOLOKA_TOKEN_PARAMETER: '/t',
    CHECK_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/checks',
    OPENINGS_TABLE: 'openings',
  };

  it('is the instance’s share when set, and no pacing when absent', () => {
    expect(readRuntimeConfig({ ...base, TOLOKA_REQUESTS_PER_SECOND: '5' }).requestsPerSecond).toBe(5);
    expect(readRuntimeConfig(base).requestsPerSecond).toBeUndefined();
  });

  it('is refused, naming the variable, when it is not a whole number from 1 to 300', () => {
    expect(() => readRuntimeConfig({ ...base, TOLOKA_REQUESTS_PER_SECOND: '0.5' })).toThrow(
      'TOLOKA_REQUESTS_PER_SECOND: must be a whole number, got "0.5"',
    );
    expect(() => readRuntimeConfig({ ...base, TOLOKA_REQUESTS_PER_SECOND: '301' })).toThrow(
      'TOLOKA_REQUESTS_PER_SECOND: must be between 1 and 300, got 301',
    );
  });
});
