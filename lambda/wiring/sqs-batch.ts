import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError } from '../runtime/errors.ts';
import type { StepBudget } from '../runtime/opening-steps.ts';
import type { Log } from '../runtime/ports.ts';

/** Without a Lambda context (local runs, the CLI) a step may retry for this long. */
const BUDGET_WITHOUT_CONTEXT_MS = 30_000;
/** Kept back from the Lambda time-out for reporting and for the SQS send after the last attempt. */
const SAFETY_MARGIN_MS = 2_000;

/**
 * An SQS batch, as the event source mapping delivers it: records that all come from SQS
 * (`eventSource` `aws:sqs`). Anything else, `{"Records": [...]}` from a direct invocation
 * included, is a direct invocation and is parsed as one (and refused, naming the field).
 */
export function isSqsEvent(event: unknown): event is SQSEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every(
      (record) =>
        typeof record === 'object' &&
        record !== null &&
        (record as { eventSource?: unknown }).eventSource === 'aws:sqs',
    )
  );
}

/**
 * Runs `handleRecord` on every record in parallel and answers with SQS partial batch failures:
 * a record whose handler throws goes back to the queue alone (and, after `maxReceiveCount`
 * receives, to the dead-letter queue); the others are deleted.
 */
export async function processSqsBatch(
  event: SQSEvent,
  context: Context | undefined,
  log: Log,
  handleRecord: (record: SQSRecord) => Promise<void>,
): Promise<SQSBatchResponse> {
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    try {
      await handleRecord(record);
    } catch (error) {
      log.warn('message returned to its queue', {
        messageId: record.messageId,
        receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 0),
        error: describeError(error),
      });
      throw error;
    }
  };
  // A fresh processor per invocation: it holds the batch's state, and local runs invoke concurrently.
  const processor = new BatchProcessor(EventType.SQS);
  return processPartialResponse(event, recordHandler, processor, {
    ...(context !== undefined ? { context } : {}),
    throwOnFullBatchFailure: false,
  });
}

/** The time a step may spend retrying, leaving room for one more request and the hand-over. */
export function stepBudget(context: Context | undefined, requestTimeoutMs: number): StepBudget {
  if (context === undefined) return { budgetMs: BUDGET_WITHOUT_CONTEXT_MS };
  return { budgetMs: Math.max(0, context.getRemainingTimeInMillis() - requestTimeoutMs - SAFETY_MARGIN_MS) };
}
