import type { SendMessageCommand, SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import { SQS_MAX_DELAY_SECONDS } from '../runtime/config.ts';
import { CheckQueueError } from '../runtime/errors.ts';
import { type CheckMessage, encodeCheckMessage } from '../runtime/messages.ts';
import type { CheckQueue } from '../runtime/ports.ts';

interface SqsSdk {
  readonly client: SQSClient;
  readonly SendMessage: typeof SendMessageCommand;
}

/**
 * The check queue on SQS, delayed per message with `DelaySeconds`. The SQS client is loaded on
 * the first send: the opener confirms most openings on its fast path and never needs it.
 */
export class SqsCheckQueue implements CheckQueue {
  private sdk: Promise<SqsSdk> | undefined;

  constructor(
    private readonly queueUrl: string,
    private readonly clientConfig: SQSClientConfig = {},
  ) {}

  async enqueue(message: CheckMessage, delaySeconds: number): Promise<void> {
    try {
      const { client, SendMessage } = await this.loadSdk();
      await client.send(
        new SendMessage({
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

  private loadSdk(): Promise<SqsSdk> {
    this.sdk ??= import('@aws-sdk/client-sqs').then((sdk) => ({
      client: new sdk.SQSClient(this.clientConfig),
      SendMessage: sdk.SendMessageCommand,
    }));
    return this.sdk;
  }
}

export function clampDelay(seconds: number): number {
  return Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.ceil(seconds)));
}
