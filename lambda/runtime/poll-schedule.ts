import type { PollSettings } from './config.ts';
import { SQS_MAX_DELAY_SECONDS } from './config.ts';

/** The first check comes this soon after the opening request, as toloka-kit's does. */
export const FIRST_CHECK_MS = 500;

/**
 * The spacing rule: how long after a check made `elapsedMs` into the opening the next one is
 * due. The first check at 0.5 s, then every `minDelaySeconds` (1 s) while the opening is young,
 * then `(backoffFactor − 1) × elapsed` (a fifth of the time already waited with the default 1.2),
 * capped at `maxDelaySeconds`.
 *
 * Waiting in proportion to the time already spent keeps the confirmation lag under that fraction
 * of the operation's length, while the number of checks grows only with its logarithm: an
 * operation of 10 s is confirmed within 1.5 s with 10 checks, one of a minute with 20, one of an
 * hour with about 42. The same rule serves the opener's in-process checks (the fast path) and the
 * queued ones.
 */
export function nextCheckDelayMs(settings: PollSettings, elapsedMs: number): number {
  if (elapsedMs < FIRST_CHECK_MS) return FIRST_CHECK_MS - elapsedMs;
  const proportional = (settings.backoffFactor - 1) * elapsedMs;
  return Math.min(settings.maxDelaySeconds * 1000, Math.max(settings.minDelaySeconds * 1000, proportional));
}

/**
 * When the next check is due, in ms after the opening request, for a check made `elapsedMs` into
 * it. Checks aim at the fixed instants of the spacing rule (0.5 s, 1.5 s, …), not at "a delay
 * after the last check", so that the time a request or an SQS delivery takes does not push every
 * later check back; an instant closer than half a spacing is skipped, so that a check that comes
 * late (a redelivered message) or a little early (whole-second delays) never starts a burst.
 */
export function nextCheckDueMs(settings: PollSettings, elapsedMs: number): number {
  const earliest = elapsedMs + nextCheckDelayMs(settings, elapsedMs) / 2;
  return firstInstantAfter(settings, earliest);
}

/**
 * The first instant of the schedule after `earliest`, in closed form for the two arithmetic
 * phases (every `minDelaySeconds` while the opening is young, every `maxDelaySeconds` once the
 * cap is reached), so that a check of an opening hours old costs no loop over its elapsed time.
 * Only the geometric phase between them is stepped, and it has at most
 * log(max/min) / log(backoffFactor) instants whatever the elapsed time (about 37 by default).
 * The instants are those of stepping the rule from 0: `due += nextCheckDelayMs(due)`.
 */
export function firstInstantAfter(settings: PollSettings, earliest: number): number {
  const minMs = settings.minDelaySeconds * 1000;
  const maxMs = settings.maxDelaySeconds * 1000;
  const growth = settings.backoffFactor - 1;
  if (earliest < FIRST_CHECK_MS) return FIRST_CHECK_MS;
  // Young: the spacing is minMs while growth × t ≤ minMs, i.e. up to youngUntil.
  const youngUntil = growth > 0 ? minMs / growth : Number.POSITIVE_INFINITY;
  let due = FIRST_CHECK_MS;
  if (due <= youngUntil) {
    const lastYoung =
      FIRST_CHECK_MS +
      Math.floor((Math.min(youngUntil, Number.MAX_SAFE_INTEGER) - FIRST_CHECK_MS) / minMs) * minMs;
    if (earliest < lastYoung || youngUntil === Number.POSITIVE_INFINITY) {
      return FIRST_CHECK_MS + (Math.floor((earliest - FIRST_CHECK_MS) / minMs) + 1) * minMs;
    }
    due = lastYoung + minMs;
  }
  // Geometric: each spacing is growth × t, until it reaches the cap.
  while (due <= earliest && growth * due < maxMs) due += nextCheckDelayMs(settings, due);
  if (due > earliest) return due;
  // Capped: every maxMs from here.
  return due + (Math.floor((earliest - due) / maxMs) + 1) * maxMs;
}

/**
 * The `DelaySeconds` of a queued check due in `waitMs`: SQS's whole seconds, rounded down so that
 * the delivery's own latency does not make the check late (`nextCheckDueMs` skips the instant a
 * check comes just before), never above 900; and never past the deadline, so that the last check
 * lands on it.
 */
export function queuedCheckDelaySeconds(waitMs: number, msToDeadline: number): number {
  if (msToDeadline <= waitMs)
    return Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.ceil(msToDeadline / 1000)));
  if (waitMs <= 0) return 0;
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.max(1, Math.floor(waitMs / 1000)));
}
