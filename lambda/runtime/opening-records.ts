/** The outcome records an opening can end in, built from what Toloka answered. */
import { type InvalidMessageError, isTransient, TolokaApiError, UnsendableTokenError } from './errors.ts';
import type { OutcomeRecord, TolokaOperation } from './model.ts';

export type RecordBase = Pick<OutcomeRecord, 'poolId' | 'trainingId' | 'operationId' | 'requestedAt'>;

/** The outcome of an operation that reached SUCCESS or FAIL. */
export function operationRecord(
  operation: TolokaOperation,
  base: RecordBase,
  requestedAtMs: number,
  nowMs: number,
  checks: number,
): OutcomeRecord {
  const common = { ...base, operationId: operation.id, elapsedMs: nowMs - requestedAtMs, checks };
  if (operation.status === 'SUCCESS') return { outcome: 'OPENED', ...common };
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
export function invalidMessageRecord(error: InvalidMessageError, messageId?: string): OutcomeRecord {
  return {
    outcome: 'FAILED',
    code: error.code,
    message: `invalid message: ${error.message}`,
    field: error.field,
    reason: error.reason,
    ...(messageId !== undefined ? { messageId } : {}),
  };
}
