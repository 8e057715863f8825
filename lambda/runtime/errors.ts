/**
 * The app's error classes. Each has a stable `code` (safe to match on, printed in records)
 * and keeps what caused it in `cause`. `isTransient` is the one place that decides whether
 * something is worth trying again.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  override get name(): string {
    return this.constructor.name;
  }
}

/** Configuration that cannot work: every problem is listed, each naming its variable. */
export class ConfigError extends AppError {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n - ${problems.join('\n - ')}`);
  }
}

/** A trigger or check message that can never succeed as sent. */
export class InvalidMessageError extends AppError {
  readonly code = 'INVALID_MESSAGE';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Toloka answered with an error status (or a status this app does not expect). */
export class TolokaApiError extends AppError {
  readonly code: string;
  constructor(
    readonly httpStatus: number,
    readonly body: {
      readonly code?: string;
      readonly message?: string;
      readonly request_id?: string;
      readonly payload?: unknown;
    },
    /** From a `Retry-After` header, when Toloka sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(body.message ?? `Toloka answered HTTP ${httpStatus}`);
    this.code = body.code ?? `HTTP_${httpStatus}`;
  }
}

/** The request never got a complete answer: connection refused or reset, DNS, time-out. */
export class TolokaNetworkError extends AppError {
  readonly code: 'TIMEOUT' | 'NETWORK_ERROR';
  constructor(message: string, options: { cause: unknown; timedOut: boolean }) {
    super(message, { cause: options.cause });
    this.code = options.timedOut ? 'TIMEOUT' : 'NETWORK_ERROR';
  }
}

/** A success status whose body is not what Toloka documents. */
export class TolokaProtocolError extends AppError {
  readonly code = 'MALFORMED_RESPONSE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The Toloka token could not be read. Never carries the token itself. */
export class TokenUnavailableError extends AppError {
  readonly code = 'TOKEN_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The token cannot go into an HTTP header (a line break, a character outside Latin-1): no retry
 * can fix it, and undici would otherwise fail the request as if the network were down. Names
 * where the token came from, never the token.
 */
export class UnsendableTokenError extends AppError {
  readonly code = 'TOKEN_NOT_SENDABLE';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`the token in ${source} cannot be sent in an HTTP header: ${reason}; store it again without it`);
  }
}

/**
 * Toloka refused the token (401/403) on a status check, even after reading it again: not a
 * verdict on the opening, so the check goes back to its queue (and on to the dead-letter queue,
 * with its alarm, while the token stays bad).
 */
export class TokenRefusedError extends AppError {
  readonly code = 'TOKEN_REFUSED';
  constructor(readonly refusal: TolokaApiError) {
    super(
      `Toloka refused the token with HTTP ${refusal.httpStatus} (${refusal.code}); the check will be tried again`,
      {
        cause: refusal,
      },
    );
  }
}

/**
 * Another copy of this step holds the opening (SQS delivered a message twice at once, or Lambda
 * retried an invocation that may still run): this one goes back to its queue, and a later copy
 * takes over if the holder died (its lease ran out).
 */
export class OpeningBusyError extends AppError {
  readonly code = 'OPENING_BUSY';
  constructor(
    readonly openingId: string,
    what: string,
  ) {
    super(`opening ${openingId}: ${what}; this copy will be tried again`);
  }
}

/** The openings ledger could not be read or written (DynamoDB unavailable, throttled, …). */
export class LedgerError extends AppError {
  readonly code = 'LEDGER_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The next status check could not be enqueued. */
export class CheckQueueError extends AppError {
  readonly code = 'CHECK_ENQUEUE_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Transient errors that outlived the in-process retry budget; the message goes back to its queue. */
export class RetriesExhaustedError extends AppError {
  readonly code = 'RETRIES_EXHAUSTED';
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`gave up after ${attempts} attempt(s): ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

const TRANSIENT_HTTP_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * The instance's share of the request budget had no turn for a request within the time the step
 * had left (or before the opening's deadline): nothing was sent. Transient: the step hands over or
 * its message comes back, as after any transient failure.
 */
export class RequestBudgetBusyError extends AppError {
  readonly code = 'TOLOKA_REQUEST_BUDGET_BUSY';
  constructor(readonly call: string) {
    super(`No turn of this instance's Toloka request budget for ${call} within the time left`);
  }
}

/**
 * Whether trying the same thing again later may succeed. Everything not listed is permanent:
 * Toloka's 400/401/403/404/409, bad messages, bad configuration.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof TolokaApiError) return TRANSIENT_HTTP_STATUSES.has(error.httpStatus);
  return (
    error instanceof TolokaNetworkError ||
    error instanceof TolokaProtocolError ||
    error instanceof TokenUnavailableError ||
    error instanceof CheckQueueError ||
    error instanceof LedgerError ||
    error instanceof TokenRefusedError ||
    error instanceof OpeningBusyError ||
    error instanceof RequestBudgetBusyError ||
    error instanceof RetriesExhaustedError
  );
}

/** A short, token-free description for logs. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: 'UNKNOWN', message: String(error) };
}
