/**
 * Stands in for Lambda's SQS event source mapping, and nothing more: it receives from a real
 * (moto) queue, invokes the handler with an event shaped as Lambda shapes it, and deletes the
 * messages the handler did not list in `batchItemFailures`. A failed message is left to come
 * back after its visibility time-out, so SQS's own redrive policy decides when it moves to the
 * dead-letter queue.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | unknown>;

export interface PollResult {
  readonly received: number;
  readonly failed: string[];
}

export async function pollOnce(
  sqs: SQSClient,
  queueUrl: string,
  queueArn: string,
  handler: SqsHandler,
  options: { batchSize?: number; waitSeconds?: number } = {},
): Promise<PollResult> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 10,
      WaitTimeSeconds: options.waitSeconds ?? 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  if (Messages.length === 0) return { received: 0, failed: [] };
  const event = sqsEventOf(Messages, queueArn);
  let failed: string[];
  try {
    const response = (await handler(event)) as Partial<SQSBatchResponse> | undefined;
    failed = (response?.batchItemFailures ?? []).map((item) => item.itemIdentifier);
  } catch {
    failed = event.Records.map((record) => record.messageId);
  }
  const done = event.Records.filter((record) => !failed.includes(record.messageId));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }),
    );
  }
  return { received: Messages.length, failed };
}

/** Received messages as the SQS event Lambda's event source mapping would deliver. */
export function sqsEventOf(
  messages: readonly Message[],
  queueArn: string,
  awsRegion = 'eu-west-1',
): SQSEvent {
  return {
    Records: messages.map((message) => ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
        SenderId: message.Attributes?.SenderId ?? '',
        ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion,
    })),
  };
}
