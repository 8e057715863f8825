/**
 * Asking Toloka to act: the `POST …/open` or `…/close` of a run, the operation it started followed
 * in process for the fast path, then handed over to the check queue.
 */

import { handOver } from './check-hand-over.ts';
import { isTransient, TolokaApiError, UnsendableTokenError } from './errors.ts';
import { type Action, DONE_OUTCOMES, isTerminal, type TolokaOperation, targetFields } from './model.ts';
import {
  failedRecord,
  lateRequestRecord,
  operationRecord,
  type RecordBase,
  recordBaseOf,
  timedOutRecord,
} from './opening-records.ts';
import {
  conclude,
  lostTheStep,
  type OpeningDependencies,
  type StepBudget,
  type StepResult,
} from './opening-steps.ts';
import type { Opening } from './openings-ledger.ts';
import { nextCheckDueMs } from './poll-schedule.ts';
import { type Credential, callToloka, credentialOf, isTokenRefusal, retryAfterOf } from './toloka-calls.ts';

/**
 * `POST …/open` (or `…/close`) for a run that has no operation yet. A 409
 * `POOL_LOCKED_BY_ANOTHER_OPERATION` usually means an earlier attempt of this very run got through
 * (a time-out, a reset, a redelivery), or another client does the same: the running operation of
 * this action is looked up and followed.
 */
export async function askToAct(
  deps: OpeningDependencies,
  opening: Opening,
  budget: StepBudget,
  token: string,
  attempt = 1,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const base = recordBaseOf(opening);
  if (now() >= opening.deadlineMs) {
    // Too late to ask (a trigger redelivered or redriven after its deadline): TIMED_OUT, no POST.
    return conclude(deps, opening, lateRequestRecord(opening, now(), attempt - 1));
  }
  const credential = await credentialOf(deps);
  if (credential instanceof UnsendableTokenError) {
    return conclude(deps, opening, failedRecord(credential, base, opening.requestedAtMs, now()));
  }
  let operation: TolokaOperation;
  try {
    // Retries stop at the deadline too: no POST after it, however the budget stands.
    const untilDeadlineMs = Math.max(0, opening.deadlineMs - now());
    const response = await callToloka(
      deps,
      Math.min(budget.budgetMs, untilDeadlineMs),
      opening.action,
      credential,
      (authorization) => deps.toloka.act(opening.target, opening.action, authorization),
    );
    if (response.kind === 'already-done') {
      return conclude(deps, opening, {
        outcome: DONE_OUTCOMES[opening.action].already,
        ...base,
        elapsedMs: now() - opening.requestedAtMs,
        checks: 0,
      });
    }
    operation = response.operation;
  } catch (error) {
    const locked = await lockedBy(deps, opening, credential, budget, error);
    if (locked?.by === 'this action') operation = locked.operation;
    else if (locked?.by === 'the other action') {
      // The other action's operation still runs at Toloka (its run ended TIMED_OUT in the ledger
      // while it went on): wait for it on the check queue, within this run's deadline.
      return deferOpen(deps, opening, token, OTHER_ACTION_WAIT_MS, attempt);
    } else {
      const waitMs = retryAfterOf(error);
      if (waitMs !== undefined && isTransient(error)) return deferOpen(deps, opening, token, waitMs, attempt);
      return conclude(deps, opening, failedRecord(error, base, opening.requestedAtMs, now()));
    }
  }
  return follow(deps, opening, operation, credential, budget, token);
}

/** How long a run waits before asking again when the other action's operation holds the pool. */
const OTHER_ACTION_WAIT_MS = 10_000;

/**
 * The operation a 409 POOL_LOCKED_BY_ANOTHER_OPERATION points to: one of this run's action (an
 * earlier attempt of this very run, followed), or one of the other action (waited for); else
 * undefined, and Toloka's 409 is the verdict (another client's operation of another kind).
 */
async function lockedBy(
  deps: OpeningDependencies,
  opening: Opening,
  credential: Credential,
  budget: StepBudget,
  error: unknown,
): Promise<{ by: 'this action' | 'the other action'; operation: TolokaOperation } | undefined> {
  if (!(error instanceof TolokaApiError) || error.code !== 'POOL_LOCKED_BY_ANOTHER_OPERATION')
    return undefined;
  const find = (action: Action) =>
    callToloka(deps, budget.budgetMs, 'findRunningOperation', credential, (authorization) =>
      deps.toloka.findRunningOperation(opening.target, action, authorization),
    );
  const fields = { ...targetFields(opening.target), openingId: opening.openingId };
  const running = await find(opening.action);
  if (running !== undefined) {
    deps.log.info(
      `Toloka answered POOL_LOCKED_BY_ANOTHER_OPERATION; following the ${opening.action} operation in progress`,
      { ...fields, operationId: running.id },
    );
    return { by: 'this action', operation: running };
  }
  const other: Action = opening.action === 'open' ? 'close' : 'open';
  const blocking = await find(other);
  if (blocking === undefined) return undefined;
  deps.log.info(
    `Toloka answered POOL_LOCKED_BY_ANOTHER_OPERATION; waiting for the ${other} operation in progress`,
    {
      ...fields,
      blockingOperationId: blocking.id,
    },
  );
  return { by: 'the other action', operation: blocking };
}

/** Records the operation, follows it in process for the fast path, then hands over to the queue. */
async function follow(
  deps: OpeningDependencies,
  opening: Opening,
  operation: TolokaOperation,
  credential: Credential,
  budget: StepBudget,
  token: string,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  if (!(await deps.ledger.follow(opening.openingId, operation.id, token, 0))) {
    // Decided or taken over meanwhile (a duplicate of this trigger ran faster): it has or will
    // have its record.
    return lostTheStep(deps, opening);
  }
  const base = { ...recordBaseOf(opening), operationId: operation.id };
  const followed = await followInProcess(deps, {
    operation,
    base,
    opening,
    credential,
    until:
      opening.requestedAtMs +
      Math.min(
        deps.poll.fastPathSeconds * 1000,
        Math.max(0, now() - opening.requestedAtMs + budget.budgetMs),
      ),
  });
  if (followed.kind !== 'unfinished') return followed;
  return handOver(deps, opening, token, {
    operationId: operation.id,
    attempt: followed.checks + 1,
    status: followed.operation.status,
    ...(followed.waitMs === undefined ? {} : { waitMs: followed.waitMs }),
  });
}

/**
 * The fast path: most openings finish in seconds, so the opener checks the operation itself, on
 * the same schedule as the queued checks, until it finishes or `until` comes. A transient error
 * ends the fast path rather than the opening: the check queue takes over, and so does an
 * instance over its share of the request budget (`overBudget`). The deadline caps it
 * too: the last check is made at the deadline, and an operation still running then is TIMED_OUT.
 */
async function followInProcess(
  deps: OpeningDependencies,
  run: {
    operation: TolokaOperation;
    base: RecordBase;
    opening: Opening;
    credential: Credential;
    until: number;
  },
): Promise<StepResult | { kind: 'unfinished'; operation: TolokaOperation; checks: number; waitMs?: number }> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const { opening } = run;
  let { operation } = run;
  let checks = 0;
  while (!isTerminal(operation.status)) {
    if (now() >= opening.deadlineMs) {
      return conclude(deps, opening, timedOutRecord(operation, run.base, opening, now(), checks));
    }
    // A burst: this instance is wanted for the next triggers more than for waiting here.
    if (deps.overBudget?.() === true) {
      deps.log.info('over the request budget: the check queue follows the operation', {
        ...run.base,
        checks,
      });
      return { kind: 'unfinished', operation, checks };
    }
    const dueAt = Math.min(
      opening.requestedAtMs + nextCheckDueMs(deps.poll, now() - opening.requestedAtMs),
      opening.deadlineMs,
    );
    if (dueAt >= run.until) return { kind: 'unfinished', operation, checks };
    await sleep(Math.max(0, dueAt - now()));
    checks++;
    try {
      const id = operation.id;
      operation = await callToloka(
        deps,
        Math.max(0, run.until - now()),
        'getOperation',
        run.credential,
        (authorization) => deps.toloka.getOperation(id, authorization),
      );
    } catch (error) {
      // Toloka asked to wait (Retry-After): the queued check waits that long, not the usual step.
      const waitMs = isTransient(error) ? retryAfterOf(error) : undefined;
      if (waitMs !== undefined) return { kind: 'unfinished', operation, checks, waitMs };
      if (isTransient(error) || isTokenRefusal(error)) return { kind: 'unfinished', operation, checks };
      return conclude(deps, opening, {
        ...failedRecord(error, run.base, opening.requestedAtMs, now()),
        checks,
      });
    }
    deps.log.debug('operation in progress', {
      ...run.base,
      status: operation.status,
      progress: operation.progress,
      checks,
    });
  }
  return conclude(deps, opening, operationRecord(operation, run.base, opening.requestedAtMs, now(), checks));
}

/**
 * Toloka asked to wait longer than this step may (a `Retry-After`): the POST waits on the check
 * queue, in steps of at most 900 s, and nothing is asked before the time Toloka gave. The
 * trigger itself is done, so waiting uses up none of its receives.
 */
async function deferOpen(
  deps: OpeningDependencies,
  opening: Opening,
  token: string,
  waitMs: number,
  attempt: number,
): Promise<StepResult> {
  const jitterMs = Math.round(Math.random() * Math.min(30_000, waitMs * 0.1));
  return handOver(deps, opening, token, { attempt, waitMs: waitMs + jitterMs });
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
