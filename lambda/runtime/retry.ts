import { isTransient, RetriesExhaustedError, TolokaApiError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

export interface RetryContext {
  /** Milliseconds left to spend on attempts and pauses; past it the error goes to the caller. */
  readonly budgetMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * The pause before attempt `attempt + 1`: Toloka's `Retry-After` when it sent one, otherwise
 * exponential backoff with full jitter (so many openers that failed together do not retry together).
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  error: unknown,
  random: () => number,
): number {
  if (error instanceof TolokaApiError && error.retryAfterMs !== undefined) return error.retryAfterMs;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the attempts or the time budget run
 * out. Permanent errors pass through unchanged; transient ones that outlive the budget come out
 * as `RetriesExhaustedError` with the last error as `cause`.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  context: RetryContext,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  const now = context.now ?? Date.now;
  const sleep = context.sleep ?? defaultSleep;
  const random = context.random ?? Math.random;
  const giveUpAt = now() + context.budgetMs;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (!isTransient(error)) throw error;
      const delayMs = retryDelayMs(policy, attemptNumber, error, random);
      if (attemptNumber >= policy.maxAttempts || now() + delayMs >= giveUpAt) {
        throw new RetriesExhaustedError(attemptNumber, error);
      }
      context.onRetry?.({ attempt: attemptNumber, delayMs, error });
      await sleep(delayMs);
    }
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
