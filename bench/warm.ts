/**
 * Sections 4 and 5, in this process with the emulator in another one: a warm opener invocation
 * against the raw round trips it makes (the Toloka POST, and the openings ledger's DynamoDB calls
 * sent again with the SDK alone), and a batch of ten trigger messages against a batch of one, with
 * the same latency added in front of the emulator and moto. The handler is the real `handler` of
 * lambda/open-pool.ts, configured by its environment to reach moto through the counting proxy (as
 * the raw calls do); its log lines go to a sink that discards them.
 */
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { request } from 'undici';
import { createKeepAliveAgent, HttpTolokaApi } from '../lambda/adapters/http-toloka-api.ts';
import { handler as openHandler } from '../lambda/open-pool.ts';
import { resetLambdaRuntime } from '../lambda/wiring/lambda-dependencies.ts';
import { lambdaContext } from './event-source.ts';
import { type CountingProxy, REGION, remoteRequests, setRemoteDelay, setRemotePool } from './infra.ts';
import { OutputCapture, progress } from './output.ts';
import { type RecordedCall, rawDynamoDbClient, recordedLedgerCalls, replay } from './raw-ledger.ts';

export interface Series {
  readonly name: string;
  readonly description: string;
  readonly ms: number[];
}

export interface WarmResult {
  readonly iterations: number;
  readonly warmup: number;
  /** handler, raw round trips, and the steps in between. */
  readonly series: Series[];
  /** The ledger's calls one warm invocation makes, as recorded at the proxy (action names). */
  readonly ledgerCalls: readonly string[];
  /**
   * The raw round trips and the handler again, with every emulator answer and every AWS request
   * delayed by `delayMs` (a stand-in for distance).
   */
  readonly delayed: { readonly delayMs: number; readonly iterations: number; readonly series: Series[] };
  readonly unexpected: string[];
}

export interface BatchTimes {
  readonly runs: number;
  readonly single: number[];
  readonly batch: number[];
  /**
   * The same round trips without the handler: for each record its ledger calls (raw, with the
   * SDK) and its POST, one after another; the records of a batch at once.
   */
  readonly rawSingle: number[];
  readonly rawBatch: number[];
}

export interface BatchResult extends BatchTimes {
  /** The same with every emulator answer and every AWS request delayed by `delayMs`. */
  readonly delayed: BatchTimes & { readonly delayMs: number };
  /** The handler again, nothing added, at the share of the request budget a deployed instance has. */
  readonly paced: { readonly share: number; readonly single: number[]; readonly batch: number[] };
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
  /** The proxy in front of moto that the handler reaches AWS through: it records the ledger's calls. */
  proxy: CountingProxy;
  proxyUrl: string;
  /** Empties the openings table before each step that writes it, outside the timing. */
  emptyLedger: () => Promise<void>;
}): Promise<WarmResult> {
  const { emulatorUrl, poolId, proxy } = options;
  await setRemotePool(emulatorUrl, poolId, { status: 'OPEN' });
  const authorization = `${AUTHORIZATION_SCHEME} ${options.token}`;
  const url = `${emulatorUrl}/api/v1/pools/${poolId}/open`;
  const headers = { authorization, accept: 'application/json', 'user-agent': 'toloka-pool-opener' };
  const agent = createKeepAliveAgent(10_000);
  const client = new HttpTolokaApi({ origin: emulatorUrl, requestTimeoutMs: 10_000 });
  const dynamodb = rawDynamoDbClient(options.proxyUrl);
  const unexpected: string[] = [];
  const post = async (label: string, signal?: AbortSignal) => {
    const response = await request(url, { method: 'POST', dispatcher: agent, headers, signal });
    await response.body.text();
    if (response.statusCode !== 204) unexpected.push(`${label}: HTTP ${response.statusCode}`);
  };
  const handler = async () => {
    const result = (await openHandler({ poolId })) as { outcome?: string };
    if (result.outcome !== 'ALREADY_OPEN') unexpected.push(`handler: ${result.outcome}`);
  };
  let ledgerCalls: RecordedCall[] = [];

  const steps: Step[] = [
    {
      name: 'raw POST',
      description: 'undici `request` POST on a keep-alive Agent, body read: the Toloka round trip',
      run: () => post('raw POST'),
    },
    {
      name: 'raw POST + time-out signal',
      description: 'the same with `signal: AbortSignal.timeout(10000)`, as the app sends it',
      run: () => post('raw POST + signal', AbortSignal.timeout(10_000)),
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
      name: 'raw ledger calls',
      description:
        "the handler's DynamoDB calls (recorded at the proxy), sent again one after another with the SDK's `DynamoDBClient` alone",
      fresh: true,
      run: () => replay(dynamodb, ledgerCalls),
    },
    {
      name: 'raw round trips',
      description:
        'the raw ledger calls and the raw POST, one after another: every round trip the handler makes',
      fresh: true,
      run: async () => {
        await replay(dynamodb, ledgerCalls);
        await post('raw round trips');
      },
    },
    {
      name: 'handler',
      description: 'the real `handler` of lambda/open-pool.ts, direct payload `{"poolId": …}`, warm',
      fresh: true,
      run: handler,
    },
  ];
  const series = emptySeries(steps);
  const delayedSteps = steps.filter((step) => step.name === 'raw round trips' || step.name === 'handler');
  const sink = new OutputCapture().start({ keep: false });
  let delayed: Series[];
  try {
    for (let i = 0; i < options.warmup; i++) {
      await options.emptyLedger();
      await handler();
    }
    // What one warm invocation sends to DynamoDB, to be sent again raw.
    await options.emptyLedger();
    const from = proxy.calls.length;
    await handler();
    ledgerCalls = recordedLedgerCalls(proxy.calls.slice(from));
    for (let i = 0; i < options.warmup; i++) {
      for (const step of steps) {
        if (step.fresh === true) await options.emptyLedger();
        await step.run();
      }
    }
    await rotate(steps, series, options.iterations, options.emptyLedger);
    await setRemoteDelay(emulatorUrl, options.delayMs);
    proxy.delayMs = options.delayMs;
    delayed = emptySeries(delayedSteps);
    await rotate(delayedSteps, delayed, options.delayedIterations, options.emptyLedger);
  } finally {
    proxy.delayMs = 0;
    await setRemoteDelay(emulatorUrl, 0);
    sink.stop();
    await agent.close();
    dynamodb.destroy();
  }
  progress(`warm: ${options.iterations} iterations of each done`);
  return {
    iterations: options.iterations,
    warmup: options.warmup,
    series,
    ledgerCalls: ledgerCalls.map((call) => (call.refused ? `${call.action} (refused)` : call.action)),
    delayed: { delayMs: options.delayMs, iterations: options.delayedIterations, series: delayed },
    unexpected,
  };
}

type Step = {
  name: string;
  description: string;
  /** Writes the openings table: it is emptied before, outside the timing. */
  fresh?: boolean;
  run: () => Promise<void>;
};

function emptySeries(steps: readonly Step[]): Series[] {
  return steps.map((step) => ({ name: step.name, description: step.description, ms: [] }));
}

/**
 * `iterations` rounds of every step; rotating the order spreads any drift evenly over them. A step
 * that writes the openings table finds it empty (`empty`, outside the timing), as every step does.
 */
async function rotate(
  steps: readonly Step[],
  series: readonly Series[],
  iterations: number,
  empty: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < steps.length; j++) {
      const index = (i + j) % steps.length;
      const step = steps[index];
      const target = series[index];
      if (step === undefined || target === undefined) continue;
      if (step.fresh === true) await empty();
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
  /** The share of the request budget a deployed instance has (`TOLOKA_REQUESTS_PER_SECOND`). */
  share: number;
  proxy: CountingProxy;
  proxyUrl: string;
  /** Empties the openings table before each handler call, outside the timing. */
  emptyLedger: () => Promise<void>;
}): Promise<BatchResult> {
  const { emulatorUrl, proxy } = options;
  // Pools of their own: the cold-start section opens 4000–40xx on the same emulator.
  const singlePools = ['5001'];
  const batchPools = Array.from({ length: 10 }, (_, index) => String(5101 + index));
  const ownPaths = new Set([...singlePools, ...batchPools].map((poolId) => `/pools/${poolId}/open`));
  const authorization = `${AUTHORIZATION_SCHEME} ${options.token}`;
  const headers = { authorization, accept: 'application/json', 'user-agent': 'toloka-pool-opener' };
  const agent = createKeepAliveAgent(10_000);
  const dynamodb = rawDynamoDbClient(options.proxyUrl);
  const unexpected: string[] = [];
  /** Each pool's ledger calls, as one opening of it alone made them (recorded in the warm-up). */
  const ledgerCalls = new Map<string, RecordedCall[]>();
  let rawPosts = 0;
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
        await replay(dynamodb, ledgerCalls.get(poolId) ?? []);
        rawPosts++;
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
  let paced: BatchResult['paced'];
  let handlerRuns = 0;
  try {
    for (const poolId of [...singlePools, ...batchPools]) {
      const from = proxy.calls.length;
      await viaHandler([poolId]);
      handlerRuns++;
      ledgerCalls.set(poolId, recordedLedgerCalls(proxy.calls.slice(from)));
    }
    for (let i = 0; i < options.warmup; i++) {
      await viaHandler(singlePools);
      await viaHandler(batchPools);
      await raw(singlePools);
      await raw(batchPools);
    }
    plain = await measure(options.runs);
    await setRemoteDelay(emulatorUrl, options.delayMs);
    proxy.delayMs = options.delayMs;
    delayed = await measure(options.delayedRuns);
    proxy.delayMs = 0;
    await setRemoteDelay(emulatorUrl, 0);
    // As deployed: the instance's share of the request budget, every request waiting its turn.
    process.env.TOLOKA_REQUESTS_PER_SECOND = String(options.share);
    resetLambdaRuntime();
    paced = { share: options.share, single: [], batch: [] };
    for (let i = 0; i < options.delayedRuns; i++) {
      const order = i % 2 === 0 ? [singlePools, batchPools] : [batchPools, singlePools];
      for (const pools of order) {
        const elapsed = await viaHandler(pools);
        (pools.length === 1 ? paced.single : paced.batch).push(elapsed);
      }
    }
  } finally {
    delete process.env.TOLOKA_REQUESTS_PER_SECOND;
    resetLambdaRuntime();
    proxy.delayMs = 0;
    await setRemoteDelay(emulatorUrl, 0);
    sink.stop();
    await agent.close();
    dynamodb.destroy();
  }
  const log = await remoteRequests(emulatorUrl);
  const opens = log.filter((entry) => entry.method === 'POST' && ownPaths.has(entry.path));
  const expected = handlerRuns + (options.runs + 2 * options.delayedRuns + options.warmup) * 11 + rawPosts;
  const accepted = opens.filter((entry) => entry.status === 202).length;
  if (accepted !== expected) unexpected.push(`${accepted} of ${expected} batch POSTs answered 202`);
  progress(`batch: ${options.runs} runs of each done`);
  return { ...plain, delayed: { ...delayed, delayMs: options.delayMs }, paced, unexpected };
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
