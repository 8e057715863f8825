import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SQS_MAX_DELAY_SECONDS } from './config.ts';
import { CheckQueueError } from './errors.ts';
import { type CheckMessage, encodeCheckMessage } from './messages.ts';

/** Where the next status check of an operation is scheduled. */
export interface CheckQueue {
  /** Delivers `message` to the checker after `delaySeconds` (0 to 900). */
  enqueue(message: CheckMessage, delaySeconds: number): Promise<void>;
}

/** The check queue on SQS, delayed per message with `DelaySeconds`. */
export class SqsCheckQueue implements CheckQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(message: CheckMessage, delaySeconds: number): Promise<void> {
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: encodeCheckMessage(message),
          DelaySeconds: clampDelay(delaySeconds),
        }),
      );
    } catch (error) {
      throw new CheckQueueError(
        `cannot enqueue check ${message.attempt} of operation ${message.operationId}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

export function clampDelay(seconds: number): number {
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.ceil(seconds)));
}
