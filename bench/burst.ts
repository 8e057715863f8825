/**
 * Section 6, "A busy morning": N schedules fire at the same minute, one pool each, with operations
 * lasting 0–60 s, against an emulator (in its own process) that enforces Toloka's limit of 300
 * requests a second per account. Each design runs the app's real opener and checker handlers on
 * the platform model of bench/burst-platform.ts, with the openings ledger in memory. Measured per
 * run: the outcome records and dead letters, every Toloka request as it is sent (and which ones
 * came back 429), the function instances, and when each pool was confirmed.
 */
import { createKeepAliveAgent, HttpTolokaApi } from '../lambda/adapters/http-toloka-api.ts';
import { StaticTokenSource } from '../lambda/adapters/token-sources.ts';
import { createCheckOperationHandler } from '../lambda/check-operation.ts';
import { createOpenPoolHandler } from '../lambda/open-pool.ts';
import { DEFAULT_HTTP, DEFAULT_POLL } from '../lambda/runtime/config.ts';
import { TolokaApiError } from '../lambda/runtime/errors.ts';
import { encodeCheckMessage } from '../lambda/runtime/messages.ts';
import type { Outcome, OutcomeRecord } from '../lambda/runtime/model.ts';
import type { OpeningDependencies } from '../lambda/runtime/opening-steps.ts';
import type { TolokaApi } from '../lambda/runtime/ports.ts';
import { RequestPacer } from '../lambda/runtime/request-pacer.ts';
import { DEFAULT_RETRY_POLICY } from '../lambda/runtime/retry.ts';
import { type HandlerRuntime, overBudgetOf } from '../lambda/wiring/lambda-dependencies.ts';
import { MemoryOpeningsLedger } from '../local/memory-openings-ledger.ts';
import {
  Account,
  CONSTRUCT_DEFAULTS,
  clockFrom,
  type DeadLetter,
  type Handler,
  invokeAsync,
  LambdaFunction,
  ModelQueue,
  type PlatformSettings,
  type SqsCounters,
} from './burst-platform.ts';
import { setRemotePool } from './infra.ts';
import { progress } from './output.ts';

export type DesignName = 'direct' | 'queued' | 'paced';

export const DESIGNS: Record<DesignName, { readonly label: string; readonly description: string }> = {
  direct: {
    label: 'before: schedules invoke the opener',
    description:
      'each schedule invokes the opener asynchronously (the design before this issue): one instance per trigger, each following its operation in the fast path; no request budget',
  },
  queued: {
    label: 'option: schedules through the trigger queue, no budget',
    description:
      "each schedule sends its trigger to the trigger queue; the event sources' maxConcurrency (5 each) bounds the instances; the fast path runs its full 20 s; no request budget",
  },
  paced: {
    label: 'now: trigger queue and request budget',
    description:
      'the trigger queue as above, and each instance keeps its share of the budget (50 a second over 10 instances: 5) and hands its openings to the check queue when over it',
  },
};

export interface BurstRun {
  readonly design: DesignName;
  readonly pools: number;
  readonly budgetPerSecond: number | undefined;
  /** Outcome records by outcome. */
  readonly outcomes: Partial<Record<Outcome, number>>;
  readonly deadLetters: number;
  /** Pools with neither a record nor a dead letter when the run was stopped. */
  readonly unfinished: number;
  /** When each Toloka request was sent, ms after the minute; `rejected` those answered 429. */
  readonly requestsAtMs: number[];
  readonly rejectedAtMs: number[];
  /** When each pool's record said it was open, ms after the minute. */
  readonly confirmedAtMs: number[];
  readonly peakInstances: { readonly opener: number; readonly checker: number; readonly together: number };
  readonly invocations: { readonly opener: number; readonly checker: number };
  /** Sum of the invocations' durations, each rounded up to the ms as Lambda bills. */
  readonly billedMs: number;
  readonly sqs: SqsCounters;
  /** How long the run took, and whether it was stopped at its limit before every pool was done. */
  readonly wallMs: number;
  readonly limitMs: number;
  readonly stoppedAtLimit: boolean;
}

export interface BurstOptions {
  readonly design: DesignName;
  readonly pools: number;
  readonly emulatorUrl: string;
  readonly token: string;
  /** The first pool ID; the run uses `pools` IDs from here. */
  readonly firstPoolId: number;
  /** The deployment's budget (paced design): each instance gets budget / (2 × maxConcurrency). */
  readonly budgetPerSecond: number;
  /** The longest operation; pools get lengths spread evenly from 0 to it. */
  readonly longestOperationMs: number;
  /** A run still going after this long is stopped and reported as such. */
  readonly limitMs: number;
  readonly settings?: PlatformSettings;
}

const SILENT = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const CONFIRMED: ReadonlySet<Outcome> = new Set(['OPENED', 'ALREADY_OPEN']);

/** Operation lengths from 0 to `longestMs`, evenly spread, in an order shuffled with a fixed seed. */
export function operationLengths(pools: number, longestMs: number, seed = 19): number[] {
  const lengths = Array.from({ length: pools }, (_, i) =>
    pools === 1 ? 0 : Math.round((longestMs * i) / (pools - 1)),
  );
  let state = seed;
  const random = () => {
    // mulberry32: a fixed order for a given seed, the same on every machine.
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  for (let i = lengths.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [lengths[i], lengths[j]] = [lengths[j] ?? 0, lengths[i] ?? 0];
  }
  return lengths;
}

export async function runBurst(options: BurstOptions): Promise<BurstRun> {
  const settings = options.settings ?? CONSTRUCT_DEFAULTS;
  const poolIds = Array.from({ length: options.pools }, (_, i) => String(options.firstPoolId + i));
  const lengths = operationLengths(options.pools, options.longestOperationMs);
  for (const [i, poolId] of poolIds.entries()) {
    await setRemotePool(options.emulatorUrl, poolId, { status: 'CLOSED', openDurationMs: lengths[i] ?? 0 });
  }
  // The minute itself: an instant on the wall clock the triggers name, and the bench's monotonic origin.
  const scheduledTime = new Date();
  scheduledTime.setMilliseconds(0);
  const clock = clockFrom(scheduledTime.getTime());
  const requestsAtMs: number[] = [];
  const rejectedAtMs: number[] = [];
  const agent = createKeepAliveAgent(DEFAULT_HTTP.requestTimeoutMs);
  const http = new HttpTolokaApi({
    origin: options.emulatorUrl,
    requestTimeoutMs: DEFAULT_HTTP.requestTimeoutMs,
    dispatcher: agent,
  });
  const recorded = recordingToloka(http, clock, requestsAtMs, rejectedAtMs);
  const records: Array<{ atMs: number; record: OutcomeRecord }> = [];
  const deadLetters: DeadLetter[] = [];
  const sqs: SqsCounters = { sends: 0, receives: 0, deletes: 0 };
  const account = new Account(settings.accountConcurrency, clock);
  let stopped = false;

  // Filled in below: the check queue needs the checker, whose environments need the check queue.
  let checkQueue: ModelQueue | undefined;
  const shared = {
    tokens: new StaticTokenSource(options.token),
    checks: {
      enqueue: async (message: Parameters<typeof encodeCheckMessage>[0], delaySeconds: number) =>
        checkQueue?.send(encodeCheckMessage(message), delaySeconds),
    },
    outcomes: { report: async (record: OutcomeRecord) => void records.push({ atMs: clock(), record }) },
    ledger: new MemoryOpeningsLedger(),
    log: SILENT,
    poll: DEFAULT_POLL,
    retry: DEFAULT_RETRY_POLICY,
    reportLeaseMs: 120_000,
    redeliveryMs: settings.visibilityTimeoutMs + 60_000,
  };
  const share =
    options.design === 'paced'
      ? Math.floor(options.budgetPerSecond / (2 * settings.maxConcurrency))
      : undefined;
  // Each execution environment builds its runtime as the deployed one does (lambda-dependencies.ts).
  const runtimeOf = () => {
    const pacer = share === undefined ? undefined : new RequestPacer(share);
    const deps: OpeningDependencies = {
      ...shared,
      toloka: recorded,
      ...(pacer === undefined
        ? {}
        : { requestBudget: pacer, overBudget: overBudgetOf(pacer, DEFAULT_POLL.fastPathSeconds) }),
    };
    const runtime: HandlerRuntime = { deps, requestTimeoutMs: DEFAULT_HTTP.requestTimeoutMs };
    return () => runtime;
  };
  const lambdaFunction = (name: string, create: (runtime: () => HandlerRuntime) => Handler) =>
    new LambdaFunction(name, () => create(runtimeOf()), account, settings, clock);
  const opener = lambdaFunction('opener', (runtime) => createOpenPoolHandler(runtime) as Handler);
  const checker = lambdaFunction('checker', (runtime) => createCheckOperationHandler(runtime) as Handler);
  checkQueue = new ModelQueue('checks', checker, settings, deadLetters, sqs, clock);
  const triggerQueue = new ModelQueue('triggers', opener, settings, deadLetters, sqs, clock);

  const asyncInvocations: Array<Promise<void>> = [];
  for (const poolId of poolIds) {
    const trigger = {
      poolId,
      action: 'open',
      triggerId: `arn:aws:scheduler:us-east-1:123456789012:schedule/bench/pool-${poolId}@${scheduledTime.toISOString()}`,
      scheduledTime: scheduledTime.toISOString(),
      maxLatenessMinutes: 60,
    };
    if (options.design === 'direct') {
      asyncInvocations.push(invokeAsync(opener, trigger, settings, deadLetters, () => stopped));
    } else {
      triggerQueue.send(JSON.stringify(trigger));
    }
  }

  // A pool is done with its first record or dead letter (a pool with both counts once).
  const done = () =>
    new Set([
      ...records.map(({ record }) => record.poolId),
      ...deadLetters.map((letter) => (JSON.parse(letter.body) as { poolId?: string }).poolId),
    ]).size;
  let lastReport = 0;
  while (done() < options.pools && clock() < options.limitMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (clock() - lastReport >= 30_000) {
      lastReport = clock();
      progress(
        `  ${options.design} N=${options.pools}: ${done()} done at ${Math.round(clock() / 1000)} s, ${requestsAtMs.length} requests`,
      );
    }
  }
  const wallMs = clock();
  const stoppedAtLimit = done() < options.pools;
  stopped = true;
  triggerQueue.stop();
  checkQueue.stop();
  await opener.drain();
  await checker.drain();
  if (!stoppedAtLimit) await Promise.all(asyncInvocations);
  await agent.close();

  const outcomes: Partial<Record<Outcome, number>> = {};
  for (const { record } of records) outcomes[record.outcome] = (outcomes[record.outcome] ?? 0) + 1;
  const invocations = [...opener.invocations, ...checker.invocations];
  return {
    design: options.design,
    pools: options.pools,
    budgetPerSecond: options.design === 'paced' ? options.budgetPerSecond : undefined,
    outcomes,
    deadLetters: deadLetters.length,
    unfinished: options.pools - done(),
    requestsAtMs,
    rejectedAtMs,
    confirmedAtMs: firstConfirmations(records),
    peakInstances: { opener: opener.peakBusy, checker: checker.peakBusy, together: account.peak },
    invocations: { opener: opener.invocations.length, checker: checker.invocations.length },
    billedMs: invocations.reduce((total, invocation) => total + Math.ceil(invocation.durationMs), 0),
    sqs,
    wallMs,
    limitMs: options.limitMs,
    stoppedAtLimit,
  };
}

/** When each pool was first confirmed: a second record of the same pool does not count again. */
function firstConfirmations(records: ReadonlyArray<{ atMs: number; record: OutcomeRecord }>): number[] {
  const first = new Map<string, number>();
  for (const { atMs, record } of records) {
    if (CONFIRMED.has(record.outcome) && record.poolId !== undefined && !first.has(record.poolId)) {
      first.set(record.poolId, atMs);
    }
  }
  return [...first.values()];
}

/** The Toloka port that notes when each request is sent and which ones Toloka refused with a 429. */
function recordingToloka(
  inner: TolokaApi,
  clock: () => number,
  sentAtMs: number[],
  rejectedAtMs: number[],
): TolokaApi {
  const record =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const at = clock();
      sentAtMs.push(at);
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof TolokaApiError && error.httpStatus === 429) rejectedAtMs.push(at);
        throw error;
      }
    };
  return {
    act: record(inner.act.bind(inner)),
    getOperation: record(inner.getOperation.bind(inner)),
    getTarget: record(inner.getTarget.bind(inner)),
    findRunningOperation: record(inner.findRunningOperation.bind(inner)),
  };
}
