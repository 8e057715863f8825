import { describe, expect, it } from 'vitest';
import { PacedTolokaApi } from '../../lambda/adapters/paced-toloka-api.ts';
import { readRuntimeConfig } from '../../lambda/runtime/config.ts';
import type { TolokaApi } from '../../lambda/runtime/ports.ts';
import { type PacerClock, RequestPacer } from '../../lambda/runtime/request-pacer.ts';

/** A clock that moves only when `drain` wakes the next sleeper, to that sleeper's instant. */
class SteppedClock implements PacerClock {
  time = 0;
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
      this.time = Math.max(this.time, next.at);
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
    // Four at once: the fourth waits behind three, less than a second's worth.
    const four = Array.from({ length: 4 }, () => pacer.take());
    expect(pacer.backlogged(20_000)).toBe(false);
    await clock.drain();
    await Promise.all(four);
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

  it('refuses a share that is not a whole number of at least one', () => {
    expect(() => new RequestPacer(0)).toThrow(
      'requestsPerSecond must be a whole number of at least 1, got 0',
    );
    expect(() => new RequestPacer(2.5)).toThrow('got 2.5');
  });
});

describe('PacedTolokaApi', () => {
  it('paces every kind of request, retries included, and passes answers and errors through unchanged', async () => {
    const clock = new SteppedClock();
    const calls: Array<{ method: string; at: number }> = [];
    const failure = new Error('429');
    const inner: TolokaApi = {
      act: async () => {
        calls.push({ method: 'act', at: clock.now() });
        return { kind: 'already-done' };
      },
      getOperation: async (id) => {
        calls.push({ method: 'getOperation', at: clock.now() });
        if (id === 'fails') throw failure;
        return { id, type: 'POOL.OPEN', status: 'SUCCESS' } as never;
      },
      getTarget: async () => {
        calls.push({ method: 'getTarget', at: clock.now() });
        return { status: 'OPEN' } as never;
      },
      findRunningOperation: async () => {
        calls.push({ method: 'findRunningOperation', at: clock.now() });
        return undefined;
      },
    };
    const api = new PacedTolokaApi(inner, new RequestPacer(4, clock));
    const target = { kind: 'pool' as const, id: '1' };
    const results = Promise.allSettled([
      api.act(target, 'open', 'OAuth x'),
      api.getOperation('op', 'OAuth x'),
      api.getOperation('fails', 'OAuth x'),
      api.getTarget(target, 'OAuth x'),
      api.findRunningOperation(target, 'close', 'OAuth x'),
    ]);
    await clock.drain();
    const settled = await results;
    expect(calls).toEqual([
      { method: 'act', at: 0 },
      { method: 'getOperation', at: 275 },
      { method: 'getOperation', at: 550 },
      { method: 'getTarget', at: 825 },
      { method: 'findRunningOperation', at: 1100 },
    ]);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { kind: 'already-done' } });
    expect(settled[2]).toEqual({ status: 'rejected', reason: failure });
    expect(settled[4]).toEqual({ status: 'fulfilled', value: undefined });
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
