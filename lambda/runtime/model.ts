/** What a trigger asks to open: a pool or a training pool, by its Toloka ID (ASCII digits). */
export type OpenTarget =
  | { readonly kind: 'pool'; readonly id: string }
  | { readonly kind: 'training'; readonly id: string };

export type OperationStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAIL';

/** The fields of a Toloka operation that this app reads; Toloka sends more. */
export interface TolokaOperation {
  readonly id: string;
  readonly type?: string;
  readonly status: OperationStatus;
  readonly submitted?: string;
  readonly started?: string;
  readonly finished?: string;
  readonly progress?: number;
  readonly details?: unknown;
}

/** What `GET /pools/{id}` (or `/trainings/{id}`) tells about a pool. */
export interface TolokaPoolState {
  readonly id: string;
  /** `OPEN`, `CLOSED`, `ARCHIVED` or `LOCKED`. */
  readonly status: string;
  readonly privateName?: string;
  /** `MANUAL`, `EXPIRED`, `COMPLETED`, `NOT_ENOUGH_BALANCE`, … when closed. */
  readonly lastCloseReason?: string;
  readonly lastStarted?: string;
  readonly lastStopped?: string;
}

export function isTerminal(status: OperationStatus): status is 'SUCCESS' | 'FAIL' {
  return status === 'SUCCESS' || status === 'FAIL';
}

/** The answer to `POST /pools/{id}/open` (or `/trainings/{id}/open`) that the caller acts on. */
export type OpenResponse =
  | { readonly kind: 'operation'; readonly operation: TolokaOperation }
  | { readonly kind: 'already-open' };

export type Outcome = 'OPENED' | 'ALREADY_OPEN' | 'FAILED' | 'TIMED_OUT';

/**
 * The one terminal record of an opening. Field names are part of the public contract
 * (README "Outcome record"): `request_id` keeps Toloka's spelling so it can be quoted as is.
 */
export interface OutcomeRecord {
  readonly outcome: Outcome;
  readonly poolId?: string;
  readonly trainingId?: string;
  readonly operationId?: string;
  /** Toloka's error code (`CONFLICT_STATE`, …) or this app's own (`INVALID_MESSAGE`, `OPERATION_FAILED`). */
  readonly code?: string;
  readonly message?: string;
  readonly request_id?: string;
  readonly httpStatus?: number;
  readonly payload?: unknown;
  /** The operation's last known status (FAILED by operation, TIMED_OUT). */
  readonly status?: OperationStatus;
  readonly progress?: number;
  /** For bad input: which field is wrong and why. */
  readonly field?: string;
  readonly reason?: string;
  /** The SQS message a bad trigger came in, so it can be found. */
  readonly messageId?: string;
  /** When the opening was first asked for (ISO 8601, UTC). */
  readonly requestedAt?: string;
  /** Milliseconds from the opening request to this record. */
  readonly elapsedMs?: number;
  /** How many `GET /operations` calls this opening made. */
  readonly checks?: number;
}

export function targetFields(target: OpenTarget): { poolId: string } | { trainingId: string } {
  return target.kind === 'pool' ? { poolId: target.id } : { trainingId: target.id };
}
