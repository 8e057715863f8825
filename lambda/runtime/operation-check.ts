/**
 * One step of an opening taken from the check queue: a status check of its operation, or, for an
 * opening that waited out a `Retry-After`, the open itself. Only the message holding the
 * opening's live check token acts; a duplicate or older message is dropped, so one opening has
 * one chain of checks however often SQS delivers them.
 */

import { askToAct } from './asking-toloka.ts';
import { handOver } from './check-hand-over.ts';
import { isTransient, OpeningBusyError, TokenRefusedError, UnsendableTokenError } from './errors.ts';
import { waitForPredecessor } from './held-runs.ts';
import type { CheckMessage } from './messages.ts';
import { isTerminal, type TolokaOperation, targetFields } from './model.ts';
import {
  failedRecord,
  lateCheckRecord,
  operationRecord,
  recordBaseOf,
  timedOutRecord,
} from './opening-records.ts';
import {
  conclude,
  leaseOf,
  type OpeningDependencies,
  redeliveryOf,
  releasingOnError,
  reportIfOrphaned,
  type StepBudget,
  type StepResult,
} from './opening-steps.ts';
import type { Opening } from './openings-ledger.ts';
import { callToloka, credentialOf, isTokenRefusal, retryAfterOf } from './toloka-calls.ts';

export async function checkOperation(
  deps: OpeningDependencies,
  message: CheckMessage,
  budget: StepBudget,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const fields = { ...targetFields(message.target), openingId: message.openingId, check: message.attempt };
  // This message's step, held for this invocation: a copy delivered at the same time is busy
  // (and comes back), an older one is stale (and dropped).
  const acquired = await deps.ledger.acquire(message.openingId, message.checkToken, now(), leaseOf(deps));
  if (acquired.kind !== 'acquired') {
    if (acquired.kind === 'decided' && acquired.opening !== undefined)
      return reportIfOrphaned(deps, acquired.opening);
    if (acquired.kind === 'busy')
      throw new OpeningBusyError(message.openingId, 'another copy of this check is running');
    // Stale: an older or duplicate message, or one for an opening the ledger no longer knows.
    deps.log.info('stale or duplicate check message: dropped', {
      ...fields,
      known: acquired.opening !== undefined,
    });
    return acquired.opening === undefined
      ? { kind: 'nothing-new' }
      : { kind: 'nothing-new', opening: acquired.opening };
  }
  const { opening, token } = acquired;
  return releasingOnError(deps, opening.openingId, token, () =>
    heldCheck(deps, message, budget, opening, token),
  );
}

async function heldCheck(
  deps: OpeningDependencies,
  message: CheckMessage,
  budget: StepBudget,
  opening: Opening,
  token: string,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  // The deadline in force: the earlier of the message's (already capped by the parser) and the ledger's.
  const deadlineMs = Math.min(Date.parse(message.deadline), opening.deadlineMs);
  const notBeforeMs = message.notBefore === undefined ? undefined : Date.parse(message.notBefore);
  if (now() >= deadlineMs + redeliveryOf(deps)) {
    // Long past the deadline (a check redriven from its dead-letter queue days later): the last
    // check was due at the deadline, so the opening is TIMED_OUT, and Toloka is not asked.
    return conclude(deps, opening, lateCheckRecord(opening, deadlineMs, now(), message.attempt - 1));
  }
  if (notBeforeMs !== undefined && now() >= deadlineMs) {
    // Toloka's wait outlasted the opening: TIMED_OUT, with no call that Toloka asked not to get.
    return conclude(
      deps,
      opening,
      timedOutRecord(
        undefined,
        recordBaseOf(opening),
        { requestedAtMs: opening.requestedAtMs, deadlineMs },
        now(),
        message.attempt - 1,
      ),
    );
  }
  if (notBeforeMs !== undefined && notBeforeMs > now()) {
    // Still inside Toloka's Retry-After (longer than one SQS delay): wait again, asking nothing.
    return handOver(deps, opening, token, {
      ...(message.operationId === undefined ? {} : { operationId: message.operationId }),
      attempt: message.attempt,
      waitMs: notBeforeMs - now(),
    });
  }
  if (message.operationId === undefined) {
    // No operation yet: a run waiting for the target's other action, or an open or close that
    // waited out a Retry-After.
    return opening.state === 'WAITING'
      ? waitForPredecessor(deps, opening, budget, token)
      : askToAct(deps, opening, budget, token, message.attempt);
  }

  const base = { ...recordBaseOf(opening), operationId: message.operationId };
  const credential = await credentialOf(deps);
  if (credential instanceof UnsendableTokenError) {
    return conclude(deps, opening, {
      ...failedRecord(credential, base, opening.requestedAtMs, now()),
      checks: message.attempt,
    });
  }
  let operation: TolokaOperation;
  try {
    const id = message.operationId;
    operation = await callToloka(deps, budget.budgetMs, 'getOperation', credential, (authorization) =>
      deps.toloka.getOperation(id, authorization),
    );
  } catch (error) {
    // A refused token says nothing about the opening: the check goes back to its queue (and to
    // the dead-letter queue, with its alarm, if the token stays bad).
    if (isTokenRefusal(error)) throw new TokenRefusedError(error);
    const waitMs = retryAfterOf(error);
    if (waitMs !== undefined && isTransient(error)) {
      return handOver(deps, opening, token, {
        operationId: message.operationId,
        attempt: message.attempt,
        waitMs,
      });
    }
    return conclude(deps, opening, {
      ...failedRecord(error, base, opening.requestedAtMs, now()),
      checks: message.attempt,
    });
  }
  if (isTerminal(operation.status)) {
    return conclude(
      deps,
      opening,
      operationRecord(operation, base, opening.requestedAtMs, now(), message.attempt),
    );
  }
  if (now() >= deadlineMs) {
    return conclude(
      deps,
      opening,
      timedOutRecord(
        operation,
        base,
        { requestedAtMs: opening.requestedAtMs, deadlineMs },
        now(),
        message.attempt,
      ),
    );
  }
  return handOver(deps, { ...opening, deadlineMs }, token, {
    operationId: operation.id,
    attempt: message.attempt + 1,
    status: operation.status,
  });
}
