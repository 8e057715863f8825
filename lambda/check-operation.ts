/**
 * The checker Lambda. Triggered by the delayed messages on the check queue; each one checks an
 * operation once and either reports the outcome or enqueues the next check. Answers with SQS
 * partial batch failures.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { InvalidMessageError } from './runtime/errors.ts';
import { type CheckMessage, parseCheckMessage } from './runtime/messages.ts';
import { checkOperation } from './runtime/operation-check.ts';
import { invalidMessageRecord } from './runtime/target-action.ts';
import { type HandlerRuntime, lambdaRuntime } from './wiring/lambda-dependencies.ts';
import { isSqsEvent, processSqsBatch, stepBudget } from './wiring/sqs-batch.ts';

export function createCheckOperationHandler(getRuntime: () => HandlerRuntime) {
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const { deps, requestTimeoutMs } = getRuntime();
    if (!isSqsEvent(event)) {
      throw new InvalidMessageError('event', 'the checker takes SQS events from the check queue only');
    }
    return processSqsBatch(event, context, deps.log, async (record) => {
      let message: CheckMessage;
      try {
        message = parseCheckMessage(record.body, {
          nowMs: (deps.now ?? Date.now)(),
          deadlineSeconds: deps.poll.deadlineSeconds,
        });
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        if (await deps.ledger.firstTime(`invalid:sqs:${record.messageId}`, (deps.now ?? Date.now)())) {
          await deps.outcomes.report(invalidMessageRecord(error, record.messageId));
        }
        return;
      }
      await checkOperation(deps, message, stepBudget(context, requestTimeoutMs));
    });
  };
}

export const handler = createCheckOperationHandler(lambdaRuntime);
