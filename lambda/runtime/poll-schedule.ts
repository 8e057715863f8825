import type { PollSettings } from './config.ts';
import { SQS_MAX_DELAY_SECONDS } from './config.ts';

/** The first check comes this soon after the opening request, as toloka-kit's does. */
export const FIRST_CHECK_MS = 500;

/**
 * How long to wait before the next status check of an opening that has been going for
 * `elapsedMs`: the first check at 0.5 s, then every `minDelaySeconds` (1 s) while the opening is
 * young, then `(backoffFactor − 1) × elapsed` (25 % of the time already waited with the default
 * 1.25), capped at `maxDelaySeconds`.
 *
 * Waiting in proportion to the time already spent keeps the confirmation lag under that fraction
 * of the operation's length, while the number of checks grows only with its logarithm: an
 * operation of 10 s is confirmed within about 1 s with 9 checks, one of an hour with about 35.
 * The same schedule serves the opener's in-process checks (the fast path) and the queued ones.
 */
export function nextCheckDelayMs(settings: PollSettings, elapsedMs: number): number {
  if (elapsedMs < FIRST_CHECK_MS) return FIRST_CHECK_MS - elapsedMs;
  const proportional = (settings.backoffFactor - 1) * elapsedMs;
  return Math.min(settings.maxDelaySeconds * 1000, Math.max(settings.minDelaySeconds * 1000, proportional));
}

/**
 * The `DelaySeconds` of the next queued check: `nextCheckDelayMs` in SQS's whole seconds, never
 * above SQS's 900 s and never past the deadline, so that the last check lands on the deadline.
 */
export function queuedCheckDelaySeconds(
  settings: PollSettings,
  elapsedMs: number,
  msToDeadline: number,
): number {
  const wanted = Math.min(nextCheckDelayMs(settings, elapsedMs), Math.max(0, msToDeadline));
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(wanted / 1000));
}
