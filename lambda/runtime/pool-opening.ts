/**
 * Opening a pool or training, once per opening however often it is asked for. A trigger is
 * claimed in the openings ledger first: a new opening asks Toloka, a trigger that finds one in
 * flight joins it, and a trigger seen before carries on with its own. The outcome is decided
 * once by the ledger and reported by whoever decided it. The checks are in operation-check.ts.
 */

import { handOver } from './check-hand-over.ts';
import { isTransient, OpeningBusyError, TolokaApiError, UnsendableTokenError } from './errors.ts';
import { isTerminal, type OpenTarget, type TolokaOperation, targetFields } from './model.ts';
import {
  abandonedRecord,
  failedRecord,
  lateOpenRecord,
  operationRecord,
  type RecordBase,
  recordBaseOf,
  timedOutRecord,
} from './opening-records.ts';
import {
  conclude,
  leaseOf,
  lostTheStep,
  type OpeningDependencies,
  releasingOnError,
  reportIfOrphaned,
  type StepBudget,
  type StepResult,
} from './opening-steps.ts';
import { type Claim, type Opening, startToken } from './openings-ledger.ts';
import { nextCheckDueMs } from './poll-schedule.ts';
import { type Credential, callToloka, credentialOf, isTokenRefusal, retryAfterOf } from './toloka-calls.ts';

export { invalidMessageRecord } from './opening-records.ts';

/** A trigger's identity within its target: its `triggerId` (a schedule's ARN@scheduled time), its SQS message ID, or the invocation's request ID. */
export interface Trigger {
  readonly id: string;
  readonly target: OpenTarget;
}

/**
 * Opens a pool or training for one trigger. Transient trouble that outlives the budget is
 * thrown, so the trigger goes back to its queue; permanent answers end in a FAILED record.
 */
export async function openTarget(
  deps: OpeningDependencies,
  trigger: Trigger,
  budget: StepBudget,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  // At most twice round: a claim that meets a past-deadline opening nothing else will end ends it
  // first (its own triggers get their TIMED_OUT record), then claims again.
  for (let round = 0; ; round++) {
    const nowMs = now();
    const claim = await deps.ledger.claim({
      triggerId: trigger.id,
      target: trigger.target,
      nowMs,
      deadlineMs: nowMs + deps.poll.deadlineSeconds * 1000,
      leaseMs: leaseOf(deps),
    });
    if (claim.kind === 'ending' && round === 0) {
      await endAbandoned(deps, claim.opening, trigger.id);
      continue;
    }
    if (claim.kind === 'ending') {
      throw new OpeningBusyError(claim.opening.openingId, 'the previous opening of the pool is still ending');
    }
    return carryOn(deps, trigger, budget, claim);
  }
}

async function carryOn(
  deps: OpeningDependencies,
  trigger: Trigger,
  budget: StepBudget,
  claim: Exclude<Claim, { kind: 'ending' }>,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const { opening } = claim;
  if (claim.kind === 'started') {
    return releasingOnError(deps, opening.openingId, claim.token, () =>
      askToOpen(deps, opening, budget, claim.token),
    );
  }
  const fields = { ...targetFields(opening.target), openingId: opening.openingId, triggerId: trigger.id };
  if (claim.kind === 'took-over') {
    deps.log.warn('took over an opening that nothing carried on any more', {
      ...fields,
      state: opening.state,
      operationId: opening.operationId,
    });
    return releasingOnError(deps, opening.openingId, claim.token, () =>
      goOnHeld(deps, opening, budget, claim.token),
    );
  }
  if (claim.kind === 'joined') {
    deps.log.info('joined the opening in flight', { ...fields, operationId: opening.operationId });
    return { kind: 'nothing-new', opening };
  }
  deps.log.info('trigger seen before: carrying on with its opening', { ...fields, state: opening.state });
  if (opening.state === 'DECIDED') return reportIfOrphaned(deps, opening);
  const acquired = await deps.ledger.acquire(
    opening.openingId,
    startToken(opening.openingId),
    now(),
    leaseOf(deps),
    trigger.id,
  );
  if (acquired.kind !== 'acquired') {
    if (acquired.kind === 'decided') return reportIfOrphaned(deps, acquired.opening ?? opening);
    if (acquired.kind === 'busy') {
      throw new OpeningBusyError(opening.openingId, 'another copy of this trigger is opening it');
    }
    // A queued step (a check, or an open waiting out a Retry-After) carries the opening on.
    deps.log.info('the opening goes on from its queued step: nothing new for this trigger', fields);
    return { kind: 'nothing-new', opening };
  }
  return releasingOnError(deps, acquired.opening.openingId, acquired.token, () =>
    goOnHeld(deps, acquired.opening, budget, acquired.token),
  );
}

/** Carries a held opening on from where it stopped: following its operation, or asking to open. */
function goOnHeld(
  deps: OpeningDependencies,
  held: Opening,
  budget: StepBudget,
  token: string,
): Promise<StepResult> {
  if (held.state === 'FOLLOWING' && held.operationId !== undefined) {
    // The step that followed it died, or its check went to the dead-letter queue: the chain
    // starts again from here.
    return handOver(deps, held, token, { operationId: held.operationId, attempt: held.checks + 1 });
  }
  return askToOpen(deps, held, budget, token);
}

/**
 * An opening past its deadline that nothing carries on: this trigger takes it over and ends it
 * TIMED_OUT, without asking Toloka, so that the triggers that joined it get their record. Its
 * carrier trigger (whose message is in a dead-letter queue) is dropped by the takeover: its
 * redrive is a trigger of its own.
 */
async function endAbandoned(deps: OpeningDependencies, opening: Opening, triggerId: string): Promise<void> {
  const now = deps.now ?? Date.now;
  const acquired = await deps.ledger.acquire(opening.openingId, '', now(), leaseOf(deps), triggerId);
  if (acquired.kind === 'decided') {
    await reportIfOrphaned(deps, acquired.opening ?? opening);
    return;
  }
  if (acquired.kind !== 'acquired') {
    throw new OpeningBusyError(opening.openingId, 'the previous opening of the pool is being ended');
  }
  const held = acquired.opening;
  deps.log.warn('ending an abandoned opening past its deadline before opening again', {
    ...targetFields(held.target),
    openingId: held.openingId,
    state: held.state,
  });
  await releasingOnError(deps, held.openingId, acquired.token, () =>
    conclude(deps, held, abandonedRecord(held, now())),
  );
}

/**
 * `POST …/open` for an opening that has no operation yet. A 409 `POOL_LOCKED_BY_ANOTHER_OPERATION`
 * usually means an earlier attempt of this very opening got through (a time-out, a reset, a
 * redelivery), or another client opens it: the running operation is looked up and followed.
 */
export async function askToOpen(
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
    return conclude(deps, opening, lateOpenRecord(opening, now(), attempt - 1));
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
      'open',
      credential,
      (authorization) => deps.toloka.open(opening.target, authorization),
    );
    if (response.kind === 'already-open') {
      return conclude(deps, opening, {
        outcome: 'ALREADY_OPEN',
        ...base,
        elapsedMs: now() - opening.requestedAtMs,
        checks: 0,
      });
    }
    operation = response.operation;
  } catch (error) {
    const running = await lockedBy(deps, opening, credential, budget, error);
    if (running !== undefined) operation = running;
    else {
      const waitMs = retryAfterOf(error);
      if (waitMs !== undefined && isTransient(error)) return deferOpen(deps, opening, token, waitMs, attempt);
      return conclude(deps, opening, failedRecord(error, base, opening.requestedAtMs, now()));
    }
  }
  return follow(deps, opening, operation, credential, budget, token);
}

/** The operation a 409 POOL_LOCKED_BY_ANOTHER_OPERATION points to, if one is running; else undefined. */
async function lockedBy(
  deps: OpeningDependencies,
  opening: Opening,
  credential: Credential,
  budget: StepBudget,
  error: unknown,
): Promise<TolokaOperation | undefined> {
  if (!(error instanceof TolokaApiError) || error.code !== 'POOL_LOCKED_BY_ANOTHER_OPERATION')
    return undefined;
  const running = await callToloka(deps, budget.budgetMs, 'findOpenOperation', credential, (authorization) =>
    deps.toloka.findOpenOperation(opening.target, authorization),
  );
  deps.log.info(
    'Toloka answered POOL_LOCKED_BY_ANOTHER_OPERATION; following the open operation in progress',
    {
      ...targetFields(opening.target),
      openingId: opening.openingId,
      operationId: running?.id,
    },
  );
  // Locked by something else (a close): Toloka's 409 is the verdict.
  return running;
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
 * ends the fast path rather than the opening: the check queue takes over. The deadline caps it
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
