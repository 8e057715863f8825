/** The outcome records a run (an open or a close) can end in, built from what Toloka answered. */
import { type InvalidMessageError, isTransient, TolokaApiError, UnsendableTokenError } from './errors.ts';
import {
  type Action,
  DONE_OUTCOMES,
  type OutcomeRecord,
  type TolokaOperation,
  type TolokaTarget,
  targetFields,
} from './model.ts';

export type RecordBase = Pick<
  OutcomeRecord,
  'action' | 'poolId' | 'trainingId' | 'operationId' | 'requestedAt'
>;

/** The outcome of an operation that reached SUCCESS (OPENED, CLOSED) or FAIL. */
export function operationRecord(
  operation: TolokaOperation,
  base: RecordBase,
  requestedAtMs: number,
  nowMs: number,
  checks: number,
): OutcomeRecord {
  const common = { ...base, operationId: operation.id, elapsedMs: nowMs - requestedAtMs, checks };
  if (operation.status === 'SUCCESS')
    return { outcome: DONE_OUTCOMES[base.action ?? 'open'].done, ...common };
  return {
    outcome: 'FAILED',
    ...common,
    code: 'OPERATION_FAILED',
    message: `Toloka reports operation ${operation.id} as FAIL`,
    status: operation.status,
    progress: operation.progress,
    ...(operation.details !== undefined ? { payload: operation.details } : {}),
  };
}

/**
 * The outcome of an opening unfinished at its deadline: with the operation's last status, or,
 * without an operation (Toloka asked to wait, `Retry-After`, past the deadline), without one.
 */
export function timedOutRecord(
  operation: TolokaOperation | undefined,
  base: RecordBase,
  times: { readonly requestedAtMs: number; readonly deadlineMs: number },
  nowMs: number,
  checks: number,
): OutcomeRecord {
  const deadline = new Date(times.deadlineMs).toISOString();
  return {
    outcome: 'TIMED_OUT',
    ...base,
    ...(operation === undefined
      ? {
          code: 'DEADLINE_EXCEEDED',
          message: `Toloka asked to wait (Retry-After) until after the deadline ${deadline}`,
        }
      : {
          operationId: operation.id,
          code: 'DEADLINE_EXCEEDED',
          message: `operation still ${operation.status} at the deadline ${deadline}`,
          status: operation.status,
          progress: operation.progress,
        }),
    elapsedMs: nowMs - times.requestedAtMs,
    checks,
  };
}

/** A permanent error as a FAILED record; a transient one is thrown on so the message is retried. */
export function failedRecord(
  error: unknown,
  base: RecordBase,
  requestedAtMs: number,
  nowMs: number,
): OutcomeRecord {
  if (isTransient(error)) throw error;
  if (error instanceof TolokaApiError) {
    return {
      outcome: 'FAILED',
      ...base,
      code: error.code,
      message: error.body.message ?? `Toloka answered HTTP ${error.httpStatus}`,
      request_id: error.body.request_id,
      httpStatus: error.httpStatus,
      ...(error.body.payload !== undefined ? { payload: error.body.payload } : {}),
      elapsedMs: nowMs - requestedAtMs,
    };
  }
  if (error instanceof UnsendableTokenError) {
    return {
      outcome: 'FAILED',
      ...base,
      code: error.code,
      message: error.message,
      elapsedMs: nowMs - requestedAtMs,
    };
  }
  throw error;
}

/** The FAILED record of a message that can never be processed: it names the field and the reason. */
export function invalidMessageRecord(
  error: InvalidMessageError,
  messageId?: string,
  action?: Action,
): OutcomeRecord {
  return {
    outcome: 'FAILED',
    ...(action === undefined ? {} : { action }),
    code: error.code,
    message: `invalid message: ${error.message}`,
    field: error.field,
    reason: error.reason,
    ...(messageId !== undefined ? { messageId } : {}),
  };
}

/** What a run needs for the records below: what it asks, when it was asked for and until when. */
export interface OpeningTimes {
  readonly target: TolokaTarget;
  readonly action: Action;
  readonly requestedAtMs: number;
  readonly deadlineMs: number;
  readonly operationId?: string;
  readonly checks?: number;
}

/** The fields every record of an opening starts with: its target, operation and request time. */
export function recordBaseOf(opening: OpeningTimes): RecordBase {
  return {
    ...targetFields(opening.target),
    action: opening.action,
    ...(opening.operationId === undefined || opening.operationId === ''
      ? {}
      : { operationId: opening.operationId }),
    requestedAt: new Date(opening.requestedAtMs).toISOString(),
  };
}

/**
 * A trigger's step that came after the deadline, before anything was asked of Toloka (a
 * redelivery or a redrive days later): TIMED_OUT, and no `POST …/open` so late.
 */
export function lateRequestRecord(opening: OpeningTimes, nowMs: number, checks: number): OutcomeRecord {
  const deadline = new Date(opening.deadlineMs).toISOString();
  return {
    outcome: 'TIMED_OUT',
    ...recordBaseOf(opening),
    code: 'DEADLINE_EXCEEDED',
    message: `the request to ${opening.action} came after the deadline ${deadline} (a late redelivery or redrive): Toloka was not asked`,
    elapsedMs: nowMs - opening.requestedAtMs,
    checks,
  };
}

/**
 * A run that waited for the target's other action (asked before it) until its own deadline:
 * TIMED_OUT, Toloka not asked.
 */
export function timedOutWaitingRecord(opening: OpeningTimes, nowMs: number): OutcomeRecord {
  const deadline = new Date(opening.deadlineMs).toISOString();
  const other = opening.action === 'open' ? 'close' : 'open';
  return {
    outcome: 'TIMED_OUT',
    ...recordBaseOf(opening),
    code: 'DEADLINE_EXCEEDED',
    message: `the ${other} asked before this ${opening.action} had not ended at the deadline ${deadline}: Toloka was not asked to ${opening.action}`,
    elapsedMs: nowMs - opening.requestedAtMs,
    checks: 0,
  };
}

/**
 * An opening that nothing carried on until after its deadline (its message went to a dead-letter
 * queue, or was deleted), ended by the next trigger for its pool: TIMED_OUT, its operation's last
 * status unknown, Toloka not asked.
 */
export function abandonedRecord(opening: OpeningTimes, nowMs: number): OutcomeRecord {
  const deadline = new Date(opening.deadlineMs).toISOString();
  return {
    outcome: 'TIMED_OUT',
    ...recordBaseOf(opening),
    code: 'DEADLINE_EXCEEDED',
    message: `nothing carried the opening on before its deadline ${deadline} (its message is in a dead-letter queue, or was deleted)`,
    elapsedMs: nowMs - opening.requestedAtMs,
    checks: opening.checks ?? 0,
  };
}

/**
 * A check that came long after its deadline (a check message redriven from its dead-letter queue
 * days later): TIMED_OUT without asking Toloka, whose operation may be long gone.
 */
export function lateCheckRecord(
  opening: OpeningTimes,
  deadlineMs: number,
  nowMs: number,
  checks: number,
): OutcomeRecord {
  const deadline = new Date(deadlineMs).toISOString();
  return {
    outcome: 'TIMED_OUT',
    ...recordBaseOf(opening),
    code: 'DEADLINE_EXCEEDED',
    message: `the check came ${Math.round((nowMs - deadlineMs) / 60_000)} min after the deadline ${deadline} (a late redrive): Toloka was not asked`,
    elapsedMs: nowMs - opening.requestedAtMs,
    checks,
  };
}

/** The most of Toloka's `payload` (or an operation's `details`) a record keeps, as JSON text. */
export const MAX_PAYLOAD_CHARS = 4_096;
/** The most of a message a record keeps. */
export const MAX_MESSAGE_CHARS = 1_024;

/**
 * A record of bounded size, whatever Toloka sent: it goes to a log line, an EventBridge event and
 * a DynamoDB item, the smallest of which (DynamoDB's 400 KB item) it must stay well under. A
 * longer `payload` is replaced by its first 4 KB of JSON with a marker that says so; a longer
 * `message` is cut with a marker.
 */
export function boundedRecord(record: OutcomeRecord): OutcomeRecord {
  let bounded = record;
  if (record.payload !== undefined) {
    const text = JSON.stringify(record.payload) ?? '';
    if (text.length > MAX_PAYLOAD_CHARS) {
      bounded = {
        ...bounded,
        payload: {
          truncated: true,
          originalLength: text.length,
          start: text.slice(0, MAX_PAYLOAD_CHARS),
        },
      };
    }
  }
  if (record.code !== undefined && record.code.length > 128) {
    bounded = { ...bounded, code: `${record.code.slice(0, 128)}…` };
  }
  if (record.message !== undefined && record.message.length > MAX_MESSAGE_CHARS) {
    bounded = {
      ...bounded,
      message: `${record.message.slice(0, MAX_MESSAGE_CHARS)}… [cut: ${record.message.length} characters in all]`,
    };
  }
  return bounded;
}
