import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { HttpTolokaApi } from '../lambda/adapters/http-toloka-api.ts';
import { FanOutOutcomeSink, MemoryOutcomeSink } from '../lambda/adapters/outcome-sinks.ts';
import { StaticTokenSource } from '../lambda/adapters/token-sources.ts';
import { createCheckOperationHandler } from '../lambda/check-operation.ts';
import { createOpenPoolHandler } from '../lambda/open-pool.ts';
import { DEFAULT_HTTP, DEFAULT_POLL, type PollSettings } from '../lambda/runtime/config.ts';
import type { OpeningDependencies } from '../lambda/runtime/opening-steps.ts';
import type { OpeningsLedger } from '../lambda/runtime/openings-ledger.ts';
import type { CheckQueue, Log, OutcomeSink, TokenSource, TolokaApi } from '../lambda/runtime/ports.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../lambda/runtime/retry.ts';
import type { HandlerRuntime } from '../lambda/wiring/lambda-dependencies.ts';
import { describeThrown, LocalCheckQueue, LocalQueue } from './local-queue.ts';
import { MemoryOpeningsLedger } from './memory-openings-ledger.ts';

export interface LocalAppOptions {
  /** The Toloka origin, e.g. the emulator's `http://127.0.0.1:port`. */
  readonly apiOrigin: string;
  readonly token?: string;
  readonly tokens?: TokenSource;
  readonly toloka?: TolokaApi;
  readonly poll?: Partial<PollSettings>;
  readonly retry?: Partial<RetryPolicy>;
  readonly requestTimeoutMs?: number;
  /** Multiplies queue delays (not the clock): for tests that want short waits. @default 1 */
  readonly timeScale?: number;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly log?: Log;
  readonly outcomes?: OutcomeSink;
  /** How long a running step holds its opening. Default: half the queues' visibility time-out. */
  readonly leaseMs?: number;
  /** The openings ledger; default one in memory. */
  readonly ledger?: OpeningsLedger;
  /** Wraps the check queue, e.g. to make sends fail in fault tests. */
  readonly wrapCheckQueue?: (queue: CheckQueue) => CheckQueue;
}

/** Lambda's asynchronous invocations: the first and two retries (the construct's `retryAttempts: 2`). */
export const ASYNC_INVOKE_ATTEMPTS = 3;

export const silentLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/**
 * The whole app in one process: the real opener and checker handlers wired to local queues that
 * play SQS and its event source mappings. Used by `npm start` and the integration tests.
 */
export function createLocalApp(options: LocalAppOptions) {
  const queueOptions = {
    timeScale: options.timeScale ?? 1,
    maxReceiveCount: options.maxReceiveCount ?? 3,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 5,
  };
  const triggerQueue = new LocalQueue({ name: 'triggers', ...queueOptions });
  const checkQueue = new LocalQueue({ name: 'checks', ...queueOptions });
  const recorded = new MemoryOutcomeSink();
  // Shorter than the local queues' visibility time-out, as the stack's 120 s are than its 360 s.
  const leaseMs =
    options.leaseMs ?? Math.max(50, queueOptions.visibilityTimeoutSeconds * queueOptions.timeScale * 500);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_HTTP.requestTimeoutMs;
  const deps: OpeningDependencies = {
    toloka: options.toloka ?? new HttpTolokaApi({ origin: options.apiOrigin, requestTimeoutMs }),
    tokens: options.tokens ?? new StaticTokenSource(options.token ?? 'local-dev-token'),
    checks: (options.wrapCheckQueue ?? ((queue) => queue))(new LocalCheckQueue(checkQueue)),
    outcomes: options.outcomes === undefined ? recorded : new FanOutOutcomeSink(recorded, options.outcomes),
    ledger: options.ledger ?? new MemoryOpeningsLedger(),
    // Shorter than the local queues' visibility time-out, as the stack's 120 s are than its 360 s.
    reportLeaseMs: leaseMs,
    log: options.log ?? silentLog,
    poll: { ...DEFAULT_POLL, ...options.poll },
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
  };
  const runtime = (): HandlerRuntime => ({ deps, requestTimeoutMs });
  const opener = createOpenPoolHandler(runtime);
  const checker = createCheckOperationHandler(runtime);
  triggerQueue.consumeWith((event) => opener(event));
  checkQueue.consumeWith((event) => checker(event));

  return {
    deps,
    opener,
    checker,
    triggerQueue,
    checkQueue,
    outcomes: recorded.records,
    /** Resolves when neither queue has anything left to deliver. */
    async settled(): Promise<void> {
      // Each queue feeds the other's work, so wait until both are idle at the same moment.
      while (triggerQueue.busy || checkQueue.busy) {
        await Promise.all([triggerQueue.idle(), checkQueue.idle()]);
      }
    },
    /**
     * Invokes the opener as Lambda invokes it for EventBridge Scheduler (asynchronously): an
     * invocation that throws is tried twice more, then its payload goes to the trigger
     * dead-letter queue, as the construct configures it.
     */
    async invokeAsync(payload: unknown): Promise<void> {
      // Lambda keeps an asynchronous invocation's request ID through its retries.
      const context = localContext(randomUUID());
      for (let attempt = 1; attempt <= ASYNC_INVOKE_ATTEMPTS; attempt++) {
        try {
          await opener(payload, context);
          return;
        } catch (error) {
          triggerQueue.errors.push(describeThrown(error));
          // Lambda waits a minute or two between these attempts: longer than a step's lease
          // (2 minutes against a 60 s time-out), so a retry finds a copy that is still running
          // gone, or dead and its lease over. Here the same, scaled: twice the lease.
          if (attempt < ASYNC_INVOKE_ATTEMPTS)
            await new Promise((resolve) => setTimeout(resolve, 2 * leaseMs));
        }
      }
      triggerQueue.addDeadLetter(JSON.stringify(payload));
    },
    close(): void {
      triggerQueue.close();
      checkQueue.close();
    },
  };
}

export type LocalApp = ReturnType<typeof createLocalApp>;

/** The parts of Lambda's context the handlers read, for a local invocation. */
export function localContext(awsRequestId: string, remainingMs = 60_000): Context {
  const endsAt = Date.now() + remainingMs;
  return {
    awsRequestId,
    getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
  } as unknown as Context;
}
