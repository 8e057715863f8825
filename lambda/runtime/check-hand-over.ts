/**
 * Handing an opening over to the check queue: the next check (or, after a `Retry-After`, the
 * next attempt to open) is sent first, then the ledger's live token moves to it, and the opening
 * counts as carried on until the check is due plus one redelivery.
 */
import type { CheckMessage } from './messages.ts';
import { targetFields } from './model.ts';
import { lostTheStep, type OpeningDependencies, redeliveryOf, type StepResult } from './opening-steps.ts';
import type { Opening } from './openings-ledger.ts';
import { nextCheckDueMs, queuedCheckDelaySeconds } from './poll-schedule.ts';

/**
 * Sends the opening's next check and makes it the live one: the message goes first, then the
 * ledger's token moves from `fromToken` to it, so that a crash in between leaves the previous
 * message live (and the new one stale), never neither.
 */
export async function handOver(
  deps: OpeningDependencies,
  opening: Opening,
  fromToken: string,
  next: {
    readonly operationId?: string;
    readonly attempt: number;
    readonly status?: string;
    readonly waitMs?: number;
  },
): Promise<StepResult> {
  const now = deps.now ?? Date.now;
  const token = (deps.newToken ?? randomToken)();
  const elapsedMs = now() - opening.requestedAtMs;
  const waitMs = next.waitMs ?? opening.requestedAtMs + nextCheckDueMs(deps.poll, elapsedMs) - now();
  // A wait for Toloka (Retry-After) is never cut short; its last leg ends at the deadline at the latest.
  const delay =
    next.waitMs === undefined
      ? queuedCheckDelaySeconds(waitMs, opening.deadlineMs - now())
      : Math.min(900, Math.max(0, Math.ceil(Math.min(waitMs, opening.deadlineMs - now()) / 1000)));
  const message: CheckMessage = {
    version: 2,
    target: opening.target,
    openingId: opening.openingId,
    checkToken: token,
    ...(next.operationId === undefined ? {} : { operationId: next.operationId }),
    requestedAt: new Date(opening.requestedAtMs).toISOString(),
    deadline: new Date(opening.deadlineMs).toISOString(),
    attempt: next.attempt,
    ...(next.waitMs === undefined ? {} : { notBefore: new Date(now() + next.waitMs).toISOString() }),
  };
  await deps.checks.enqueue(message, delay);
  // The check carries the opening until it is due, plus one redelivery should its step fail.
  const live = await deps.ledger.passCheck(
    opening.openingId,
    fromToken,
    token,
    next.attempt - 1,
    now() + delay * 1000 + redeliveryOf(deps),
  );
  deps.log.info(
    live ? 'opening in progress, status check enqueued' : 'a newer check took over; this one is stale',
    {
      ...targetFields(opening.target),
      openingId: opening.openingId,
      operationId: next.operationId,
      status: next.status,
      checks: next.attempt - 1,
      nextCheckInSeconds: delay,
    },
  );
  if (!live) return lostTheStep(deps, opening);
  return {
    kind: 'following',
    ...(next.operationId === undefined ? {} : { operationId: next.operationId }),
    nextCheckInSeconds: delay,
  };
}

function randomToken(): string {
  return crypto.randomUUID();
}
