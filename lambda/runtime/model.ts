/** What a trigger acts on: a pool or a training pool, by its Toloka ID (ASCII digits). */
export type TolokaTarget =
  | { readonly kind: 'pool'; readonly id: string }
  | { readonly kind: 'training'; readonly id: string };

/**
 * Toloka's operation statuses, and any other it may add: both official SDKs treat a status they
 * do not know as not terminal, and so does this app (only `SUCCESS` and `FAIL` end an opening).
 */
export type OperationStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAIL' | (string & {});

/**
 * The one rule for an operation ID, in the client and in the check-message parser: Toloka's IDs
 * are opaque (UUIDs and 24-hex IDs both appear in its specification), so letters, digits, `-`
 * and `_`, starting with a letter or digit: never `.`, `..`, `/` or anything that changes the
 * path it is put in.
 */
export const OPERATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function isOperationId(value: unknown): value is string {
  return typeof value === 'string' && OPERATION_ID_PATTERN.test(value);
}

/**
 * A Toloka date as an instant: UTC, ISO 8601 without a zone (`2026-11-28T12:00:00`, with 0 to
 * 6 fraction digits). `Date.parse` would read a zone-less value as local time. Undefined for
 * anything else.
 */
export function parseTolokaDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,6}))?$/.exec(value);
  if (match === null) return undefined;
  const ms = Date.parse(`${match[1]}Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== match[1]) return undefined;
  const fraction = (match[2] ?? '').padEnd(6, '0');
  return ms + Math.floor(Number(fraction) / 1000);
}

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

export function isTerminal(status: OperationStatus): boolean {
  return status === 'SUCCESS' || status === 'FAIL';
}

/** What a trigger asks of its target: open it (the default) or close it. */
export type Action = 'open' | 'close';

export const ACTIONS: readonly Action[] = ['open', 'close'];

/** The answer to `POST /pools/{id}/open|close` (or `/trainings/…`) that the caller acts on. */
export type ActionResponse =
  | { readonly kind: 'operation'; readonly operation: TolokaOperation }
  /** 204: the pool already has the status asked for. */
  | { readonly kind: 'already-done' };

export type Outcome =
  | 'OPENED'
  | 'ALREADY_OPEN'
  | 'CLOSED'
  | 'ALREADY_CLOSED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'SKIPPED';

/** The outcome of an operation that succeeded, and of a 204, for each action. */
export const DONE_OUTCOMES: Readonly<Record<Action, { readonly done: Outcome; readonly already: Outcome }>> =
  {
    open: { done: 'OPENED', already: 'ALREADY_OPEN' },
    close: { done: 'CLOSED', already: 'ALREADY_CLOSED' },
  };

/** Toloka's operation type of an action on a target: `POOL.OPEN`, `TRAINING.CLOSE`, … */
export function operationTypeOf(target: TolokaTarget, action: Action): string {
  return `${target.kind.toUpperCase()}.${action.toUpperCase()}`;
}

/** Why a trigger was skipped without a call to Toloka. */
export type SkipReason = 'CALENDAR' | 'LATE';

/**
 * The one terminal record of an opening. Field names are part of the public contract
 * (README "Outcome record"): `request_id` keeps Toloka's spelling so it can be quoted as is.
 */
export interface OutcomeRecord {
  readonly outcome: Outcome;
  /** What was asked of the pool; absent only on a bad message whose `action` itself is wrong. */
  readonly action?: Action;
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
  /** For bad input: which field is wrong and why. For SKIPPED: `CALENDAR` or `LATE`. */
  readonly field?: string;
  readonly reason?: string;
  /** SKIPPED: when the schedule meant the trigger to run (ISO 8601, UTC). */
  readonly scheduledTime?: string;
  /** SKIPPED for a calendar: its name, and the date (in the schedule's time zone) it lists. */
  readonly calendar?: string;
  readonly date?: string;
  /** SKIPPED as late: how many seconds after the scheduled time it came, the limit, and what acts now. */
  readonly lateSeconds?: number;
  readonly maxLatenessMinutes?: number;
  readonly command?: string;
  /** The SQS message a bad trigger came in, so it can be found. */
  readonly messageId?: string;
  /** When the opening was first asked for (ISO 8601, UTC). */
  readonly requestedAt?: string;
  /** Milliseconds from the opening request to this record. */
  readonly elapsedMs?: number;
  /** How many `GET /operations` calls this opening made. */
  readonly checks?: number;
  /** The opening's identity in the ledger: the same on every copy of its record and event. */
  readonly openingId?: string;
  /** The triggers this opening answers (SQS message IDs, `triggerId`s, request IDs), at most 50. */
  readonly triggers?: readonly string[];
  /** How many triggers it answers, when more than are listed. */
  readonly triggerCount?: number;
}

export function targetFields(target: TolokaTarget): { poolId: string } | { trainingId: string } {
  return target.kind === 'pool' ? { poolId: target.id } : { trainingId: target.id };
}
