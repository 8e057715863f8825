/**
 * The opener Lambda (it opens and closes). Triggered by SQS (`{"poolId": "123"}` bodies, with an
 * optional `action` and `triggerId`, and a schedule's occurrence; answers with partial batch
 * failures: the schedules send there too) or invoked directly (`aws lambda invoke`) with the same object.
 * Parses the trigger, runs its action through the domain code, maps the result.
 */
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { InvalidMessageError } from './runtime/errors.ts';
import { actionOf, type ParsedTrigger, parseDirectTrigger, parseTriggerMessage } from './runtime/messages.ts';
import type { OutcomeRecord } from './runtime/model.ts';
import type { StepResult } from './runtime/opening-steps.ts';
import { invalidMessageRecord, runAction } from './runtime/target-action.ts';
import { type HandlerRuntime, lambdaRuntime } from './wiring/lambda-dependencies.ts';
import { isSqsEvent, processSqsBatch, stepBudget } from './wiring/sqs-batch.ts';

/** What a direct invocation returns: the outcome, or where the opening is being followed. */
export type DirectInvocationResult =
  | OutcomeRecord
  | {
      readonly outcome: 'PENDING';
      readonly openingId?: string;
      readonly operationId?: string;
      readonly nextCheckInSeconds?: number;
    };

export function createOpenPoolHandler(getRuntime: () => HandlerRuntime) {
  return async (event: unknown, context?: Context): Promise<SQSBatchResponse | DirectInvocationResult> => {
    const { deps, requestTimeoutMs } = getRuntime();
    if (isSqsEvent(event)) {
      return processSqsBatch(event, context, deps.log, async (record) => {
        let trigger: ParsedTrigger;
        try {
          trigger = parseTriggerMessage(record.body);
        } catch (error) {
          if (!(error instanceof InvalidMessageError)) throw error;
          // A bad message delivered twice is reported once.
          if (await deps.ledger.firstTime(`invalid:sqs:${record.messageId}`, (deps.now ?? Date.now)())) {
            await deps.outcomes.report(invalidMessageRecord(error, record.messageId, actionOf(record.body)));
          }
          return;
        }
        // The trigger's identity: its `triggerId` when it has one (a schedule's dead letter
        // redriven here keeps its occurrence's), else its SQS message ID: a redelivery of it is
        // the same trigger.
        const id =
          trigger.triggerId !== undefined ? `direct:${trigger.triggerId}` : `sqs:${record.messageId}`;
        await runAction(deps, { ...trigger, id }, stepBudget(context, requestTimeoutMs));
      });
    }

    let trigger: ParsedTrigger;
    try {
      trigger = parseDirectTrigger(event);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      const record = invalidMessageRecord(error, undefined, actionOf(event));
      const key =
        context?.awsRequestId === undefined ? undefined : `invalid:invocation:${context.awsRequestId}`;
      if (key === undefined || (await deps.ledger.firstTime(key, (deps.now ?? Date.now)()))) {
        await deps.outcomes.report(record);
      }
      return record;
    }
    // The payload's triggerId (a schedule's ARN and scheduled time) when it has one, else this
    // invocation's request ID, which Lambda keeps for its own retries of an asynchronous invocation.
    const id =
      trigger.triggerId !== undefined
        ? `direct:${trigger.triggerId}`
        : `invocation:${context?.awsRequestId ?? crypto.randomUUID()}`;
    // A transient failure is thrown: Lambda's asynchronous retries, then its dead-letter queue, take over.
    return directResult(await runAction(deps, { ...trigger, id }, stepBudget(context, requestTimeoutMs)));
  };
}

function directResult(result: StepResult): DirectInvocationResult {
  if (result.kind === 'finished') return result.record;
  if (result.kind === 'following') {
    return {
      outcome: 'PENDING',
      ...(result.operationId === undefined ? {} : { operationId: result.operationId }),
      nextCheckInSeconds: result.nextCheckInSeconds,
    };
  }
  // Nothing new: the opening this trigger joined or had already, as far as it has come.
  const opening = result.opening;
  if (opening?.outcome !== undefined)
    return { ...opening.outcome, openingId: opening.openingId, triggers: opening.triggers };
  return {
    outcome: 'PENDING',
    ...(opening === undefined ? {} : { openingId: opening.openingId }),
    ...(opening?.operationId === undefined ? {} : { operationId: opening.operationId }),
  };
}

export const handler = createOpenPoolHandler(lambdaRuntime);
