/**
 * Sections 4 and 5, in this process with the emulator in another one: a warm opener invocation
 * against the bare HTTP round trip it needs, and a batch of ten trigger messages against a batch of
 * one. The handler is the real `handler` of lambda/open-pool.ts, configured by its environment;
 * its log lines go to a sink that discards them.
 */
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { request } from 'undici';
import { createKeepAliveAgent, HttpTolokaApi } from '../lambda/adapters/http-toloka-api.ts';
import { handler as openHandler } from '../lambda/open-pool.ts';
import { resetLambdaRuntime } from '../lambda/wiring/lambda-dependencies.ts';
import { lambdaContext } from './event-source.ts';
import { REGION, remoteRequests, setRemoteDelay, setRemotePool } from './infra.ts';
import { OutputCapture, progress } from './output.ts';

export interface Series {
  readonly name: string;
  readonly description: string;
  readonly ms: number[];
}

export interface WarmResult {
  readonly iterations: number;
  readonly warmup: number;
  /** handler, raw round trip, and the steps in between. */
  readonly series: Series[];
  /** Raw and handler again, with every emulator answer delayed by `delayMs` (a stand-in for distance). */
  readonly delayed: { readonly delayMs: number; readonly iterations: number; readonly series: Series[] };
  readonly unexpected: string[];
}

export interface BatchTimes {
  readonly runs: number;
  readonly single: number[];
  readonly batch: number[];
  /** The same requests without the handler: 1 POST, and 10 POSTs at once on one keep-alive agent. */
  readonly rawSingle: number[];
  readonly rawBatch: number[];
}

export interface BatchResult extends BatchTimes {
  /** The same with every emulator answer delayed by `delayMs`. */
  readonly delayed: BatchTimes & { readonly delayMs: number };
  readonly unexpected: string[];
}

const AUTHORIZATION_SCHEME = 'OAuth';

/** Points the real handler at the emulator process and moto, with the app's defaults otherwise. */
export function configureHandler(env: Record<string, string>): void {
  Object.assign(process.env, env);
  resetLambdaRuntime();
}

export async function runWarm(options: {
  emulatorUrl: string;
  token: string;
  poolId: string;
  iterations: number;
  warmup: number;
  delayMs: number;
  delayedIterations: number;
  /** Empties the openings table between rounds, outside the timing. */
  emptyLedger: () => Promise<void>;
}): Promise<WarmResult> {
  const { emulatorUrl, poolId } = options;
  await setRemotePool(emulatorUrl, poolId, { status: 'OPEN' });
  const authorization = `${AUTHORIZATION_SCHEME} ${options.token}`;
  const url = `${emulatorUrl}/api/v1/pools/${poolId}/open`;
  const headers = { authorization, accept: 'application/json', 'user-agent': 'toloka-pool-opener' };
  const agent = createKeepAliveAgent(10_000);
  const client = new HttpTolokaApi({ origin: emulatorUrl, requestTimeoutMs: 10_000 });
  const unexpected: string[] = [];

  const steps: Step[] = [
    {
      name: 'raw',
      description:
        'undici `request` POST on a keep-alive Agent, body read (the round trip the opening needs)',
      run: async () => {
        const response = await request(url, { method: 'POST', dispatcher: agent, headers });
        await response.body.text();
        if (response.statusCode !== 204) unexpected.push(`raw: HTTP ${response.statusCode}`);
      },
    },
    {
      name: 'raw + time-out signal',
      description: 'the same with `signal: AbortSignal.timeout(10000)`, as the app sends it',
      run: async () => {
        const response = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers,
          signal: AbortSignal.timeout(10_000),
        });
        await response.body.text();
        if (response.statusCode !== 204) unexpected.push(`raw+signal: HTTP ${response.statusCode}`);
      },
    },
    {
      name: 'HttpTolokaApi.act',
      description: "the app's Toloka client alone (lambda/adapters/http-toloka-api.ts)",
      run: async () => {
        const result = await client.act({ kind: 'pool', id: poolId }, 'open', authorization);
        if (result.kind !== 'already-done') unexpected.push(`client: ${result.kind}`);
      },
    },
    {
      name: 'handler',
      description: 'the real `handler` of lambda/open-pool.ts, direct payload `{"poolId": …}`, warm',
      run: async () => {
        const result = (await openHandler({ poolId })) as { outcome?: string };
        if (result.outcome !== 'ALREADY_OPEN') unexpected.push(`handler: ${result.outcome}`);
      },
    },
  ];
  const series = emptySeries(steps);
  const delayedSteps = steps.filter((step) => step.name === 'raw' || step.name === 'handler');
  const sink = new OutputCapture().start({ keep: false });
  let delayed: Series[];
  try {
    for (let i = 0; i < options.warmup; i++) for (const step of steps) await step.run();
    await rotate(steps, series, options.iterations, options.emptyLedger);
    await setRemoteDelay(emulatorUrl, options.delayMs);
    delayed = emptySeries(delayedSteps);
    await rotate(delayedSteps, delayed, options.delayedIterations, options.emptyLedger);
  } finally {
    await setRemoteDelay(emulatorUrl, 0);
    sink.stop();
    await agent.close();
  }
  progress(`warm: ${options.iterations} iterations of each done`);
  return {
    iterations: options.iterations,
    warmup: options.warmup,
    series,
    delayed: { delayMs: options.delayMs, iterations: options.delayedIterations, series: delayed },
    unexpected,
  };
}

type Step = { name: string; description: string; run: () => Promise<void> };

function emptySeries(steps: readonly Step[]): Series[] {
  return steps.map((step) => ({ name: step.name, description: step.description, ms: [] }));
}

/** `iterations` rounds of every step; rotating the order spreads any drift evenly over them. */
async function rotate(
  steps: readonly Step[],
  series: readonly Series[],
  iterations: number,
  between: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < iterations; i++) {
    await between();
    for (let j = 0; j < steps.length; j++) {
      const index = (i + j) % steps.length;
      const step = steps[index];
      const target = series[index];
      if (step === undefined || target === undefined) continue;
      const t0 = performance.now();
      await step.run();
      target.ms.push(performance.now() - t0);
    }
  }
}

export async function runBatch(options: {
  emulatorUrl: string;
  token: string;
  runs: number;
  warmup: number;
  delayMs: number;
  delayedRuns: number;
  /** Empties the openings table before each handler call, outside the timing. */
  emptyLedger: () => Promise<void>;
}): Promise<BatchResult> {
  const { emulatorUrl } = options;
  // Pools of their own: the cold-start section opens 4000–40xx on the same emulator.
  const singlePools = ['5001'];
  const batchPools = Array.from({ length: 10 }, (_, index) => String(5101 + index));
  const ownPaths = new Set([...singlePools, ...batchPools].map((poolId) => `/pools/${poolId}/open`));
  const authorization = `${AUTHORIZATION_SCHEME} ${options.token}`;
  const headers = { authorization, accept: 'application/json', 'user-agent': 'toloka-pool-opener' };
  const agent = createKeepAliveAgent(10_000);
  const unexpected: string[] = [];
  const reset = async (pools: readonly string[]) => {
    for (const pool of pools) await setRemotePool(emulatorUrl, pool, { openDurationMs: 0 });
    await options.emptyLedger();
  };
  const viaHandler = async (pools: readonly string[]): Promise<number> => {
    await reset(pools);
    const event = sqsEvent(pools.map((poolId) => JSON.stringify({ poolId })));
    const context = lambdaContext('opener', 60_000);
    const t0 = performance.now();
    const response = (await openHandler(event, context)) as { batchItemFailures?: unknown[] };
    const elapsed = performance.now() - t0;
    if ((response.batchItemFailures ?? []).length > 0) unexpected.push('batch item failures');
    return elapsed;
  };
  const raw = async (pools: readonly string[]): Promise<number> => {
    await reset(pools);
    const t0 = performance.now();
    await Promise.all(
      pools.map(async (poolId) => {
        const response = await request(`${emulatorUrl}/api/v1/pools/${poolId}/open`, {
          method: 'POST',
          dispatcher: agent,
          headers,
        });
        await response.body.text();
        if (response.statusCode !== 202) unexpected.push(`raw: HTTP ${response.statusCode}`);
      }),
    );
    return performance.now() - t0;
  };
  const measure = async (runs: number): Promise<BatchTimes> => {
    const times: BatchTimes = { runs, single: [], batch: [], rawSingle: [], rawBatch: [] };
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? [singlePools, batchPools] : [batchPools, singlePools];
      for (const pools of order) {
        const elapsed = await viaHandler(pools);
        (pools.length === 1 ? times.single : times.batch).push(elapsed);
      }
      for (const pools of order) {
        const elapsed = await raw(pools);
        (pools.length === 1 ? times.rawSingle : times.rawBatch).push(elapsed);
      }
    }
    return times;
  };
  const sink = new OutputCapture().start({ keep: false });
  let plain: BatchTimes;
  let delayed: BatchTimes;
  try {
    for (let i = 0; i < options.warmup; i++) {
      await viaHandler(singlePools);
      await viaHandler(batchPools);
      await raw(singlePools);
      await raw(batchPools);
    }
    plain = await measure(options.runs);
    await setRemoteDelay(emulatorUrl, options.delayMs);
    delayed = await measure(options.delayedRuns);
  } finally {
    await setRemoteDelay(emulatorUrl, 0);
    sink.stop();
    await agent.close();
  }
  const log = await remoteRequests(emulatorUrl);
  const opens = log.filter((entry) => entry.method === 'POST' && ownPaths.has(entry.path));
  const expected = (options.runs + options.delayedRuns + options.warmup) * 2 * 11;
  const accepted = opens.filter((entry) => entry.status === 202).length;
  if (accepted !== expected) unexpected.push(`${accepted} of ${expected} batch POSTs answered 202`);
  progress(`batch: ${options.runs} runs of each done`);
  return { ...plain, delayed: { ...delayed, delayMs: options.delayMs }, unexpected };
}

/** An SQS event as Lambda's event source mapping delivers it, one record per body. */
function sqsEvent(bodies: readonly string[]): SQSEvent {
  const now = String(Date.now());
  return {
    Records: bodies.map((body, index) => ({
      messageId: crypto.randomUUID(),
      receiptHandle: `receipt-${index}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: now,
        SenderId: 'AIDAEXAMPLE',
        ApproximateFirstReceiveTimestamp: now,
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:bench-triggers`,
      awsRegion: REGION,
    })),
  };
}
