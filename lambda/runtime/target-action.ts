/**
 * An action on a pool or training (open or close), once per run however often it is asked for.
 * A trigger is claimed in the openings ledger first: a new run asks Toloka (or, while the target's
 * other action runs, waits for it: action-queue.ts), a trigger that finds a run of its action in
 * flight joins it, a trigger seen before carries on with its own, and one that must not act (a
 * calendar date, too late: schedule-rules.ts) ends SKIPPED. The outcome is decided once by the
 * ledger and reported by whoever decided it. The checks are in operation-check.ts.
 */

import { OpeningBusyError } from './errors.ts';
import { endAbandoned, goOnHeld } from './held-runs.ts';
import { type Action, type TolokaTarget, targetFields } from './model.ts';
import {
  leaseOf,
  type OpeningDependencies,
  releasingOnError,
  reportDecided,
  reportIfOrphaned,
  type StepBudget,
  type StepResult,
} from './opening-steps.ts';
import { type Claim, startToken } from './openings-ledger.ts';
import { type ScheduledOccurrence, skipRecordOf } from './schedule-rules.ts';

export { invalidMessageRecord } from './opening-records.ts';

/** A trigger: its identity within its target and action, what it asks, and, from a schedule, when it was meant for. */
export interface Trigger {
  /** Its `triggerId` (a schedule's ARN@scheduled time), its SQS message ID, or the invocation's request ID. */
  readonly id: string;
  readonly target: TolokaTarget;
  /** Default `open`. */
  readonly action?: Action;
  /** A schedule's trigger: its occurrence, its calendars and how late it may act. */
  readonly occurrence?: ScheduledOccurrence;
}

/**
 * Opens or closes a pool or training for one trigger. Transient trouble that outlives the budget
 * is thrown, so the trigger goes back to its queue; permanent answers end in a FAILED record.
 */
export async function runAction(
  deps: OpeningDependencies,
  trigger: Trigger,
  budget: StepBudget,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  // At most twice round: a claim that meets a past-deadline opening nothing else will end ends it
  // first (its own triggers get their TIMED_OUT record), then claims again.
  for (let round = 0; ; round++) {
    const nowMs = now();
    const action = trigger.action ?? 'open';
    const skip =
      trigger.occurrence === undefined ? undefined : skipRecordOf(trigger, trigger.occurrence, nowMs);
    const claim = await deps.ledger.claim({
      triggerId: trigger.id,
      target: trigger.target,
      action,
      ...(skip === undefined ? {} : { skip }),
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
  if (claim.kind === 'skipped') {
    deps.log.info('trigger skipped: Toloka not asked', {
      ...targetFields(opening.target),
      action: opening.action,
      reason: opening.outcome?.reason,
      triggerId: trigger.id,
    });
    return opening.outcome === undefined
      ? { kind: 'nothing-new', opening }
      : reportDecided(deps, opening, opening.outcome);
  }
  if (claim.kind === 'started') {
    return releasingOnError(deps, opening.openingId, claim.token, () =>
      goOnHeld(deps, opening, budget, claim.token),
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
