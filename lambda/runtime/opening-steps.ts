/**
 * What every step of an opening shares, whether it starts in the opener (target-action.ts) or
 * comes off the check queue (operation-check.ts): the dependencies it talks to, its budget and
 * result, and the end of each opening: decided once in the ledger, reported by whoever decided.
 */
import type { PollSettings } from './config.ts';
import { OpeningBusyError } from './errors.ts';
import type { OutcomeRecord } from './model.ts';
import { boundedRecord } from './opening-records.ts';
import type { Opening, OpeningsLedger } from './openings-ledger.ts';
import type { CheckQueue, Log, OutcomeSink, RequestBudget, TokenSource, TolokaApi } from './ports.ts';
import type { RetryPolicy } from './retry.ts';

/** What the opening and checking steps talk to: the same code runs in Lambda, the CLI and locally. */
export interface OpeningDependencies {
  readonly toloka: TolokaApi;
  readonly tokens: TokenSource;
  readonly checks: CheckQueue;
  readonly outcomes: OutcomeSink;
  readonly ledger: OpeningsLedger;
  readonly log: Log;
  readonly poll: PollSettings;
  readonly retry: RetryPolicy;
  /**
   * The lease of a running step and of the step that writes a record: how long a copy of it
   * (a message delivered twice, a retried invocation) waits before it takes over, should the
   * holder have died. Default 2 minutes: longer than a function runs, shorter than a message's
   * way back through its queue (6 × the time-out).
   */
  readonly reportLeaseMs?: number;
  /**
   * How long after a step fails its message is back at the latest (the queue's visibility
   * time-out, or Lambda's asynchronous retries, plus a margin): until then the opening counts as
   * carried on, and a new trigger joins it rather than taking it over. Default 7 minutes (the
   * construct's 6 × 60 s visibility time-out, plus one).
   */
  readonly redeliveryMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The instance's share of the Toloka request budget: every request waits for its turn. Absent: not paced. */
  readonly requestBudget?: RequestBudget;
  /**
   * True while this function instance asks Toloka for more than its share of the request budget
   * lets through (lambda/runtime/request-pacer.ts): the fast path then hands over to the check
   * queue at its next check. Under a burst the opener's instances are what the next triggers wait
   * for, so they only ask Toloka and hand over; the checks go on, on the same schedule, from the
   * checker. Absent: never (the fast path runs its full length).
   */
  readonly overBudget?: () => boolean;
  /** New check tokens (UUIDs by default). */
  readonly newToken?: () => string;
}

/** How much wall time a step may spend on Toloka before it hands its message back to its queue. */
export interface StepBudget {
  readonly budgetMs: number;
}

export type StepResult =
  /** This step decided the outcome and wrote the record. */
  | { readonly kind: 'finished'; readonly record: OutcomeRecord }
  /** The opening goes on through the check queue. */
  | { readonly kind: 'following'; readonly operationId?: string; readonly nextCheckInSeconds: number }
  /** The trigger joined an opening in flight, or the message was a duplicate or stale: nothing new. */
  | { readonly kind: 'nothing-new'; readonly opening?: Opening };

const DEFAULT_REPORT_LEASE_MS = 120_000;
const DEFAULT_REDELIVERY_MS = 420_000;

/**
 * Runs a held step; if it throws (to be tried again), the opening is let go at once, so that the
 * retry need not wait out the lease. Only a step that dies keeps its lease until it runs out.
 */
export async function releasingOnError(
  deps: OpeningDependencies,
  openingId: string,
  token: string,
  step: () => Promise<StepResult>,
): Promise<StepResult> {
  try {
    return await step();
  } catch (error) {
    // The message comes back (its queue, Lambda's retries): the opening is carried on until then.
    const nowMs = (deps.now ?? Date.now)();
    await deps.ledger.release(openingId, token, nowMs, nowMs + redeliveryOf(deps)).catch(() => undefined);
    throw error;
  }
}

/**
 * Decides the outcome in the ledger, once; only the step whose write decided it writes the
 * record (listing every trigger of the opening) and publishes the event.
 */
export async function conclude(
  deps: OpeningDependencies,
  opening: Opening,
  record: OutcomeRecord,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const decided = await deps.ledger.decide(
    opening.openingId,
    boundedRecord(record),
    now(),
    leaseOf(deps),
    opening.checkToken,
  );
  if (decided === undefined) {
    deps.log.info('the outcome was decided by another step', { openingId: opening.openingId });
    return lostTheStep(deps, opening);
  }
  return reportDecided(deps, decided, boundedRecord(record));
}

/**
 * A decided opening met again (a redelivered trigger or check): its record is written here only
 * if whoever decided it died before writing it, which its report lease tells.
 */
export async function reportIfOrphaned(deps: OpeningDependencies, opening: Opening): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  if (opening.reportedAtMs !== undefined || opening.outcome === undefined)
    return { kind: 'nothing-new', opening };
  if (!(await deps.ledger.takeReport(opening.openingId, now(), leaseOf(deps)))) {
    // The step that decided it may still be writing the record: not done until that is known,
    // so this message (or invocation) comes back, and writes it if that step died.
    throw new OpeningBusyError(opening.openingId, 'its outcome is being reported');
  }
  deps.log.warn('the outcome was decided but its record never written: writing it now', {
    openingId: opening.openingId,
  });
  return reportDecided(deps, opening, opening.outcome);
}

/** Writes the record of a run this step decided (or holds the report lease of), then marks it reported. */
export async function reportDecided(
  deps: OpeningDependencies,
  opening: Opening,
  record: OutcomeRecord,
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  if (opening.triggers.length === 0 && opening.triggerCount === 0) {
    // Its only trigger was taken over from (its message is in a dead-letter queue, or was
    // deleted): that dead letter is its one trace, and a redrive of it is a trigger of its own.
    deps.log.warn('an abandoned opening ended with no trigger left to answer: no record', {
      openingId: opening.openingId,
      outcome: record.outcome,
    });
    await deps.ledger.markReported(opening.openingId, now());
    return { kind: 'nothing-new', opening };
  }
  const full: OutcomeRecord = {
    ...record,
    openingId: opening.openingId,
    triggers: [...opening.triggers],
    ...(opening.triggerCount > opening.triggers.length ? { triggerCount: opening.triggerCount } : {}),
  };
  await deps.outcomes.report(full);
  await deps.ledger.markReported(opening.openingId, now());
  return { kind: 'finished', record: full };
}

/**
 * A step that found the opening moved on without it (another step took it over, or decided it):
 * nothing new, unless the step ran for a trigger that the takeover dropped from the opening. Its
 * message must not be deleted unanswered, so it goes back to its queue: it comes back as a
 * trigger of its own (joins the opening, or starts the next). On AWS a running step outlives its
 * lease only if the function is frozen; a test's short lease makes it common.
 */
export async function lostTheStep(deps: OpeningDependencies, opening: Opening): Promise<StepResult> {
  const carrier = opening.carrier;
  if (carrier !== undefined) {
    const current = await deps.ledger.get(opening.openingId);
    if (current?.droppedTriggers?.includes(carrier) === true) {
      throw new OpeningBusyError(opening.openingId, `trigger ${carrier} was taken over from while it ran`);
    }
  }
  return { kind: 'nothing-new', opening };
}

/** How long after a failed step its message is due back at the latest. */
export function redeliveryOf(deps: OpeningDependencies): number {
  return deps.redeliveryMs ?? DEFAULT_REDELIVERY_MS;
}

/** The lease of a running step, and of the step that writes a record. */
export function leaseOf(deps: OpeningDependencies): number {
  return deps.reportLeaseMs ?? DEFAULT_REPORT_LEASE_MS;
}
