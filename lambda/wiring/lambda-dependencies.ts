import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDbOpeningsLedger } from '../adapters/dynamodb-openings-ledger.ts';
import { EventBridgeOutcomeSink } from '../adapters/eventbridge-outcome-sink.ts';
import { HttpTolokaApi } from '../adapters/http-toloka-api.ts';
import { FanOutOutcomeSink, LogOutcomeSink, SERVICE_NAME } from '../adapters/outcome-sinks.ts';
import { SqsCheckQueue } from '../adapters/sqs-check-queue.ts';
import { SsmTokenSource } from '../adapters/token-sources.ts';
import { AWS_CLIENT_TIMEOUTS, readRuntimeConfig } from '../runtime/config.ts';
import type { OpeningDependencies } from '../runtime/opening-steps.ts';
import type { Log } from '../runtime/ports.ts';
import { RequestPacer } from '../runtime/request-pacer.ts';
import { DEFAULT_RETRY_POLICY } from '../runtime/retry.ts';

/** What a handler needs: the domain's dependencies and the request time-out it keeps in reserve. */
export interface HandlerRuntime {
  readonly deps: OpeningDependencies;
  /** What one Toloka request may take: the handlers keep that much of the Lambda time in reserve. */
  readonly requestTimeoutMs: number;
}

let runtime: HandlerRuntime | undefined;

/**
 * Builds the Lambda's dependencies from its environment on first use and keeps them for warm
 * invocations (the HTTP agent's connections, the SDK clients, the cached token). This is the
 * only place the Lambda code reads `process.env`.
 */
export function lambdaRuntime(): HandlerRuntime {
  if (runtime !== undefined) return runtime;
  const config = readRuntimeConfig(process.env);
  const logger = new Logger({ serviceName: SERVICE_NAME });
  if (config.apiOriginOverridden) {
    logger.warn('TOLOKA_API_URL overrides the Toloka host', { apiOrigin: config.apiOrigin });
  }
  const log: Log = {
    debug: (message, attributes) => logger.debug(message, attributes ?? {}),
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
  };
  const logSink = new LogOutcomeSink(SERVICE_NAME);
  // One pacer per instance, kept across warm invocations: the instance's share of the budget.
  const pacer =
    config.requestsPerSecond === undefined ? undefined : new RequestPacer(config.requestsPerSecond);
  const built: HandlerRuntime = {
    requestTimeoutMs: config.http.requestTimeoutMs,
    deps: {
      toloka: new HttpTolokaApi({ origin: config.apiOrigin, requestTimeoutMs: config.http.requestTimeoutMs }),
      tokens: new SsmTokenSource(
        config.tokenParameterName,
        config.tokenCacheSeconds,
        undefined,
        AWS_CLIENT_TIMEOUTS,
      ),
      checks: new SqsCheckQueue(config.checkQueueUrl, AWS_CLIENT_TIMEOUTS),
      ledger: new DynamoDbOpeningsLedger(config.openingsTable, AWS_CLIENT_TIMEOUTS),
      outcomes:
        config.outcomeEventBus === undefined
          ? logSink
          : new FanOutOutcomeSink(
              logSink,
              new EventBridgeOutcomeSink(config.outcomeEventBus, log, AWS_CLIENT_TIMEOUTS),
            ),
      log,
      poll: config.poll,
      reportLeaseMs: config.stepLeaseSeconds * 1000,
      redeliveryMs: config.redeliverySeconds * 1000,
      retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: config.http.maxAttempts },
      ...(pacer === undefined
        ? {}
        : { requestBudget: pacer, overBudget: overBudgetOf(pacer, config.poll.fastPathSeconds) }),
    },
  };
  runtime = built;
  return built;
}

/**
 * Over budget: a backlog of a second's worth of requests within the last fast path's length (the
 * time one opening could hold the instance in process).
 */
export function overBudgetOf(pacer: RequestPacer, fastPathSeconds: number): () => boolean {
  return () => pacer.backlogged(fastPathSeconds * 1000);
}

/** Forgets the built dependencies, so that a test can change the environment between runs. */
export function resetLambdaRuntime(): void {
  runtime = undefined;
}
