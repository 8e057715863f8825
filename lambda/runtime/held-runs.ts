/**
 * Carrying a held run on from where it stopped (after a takeover, or when its step comes off the
 * check queue): waiting for the target's other action, asked before it, to end (one action on a
 * pool at a time, in the order asked), following its operation, or asking Toloka; and ending a
 * run past its deadline that nothing carries on.
 */

import { askToAct } from './asking-toloka.ts';
import { handOver } from './check-hand-over.ts';
import { OpeningBusyError } from './errors.ts';
import { targetFields } from './model.ts';
import { abandonedRecord, timedOutWaitingRecord } from './opening-records.ts';
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
import { isCarried, type Opening, undecidedBefore } from './openings-ledger.ts';

/**
 * Carries a held run on from where it stopped: waiting for the target's other action, following
 * its operation, or asking Toloka.
 */
export function goOnHeld(
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
  if (held.state === 'WAITING') return waitForPredecessor(deps, held, budget, token);
  return askToAct(deps, held, budget, token);
}

/**
 * An opening past its deadline that nothing carries on: this trigger takes it over and ends it
 * TIMED_OUT, without asking Toloka, so that the triggers that joined it get their record. Its
 * carrier trigger (whose message is in a dead-letter queue) is dropped by the takeover: its
 * redrive is a trigger of its own.
 */
export async function endAbandoned(
  deps: OpeningDependencies,
  opening: Opening,
  triggerId: string | undefined,
): Promise<void> {
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
 * A run asked while the target's other action ran (state `WAITING`): it acts once every run it
 * waits for (its predecessor, and theirs) is decided, and a decided one's record is written. Until
 * then it waits on the check queue, looking again on the same schedule as an operation's checks.
 * A predecessor that nothing carries on any more, and whose last step's message would be back by
 * now had that step died, is carried on here (taken over, or ended TIMED_OUT past its deadline):
 * never sooner, or that message, coming back as a trigger of its own, would act after this run.
 * At its own deadline the waiting run is TIMED_OUT, and the next trigger of the pool meets the
 * predecessor still undecided (`runInForce`), if it is.
 */
export async function waitForPredecessor(
  deps: OpeningDependencies,
  run: Opening,
  budget: StepBudget,
  token: string,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const get = (openingId: string) => deps.ledger.get(openingId);
  const direct = run.predecessorId === undefined ? undefined : await get(run.predecessorId);
  // Decided but its record never written (its reporter died): the record first. While the
  // reporter may still be writing it, this throws busy and the step comes back.
  if (direct?.state === 'DECIDED' && direct.reportedAtMs === undefined && direct.outcome !== undefined) {
    await reportIfOrphaned(deps, direct);
  }
  let predecessor = await undecidedBefore(run, get);
  if (predecessor !== undefined && isAbandoned(deps, predecessor, now())) {
    if (now() >= predecessor.deadlineMs) await endAbandoned(deps, predecessor, undefined);
    else await carryOnAbandoned(deps, predecessor, budget);
    predecessor = await undecidedBefore(run, get);
  }
  if (predecessor === undefined) return askToAct(deps, run, budget, token);
  if (now() >= run.deadlineMs) return conclude(deps, run, timedOutWaitingRecord(run, now()));
  deps.log.info(`waiting for the ${predecessor.action} asked before this ${run.action}`, {
    ...targetFields(run.target),
    openingId: run.openingId,
    waitingFor: predecessor.openingId,
  });
  return handOver(deps, run, token, { attempt: 1, status: 'WAITING' });
}

/**
 * Nothing carries the run on, and the message of its last step, had that step died, is back by
 * now (its lease was taken when the step began; the message is due back within the redelivery
 * time of then): the run is abandoned for good, not merely between a crash and its redelivery.
 */
function isAbandoned(deps: OpeningDependencies, run: Opening, nowMs: number): boolean {
  return !isCarried(run, nowMs) && nowMs >= (run.leaseUntilMs ?? 0) + redeliveryOf(deps);
}

/** Takes over a run before its deadline that nothing carries on, and carries it on in this step. */
async function carryOnAbandoned(deps: OpeningDependencies, run: Opening, budget: StepBudget): Promise<void> {
  const now = deps.now ?? Date.now;
  const acquired = await deps.ledger.acquire(run.openingId, '', now(), leaseOf(deps));
  if (acquired.kind !== 'acquired') return;
  deps.log.warn('took over the run asked before, which nothing carried on any more', {
    ...targetFields(run.target),
    openingId: run.openingId,
    state: run.state,
  });
  await releasingOnError(deps, run.openingId, acquired.token, () =>
    goOnHeld(deps, acquired.opening, budget, acquired.token),
  );
}
