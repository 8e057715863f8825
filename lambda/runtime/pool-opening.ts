import { authorizationHeader } from './authorization.ts';
import type { CheckQueue } from './check-queue.ts';
import type { PollSettings } from './config.ts';
import {
  type InvalidMessageError,
  isTransient,
  RetriesExhaustedError,
  TolokaApiError,
  UnsendableTokenError,
} from './errors.ts';
import type { CheckMessage } from './messages.ts';
import {
  isTerminal,
  type OpenTarget,
  type OutcomeRecord,
  type TolokaOperation,
  targetFields,
} from './model.ts';
import type { OutcomeSink } from './outcome-sink.ts';
import { nextCheckDueMs, queuedCheckDelaySeconds } from './poll-schedule.ts';
import { type RetryPolicy, withRetries } from './retry.ts';
import type { TokenSource } from './token-source.ts';
import type { TolokaApi } from './toloka-api.ts';

/** The few log methods the domain uses; Powertools' Logger fits, and so does a console shim. */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

type RecordBase = Pick<OutcomeRecord, 'poolId' | 'trainingId' | 'operationId' | 'requestedAt'>;

/** What the opening and checking steps talk to: the same code runs in Lambda, the CLI and locally. */
export interface OpeningDependencies {
  readonly toloka: TolokaApi;
  readonly tokens: TokenSource;
  readonly checks: CheckQueue;
  readonly outcomes: OutcomeSink;
  readonly log: Log;
  readonly poll: PollSettings;
  readonly retry: RetryPolicy;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** How much wall time a step may spend retrying Toloka before it hands the message back to its queue. */
export interface StepBudget {
  readonly budgetMs: number;
}

type Finished = { readonly kind: 'finished'; readonly record: OutcomeRecord };

export type StepResult =
  | Finished
  | { readonly kind: 'following'; readonly operationId: string; readonly nextCheckInSeconds: number };

/**
 * Opens a pool or training and either finishes (the outcome is reported) or hands the operation
 * over to the check queue. Transient trouble that outlives the budget is thrown, so the trigger
 * goes back to its queue; permanent answers end in a FAILED record.
 */
export async function openTarget(
  deps: OpeningDependencies,
  target: OpenTarget,
  budget: StepBudget,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const requestedAtMs = now();
  const requestedAt = new Date(requestedAtMs).toISOString();
  const base = { ...targetFields(target), requestedAt };
  const authorization = await authorizationOf(deps);
  if (authorization instanceof UnsendableTokenError) {
    return finish(deps, failedRecord(authorization, base, requestedAtMs, now()));
  }

  let response: Awaited<ReturnType<TolokaApi['open']>>;
  try {
    response = await callToloka(deps, budget, 'open', () => deps.toloka.open(target, authorization));
  } catch (error) {
    return finish(deps, failedRecord(error, base, requestedAtMs, now()));
  }
  if (response.kind === 'already-open') {
    return finish(deps, { outcome: 'ALREADY_OPEN', ...base, elapsedMs: now() - requestedAtMs, checks: 0 });
  }

  const deadlineMs = requestedAtMs + deps.poll.deadlineSeconds * 1000;
  const followed = await followInProcess(deps, {
    operation: response.operation,
    base: { ...base, operationId: response.operation.id },
    requestedAtMs,
    authorization,
    until: requestedAtMs + Math.min(deps.poll.fastPathSeconds * 1000, budget.budgetMs),
    deadlineMs,
  });
  if (followed.kind === 'finished') return followed;

  const { operation, checks } = followed;
  const check: CheckMessage = {
    version: 1,
    target,
    operationId: operation.id,
    requestedAt,
    deadline: new Date(deadlineMs).toISOString(),
    attempt: checks + 1,
  };
  const delay = queuedCheckDelaySeconds(
    requestedAtMs + nextCheckDueMs(deps.poll, now() - requestedAtMs) - now(),
    deadlineMs - now(),
  );
  await deps.checks.enqueue(check, delay);
  deps.log.info('opening in progress, status check enqueued', {
    ...targetFields(target),
    operationId: operation.id,
    status: operation.status,
    progress: operation.progress,
    checks,
    nextCheckInSeconds: delay,
  });
  return { kind: 'following', operationId: operation.id, nextCheckInSeconds: delay };
}

/**
 * The fast path: most openings finish in seconds, so the opener checks the operation itself, on
 * the same schedule as the queued checks, until it finishes or `until` comes. A transient error
 * here ends the fast path rather than the opening: the pool was asked to open, so the check queue
 * takes over. The deadline caps the fast path too: the last check is made at the deadline, and
 * an operation still running then is TIMED_OUT, as the checker would report it.
 */
async function followInProcess(
  deps: OpeningDependencies,
  opening: {
    operation: TolokaOperation;
    base: RecordBase;
    requestedAtMs: number;
    authorization: string;
    until: number;
    deadlineMs: number;
  },
): Promise<Finished | { kind: 'unfinished'; operation: TolokaOperation; checks: number }> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  let { operation } = opening;
  let checks = 0;
  while (!isTerminal(operation.status)) {
    if (now() >= opening.deadlineMs) {
      return finish(deps, timedOutRecord(operation, opening.base, opening, now(), checks));
    }
    const dueAt = Math.min(
      opening.requestedAtMs + nextCheckDueMs(deps.poll, now() - opening.requestedAtMs),
      opening.deadlineMs,
    );
    if (dueAt >= opening.until) return { kind: 'unfinished', operation, checks };
    const delayMs = Math.max(0, dueAt - now());
    await sleep(delayMs);
    checks++;
    try {
      operation = await callToloka(
        deps,
        { budgetMs: Math.max(0, opening.until - now()) },
        'getOperation',
        () => deps.toloka.getOperation(operation.id, opening.authorization),
      );
    } catch (error) {
      if (isTransient(error)) return { kind: 'unfinished', operation, checks };
      return finish(deps, { ...failedRecord(error, opening.base, opening.requestedAtMs, now()), checks });
    }
    deps.log.debug('operation in progress', {
      ...opening.base,
      status: operation.status,
      progress: operation.progress,
      checks,
    });
  }
  return finish(deps, operationRecord(operation, opening.base, opening.requestedAtMs, now(), checks));
}

/**
 * One status check: reports the outcome when the operation is terminal or the deadline has
 * passed, and otherwise enqueues the next check further out.
 */
export async function checkOperation(
  deps: OpeningDependencies,
  message: CheckMessage,
  budget: StepBudget,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const requestedAtMs = Date.parse(message.requestedAt);
  const base = {
    ...targetFields(message.target),
    operationId: message.operationId,
    requestedAt: message.requestedAt,
  };
  const authorization = await authorizationOf(deps);
  if (authorization instanceof UnsendableTokenError) {
    return finish(deps, {
      ...failedRecord(authorization, base, requestedAtMs, now()),
      checks: message.attempt,
    });
  }

  let operation: TolokaOperation;
  try {
    operation = await callToloka(deps, budget, 'getOperation', () =>
      deps.toloka.getOperation(message.operationId, authorization),
    );
  } catch (error) {
    return finish(deps, { ...failedRecord(error, base, requestedAtMs, now()), checks: message.attempt });
  }
  if (isTerminal(operation.status)) {
    return finish(deps, operationRecord(operation, base, requestedAtMs, now(), message.attempt));
  }

  const msToDeadline = Date.parse(message.deadline) - now();
  if (msToDeadline <= 0) {
    const deadlineMs = Date.parse(message.deadline);
    return finish(
      deps,
      timedOutRecord(operation, base, { requestedAtMs, deadlineMs }, now(), message.attempt),
    );
  }
  const next: CheckMessage = { ...message, attempt: message.attempt + 1 };
  const delay = queuedCheckDelaySeconds(
    requestedAtMs + nextCheckDueMs(deps.poll, now() - requestedAtMs) - now(),
    msToDeadline,
  );
  await deps.checks.enqueue(next, delay);
  deps.log.info('operation in progress, next check enqueued', {
    ...base,
    status: operation.status,
    progress: operation.progress,
    check: message.attempt,
    nextCheckInSeconds: delay,
  });
  return { kind: 'following', operationId: operation.id, nextCheckInSeconds: delay };
}

/** The outcome of an operation that reached SUCCESS or FAIL. */
function operationRecord(
  operation: TolokaOperation,
  base: RecordBase,
  requestedAtMs: number,
  nowMs: number,
  checks: number,
): OutcomeRecord {
  const common = { ...base, operationId: operation.id, elapsedMs: nowMs - requestedAtMs, checks };
  if (operation.status === 'SUCCESS') return { outcome: 'OPENED', ...common };
  return {
    outcome: 'FAILED',
    ...common,
    code: 'OPERATION_FAILED',
    message: `Toloka reports operation ${operation.id} as FAIL`,
    status: operation.status,
    progress: operation.progress,
    ...(operation.details !== undefined ? { payload: operation.details } : {}),
  };
}

/** The outcome of an operation still running at the deadline. */
function timedOutRecord(
  operation: TolokaOperation,
  base: RecordBase,
  times: { readonly requestedAtMs: number; readonly deadlineMs: number },
  nowMs: number,
  checks: number,
): OutcomeRecord {
  return {
    outcome: 'TIMED_OUT',
    ...base,
    code: 'DEADLINE_EXCEEDED',
    message: `operation still ${operation.status} at the deadline ${new Date(times.deadlineMs).toISOString()}`,
    status: operation.status,
    progress: operation.progress,
    elapsedMs: nowMs - times.requestedAtMs,
    checks,
  };
}

/** A permanent error as a FAILED record; a transient one is thrown on so the message is retried. */
function failedRecord(error: unknown, base: RecordBase, requestedAtMs: number, nowMs: number): OutcomeRecord {
  if (isTransient(error)) throw error;
  if (error instanceof TolokaApiError) {
    return {
      outcome: 'FAILED',
      ...base,
      code: error.code,
      message: error.body.message ?? `Toloka answered HTTP ${error.httpStatus}`,
      request_id: error.body.request_id,
      httpStatus: error.httpStatus,
      ...(error.body.payload !== undefined ? { payload: error.body.payload } : {}),
      elapsedMs: nowMs - requestedAtMs,
    };
  }
  if (error instanceof UnsendableTokenError) {
    return {
      outcome: 'FAILED',
      ...base,
      code: error.code,
      message: error.message,
      elapsedMs: nowMs - requestedAtMs,
    };
  }
  throw error;
}

/** The FAILED record of a message that can never be processed: it names the field and the reason. */
export function invalidMessageRecord(error: InvalidMessageError, messageId?: string): OutcomeRecord {
  return {
    outcome: 'FAILED',
    code: error.code,
    message: `invalid message: ${error.message}`,
    field: error.field,
    reason: error.reason,
    ...(messageId !== undefined ? { messageId } : {}),
  };
}

async function finish(deps: OpeningDependencies, record: OutcomeRecord): Promise<Finished> {
  await deps.outcomes.report(record);
  return { kind: 'finished', record };
}

function callToloka<T>(
  deps: OpeningDependencies,
  budget: StepBudget,
  call: string,
  attempt: () => Promise<T>,
): Promise<T> {
  return withRetries(
    deps.retry,
    {
      budgetMs: budget.budgetMs,
      now: deps.now,
      sleep: deps.sleep,
      onRetry: ({ attempt: attemptNumber, delayMs, error }) =>
        deps.log.warn('Toloka call failed, retrying', {
          call,
          attempt: attemptNumber,
          delayMs,
          error: describeForLog(error),
        }),
    },
    attempt,
  );
}

/**
 * The Authorization header for the current token, or the permanent error of a token that cannot
 * be sent at all (reported as a FAILED opening naming the token's source, never the token).
 */
async function authorizationOf(deps: OpeningDependencies): Promise<string | UnsendableTokenError> {
  const token = await deps.tokens.getToken();
  try {
    return authorizationHeader(token, deps.tokens.source);
  } catch (error) {
    if (error instanceof UnsendableTokenError) return error;
    throw error;
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeForLog(error: unknown): Record<string, unknown> {
  if (error instanceof TolokaApiError) {
    return { code: error.code, httpStatus: error.httpStatus, request_id: error.body.request_id };
  }
  if (error instanceof RetriesExhaustedError) return { code: error.code, attempts: error.attempts };
  return error instanceof Error
    ? { code: (error as { code?: string }).code ?? error.name, message: error.message }
    : {};
}
