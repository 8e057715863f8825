import { describe, expect, it } from 'vitest';
import { type BurstRun, operationLengths } from '../../bench/burst.ts';
import { burstChart, confirmedBySecond, perSecond } from '../../bench/burst-chart.ts';
import { Account, CONSTRUCT_DEFAULTS, LambdaFunction, ModelQueue } from '../../bench/burst-platform.ts';
import { burstTargets, costPer1000, peakPerSecond } from '../../bench/burst-report.ts';

// The burst section's arithmetic and its platform model: what its figures and verdicts rest on.

const run = (overrides: Partial<BurstRun>): BurstRun => ({
  design: 'paced',
  pools: 300,
  budgetPerSecond: 50,
  outcomes: { OPENED: 300 },
  deadLetters: 0,
  unfinished: 0,
  requestsAtMs: [],
  rejectedAtMs: [],
  confirmedAtMs: Array.from({ length: 300 }, (_, i) => i * 100),
  peakInstances: { opener: 5, checker: 5, together: 10 },
  invocations: { opener: 30, checker: 400 },
  billedMs: 400_000,
  sqs: { sends: 1_800, receives: 430, deletes: 430 },
  wallMs: 30_000,
  limitMs: 900_000,
  stoppedAtLimit: false,
  ...overrides,
});

describe('the burst figures', () => {
  it('counts the peak in any one second as Toloka does: a sliding, half-open window', () => {
    expect(peakPerSecond([])).toBe(0);
    expect(peakPerSecond([0, 200, 400, 600, 800, 1000])).toBe(5);
    expect(peakPerSecond([500, 999, 1000, 1499, 1500])).toBe(4);
  });

  it('buckets requests by whole second and counts pools confirmed by the end of each', () => {
    expect(perSecond([0, 10, 999, 1000, 3500])).toEqual([3, 1, 0, 1]);
    expect(confirmedBySecond([400, 1200, 1999, 2000], 3)).toEqual([1, 3, 4, 4]);
  });

  it('gives the chart a text alternative naming every N and design, escaped as XML', () => {
    const svg = burstChart(
      [run({ design: 'direct', pools: 100 }), run({ design: 'paced', pools: 300 })],
      50,
      { direct: 'before <direct> & co', queued: 'queued', paced: 'now' },
    );
    expect(svg).toMatch(/^<svg [^>]*role="img" aria-labelledby="chart-title">\n<title id="chart-title">/);
    const title = /<title id="chart-title">([^<]*)<\/title>/.exec(svg)?.[1];
    expect(title).toBe(
      "A busy morning: 100, 300 pools at the same minute; Toloka requests a second (budget 50, Toloka's limit 300) " +
        'and pools confirmed over time, for before &lt;direct&gt; &amp; co; now',
    );
    expect(svg).not.toContain('<direct>');
  });

  it('prices Lambda (requests, 256 MB Arm duration) and SQS requests per 1,000 openings', () => {
    const cost = costPer1000(
      run({
        pools: 500,
        invocations: { opener: 250, checker: 250 },
        billedMs: 2_000_000,
        sqs: { sends: 500, receives: 250, deletes: 250 },
      }),
    );
    // 500 invocations × $0.2/M + 2,000 s × 0.25 GB × $0.0000133334, per 500 openings, × 2.
    expect(cost.lambda).toBeCloseTo(2 * (500 * 0.2e-6 + 2_000 * 0.25 * 0.0000133334), 10);
    expect(cost.sqs).toBeCloseTo(2 * 1_000 * 0.4e-6, 10);
    expect(cost.total).toBeCloseTo(cost.lambda + cost.sqs, 12);
  });

  it('spreads operation lengths evenly from 0 to the longest, in the same shuffled order on every run', () => {
    const lengths = operationLengths(5, 60_000);
    expect([...lengths].sort((a, b) => a - b)).toEqual([0, 15_000, 30_000, 45_000, 60_000]);
    expect(operationLengths(5, 60_000)).toEqual(lengths);
    expect(lengths).not.toEqual([0, 15_000, 30_000, 45_000, 60_000]);
  });
});

describe('the burst targets', () => {
  it('are met by a paced run that opened every pool within the budget, in time, with no dead letter', () => {
    const targets = burstTargets({
      runs: [
        run({ requestsAtMs: [0, 100, 200] }),
        run({ design: 'direct', requestsAtMs: Array(400).fill(0) }),
      ],
      budgetPerSecond: 50,
      tolokaLimitPerSecond: 300,
      longestOperationMs: 60_000,
      limitMs: 900_000,
      chartFile: 'x.svg',
    });
    // The design before is reported, not held to the targets.
    expect(targets.map((t) => t.target)).toEqual([
      'burst N = 300: every pool opened (an outcome record each)',
      'burst N = 300: no dead letter',
      'burst N = 300: peak Toloka requests in one second ≤ the budget (50)',
      'burst N = 300: last pool confirmed within 300 s at the default budget',
    ]);
    expect(targets.every((t) => t.met)).toBe(true);
  });

  it('are missed, each saying by how much, by a run over budget, late, with pools lost', () => {
    const targets = burstTargets({
      runs: [
        run({
          outcomes: { OPENED: 298, FAILED: 1 },
          deadLetters: 1,
          requestsAtMs: Array.from({ length: 60 }, (_, i) => i * 10),
          confirmedAtMs: [...Array.from({ length: 297 }, () => 1_000), 301_000],
        }),
      ],
      budgetPerSecond: 50,
      tolokaLimitPerSecond: 300,
      longestOperationMs: 60_000,
      limitMs: 900_000,
      chartFile: 'x.svg',
    });
    expect(targets.map((t) => t.verdict)).toEqual([
      'missed by 2 pools',
      'missed by 1 dead letters',
      'missed by 10 requests',
      'missed by pools never confirmed',
    ]);
  });
});

describe('the platform model', () => {
  it('runs an SQS event source at most maxConcurrency batches of at most ten at once, and retries what failed', async () => {
    let time = 0;
    const clock = () => time;
    const settings = { ...CONSTRUCT_DEFAULTS, maxConcurrency: 2, visibilityTimeoutMs: 5, maxReceiveCount: 2 };
    const account = new Account(1000, clock);
    const batches: string[][] = [];
    const releases: Array<() => void> = [];
    const fn = new LambdaFunction(
      'f',
      () => async (event) => {
        const bodies = (event as { Records: Array<{ body: string; messageId: string }> }).Records;
        batches.push(bodies.map((r) => r.body));
        await new Promise<void>((resolve) => releases.push(resolve));
        // "fail" always fails: reported as a batch item failure.
        return {
          batchItemFailures: bodies
            .filter((r) => r.body === 'fail')
            .map((r) => ({ itemIdentifier: r.messageId })),
        };
      },
      account,
      settings,
      clock,
    );
    const deadLetters: Array<{ queue: string; body: string }> = [];
    const counters = { sends: 0, receives: 0, deletes: 0 };
    const queue = new ModelQueue('q', fn, settings, deadLetters, counters, clock);
    for (let i = 0; i < 24; i++) queue.send(String(i));
    queue.send('fail');
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.map((b) => b.length)).toEqual([10, 10]);
    expect(fn.busy).toBe(2);
    const settle = async () => {
      while (releases.length > 0) {
        releases.shift()?.();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    // Each turn: the running batches end, the clock passes the visibility time-out, the queue wakes.
    for (let turn = 0; turn < 6; turn++) {
      await settle();
      time += 10;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    queue.stop();
    await fn.drain();
    expect(batches.flat().filter((body) => body !== 'fail')).toHaveLength(24);
    // Received twice (maxReceiveCount 2), then a dead letter on the third receive.
    expect(batches.flat().filter((body) => body === 'fail')).toHaveLength(2);
    expect(deadLetters).toEqual([{ queue: 'q', body: 'fail' }]);
    expect(fn.peakBusy).toBe(2);
    expect(account.peak).toBe(2);
  });
});
