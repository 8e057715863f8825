/**
 * The opener Lambda. Triggered by SQS (`{"poolId": "123"}` bodies; answers with partial batch
 * failures) or invoked directly (EventBridge Scheduler, `aws lambda invoke`) with the same
 * object. Parses the trigger, opens the pool through the domain code, maps the result.
 */
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { InvalidMessageError } from './runtime/errors.ts';
import { type HandlerRuntime, lambdaRuntime } from './runtime/lambda-dependencies.ts';
import { parseTrigger, parseTriggerBody } from './runtime/messages.ts';
import type { OutcomeRecord } from './runtime/model.ts';
import { invalidMessageRecord, openTarget, type StepResult } from './runtime/pool-opening.ts';
import { isSqsEvent, processSqsBatch, stepBudget } from './runtime/sqs-batch.ts';

/** What a direct invocation returns: the outcome, or where the opening is being followed. */
export type DirectInvocationResult =
  | OutcomeRecord
  | { readonly outcome: 'PENDING'; readonly operationId: string; readonly nextCheckInSeconds: number };

export function createOpenPoolHandler(getRuntime: () => HandlerRuntime) {
  return async (event: unknown, context?: Context): Promise<SQSBatchResponse | DirectInvocationResult> => {
    const { deps, requestTimeoutMs } = getRuntime();
    if (isSqsEvent(event)) {
      return processSqsBatch(event, context, deps.log, async (record) => {
        let target: ReturnType<typeof parseTrigger>;
        try {
          target = parseTriggerBody(record.body);
        } catch (error) {
          if (!(error instanceof InvalidMessageError)) throw error;
          await deps.outcomes.report(invalidMessageRecord(error, record.messageId));
          return;
        }
        await openTarget(deps, target, stepBudget(context, requestTimeoutMs));
      });
    }

    let target: ReturnType<typeof parseTrigger>;
    try {
      target = parseTrigger(event);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      const record = invalidMessageRecord(error);
      await deps.outcomes.report(record);
      return record;
    }
    // A transient failure is thrown: Lambda's asynchronous retries, then its dead-letter queue, take over.
    return directResult(await openTarget(deps, target, stepBudget(context, requestTimeoutMs)));
  };
}

function directResult(result: StepResult): DirectInvocationResult {
  return result.kind === 'finished'
    ? result.record
    : { outcome: 'PENDING', operationId: result.operationId, nextCheckInSeconds: result.nextCheckInSeconds };
}

export const handler = createOpenPoolHandler(lambdaRuntime);
