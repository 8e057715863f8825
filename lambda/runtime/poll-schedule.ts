import type { PollSettings } from './config.ts';
import { SQS_MAX_DELAY_SECONDS } from './config.ts';

/**
 * Seconds to wait before check number `attempt` (1 for the first): `firstDelay × factor^(attempt-1)`,
 * rounded up to SQS's whole seconds, capped at `maxDelay` and at SQS's 900 s, and never past the
 * deadline, so that the last check lands on the deadline itself.
 *
 * The geometric spacing bounds the confirmation lag to about `(factor - 1)` of the time already
 * waited, while the number of checks grows only with the logarithm of the operation's length.
 */
export function checkDelaySeconds(
  settings: PollSettings,
  attempt: number,
  secondsToDeadline: number,
): number {
  const backoff = settings.firstDelaySeconds * settings.backoffFactor ** Math.max(0, attempt - 1);
  const capped = Math.min(backoff, settings.maxDelaySeconds, SQS_MAX_DELAY_SECONDS);
  return Math.max(0, Math.ceil(Math.min(capped, secondsToDeadline)));
}
