/**
 * Stands in for Lambda's SQS event source mapping, and nothing more: it receives from a real
 * (moto) queue, invokes the handler with an event shaped as Lambda shapes it, and deletes the
 * messages the handler did not list in `batchItemFailures`. A failed message is left to come
 * back after its visibility time-out, so SQS's own redrive policy decides when it moves to the
 * dead-letter queue.
 *
 * Delivery is at least once, as SQS and Lambda promise, and `delivery` chooses how "more than
 * once" looks:
 * - `once`: each received batch goes to one invocation (the usual case);
 * - `twice-in-a-row`: the batch is delivered again after the first invocation ends, as when the
 *   mapping's delete was lost or came after the visibility time-out; only the second invocation's
 *   answer deletes;
 * - `twice-at-once`: two invocations get the same records at the same time (two execution
 *   environments receiving one message); a record either of them handled is deleted, as each
 *   invocation's mapping deletes its own successes;
 * - `killed`: the handler runs in a child process (a {@link LambdaProcess}) that is killed with
 *   SIGKILL mid-batch, as a Lambda time-out kills it: nothing is deleted and the whole batch
 *   stays in flight until SQS delivers it again after the visibility time-out, to whichever
 *   handler polls next.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { KillPoint, LambdaProcess, LambdaProcessRun } from './lambda-process.ts';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | unknown>;

export type Delivery = 'once' | 'twice-in-a-row' | 'twice-at-once';

export interface PollOptions {
  readonly batchSize?: number;
  readonly waitSeconds?: number;
  /** @default 'once' */
  readonly delivery?: Delivery;
}

/** Kills the child's invocation after `afterMs` from its start, or at `at`; whichever comes first. */
export interface KillOptions {
  readonly afterMs?: number;
  readonly at?: KillPoint;
  /** The Lambda time-out the child's context counts down from. @default 60 s */
  readonly remainingMs?: number;
}

export interface PollResult {
  readonly received: number;
  /** Message IDs left on the queue for redelivery (not deleted). */
  readonly failed: string[];
  /** Message IDs received. */
  readonly messageIds: string[];
  /** The handler's answers, one per invocation. */
  readonly responses: unknown[];
}

export interface KilledPollResult extends PollResult {
  readonly run: LambdaProcessRun;
}

export async function pollOnce(
  sqs: SQSClient,
  queueUrl: string,
  queueArn: string,
  handler: SqsHandler,
  options: PollOptions = {},
): Promise<PollResult> {
  const messages = await receive(sqs, queueUrl, options);
  if (messages.length === 0) return { received: 0, failed: [], messageIds: [], responses: [] };
  const event = sqsEventOf(messages, queueArn);
  const ids = event.Records.map((record) => record.messageId);
  const delivery = options.delivery ?? 'once';
  let invocations: Invocation[];
  let stillFailed: Set<string>;
  if (delivery === 'twice-at-once') {
    invocations = await Promise.all([invoke(handler, event), invoke(handler, event)]);
    // Each invocation's mapping deletes what that invocation handled.
    stillFailed = new Set(ids.filter((id) => invocations.every(({ failed }) => failed.has(id))));
  } else {
    invocations = [await invoke(handler, event)];
    if (delivery === 'twice-in-a-row') invocations.push(await invoke(handler, redelivered(event)));
    // The last delivery's answer is the one whose deletes happen.
    stillFailed = invocations.at(-1)?.failed ?? new Set();
  }
  await deleteHandled(
    sqs,
    queueUrl,
    event.Records.filter((record) => !stillFailed.has(record.messageId)).map(
      (record) => record.receiptHandle,
    ),
  );
  return {
    received: messages.length,
    failed: ids.filter((id) => stillFailed.has(id)),
    messageIds: ids,
    responses: invocations.map(({ response }) => response),
  };
}

/**
 * Receives a batch and gives it to `lambda` (a child process), which is killed as a Lambda
 * time-out kills a function (see {@link KillOptions}). Nothing is deleted: the batch stays in
 * flight and SQS delivers it again after its visibility time-out.
 */
export async function pollOnceKilled(
  sqs: SQSClient,
  queueUrl: string,
  queueArn: string,
  lambda: LambdaProcess,
  kill: KillOptions,
  options: Omit<PollOptions, 'delivery'> = {},
): Promise<KilledPollResult | undefined> {
  const messages = await receive(sqs, queueUrl, options);
  if (messages.length === 0) return undefined;
  const event = sqsEventOf(messages, queueArn);
  const run = await lambda.invoke(event, {
    ...(kill.remainingMs === undefined ? {} : { remainingMs: kill.remainingMs }),
    ...(kill.afterMs === undefined ? {} : { killAfterMs: kill.afterMs }),
    ...(kill.at === undefined ? {} : { killAt: kill.at }),
  });
  const ids = event.Records.map((record) => record.messageId);
  if (!run.killed) {
    // Not killed after all: the mapping does what it always does with the answer.
    const failed = failedIds(run.result, ids);
    await deleteHandled(
      sqs,
      queueUrl,
      event.Records.filter((record) => !failed.has(record.messageId)).map((record) => record.receiptHandle),
    );
    return { received: ids.length, failed: [...failed], messageIds: ids, responses: [run.result], run };
  }
  return { received: ids.length, failed: ids, messageIds: ids, responses: [], run };
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

interface Invocation {
  readonly response: unknown;
  readonly failed: Set<string>;
}

async function receive(
  sqs: SQSClient,
  queueUrl: string,
  options: Omit<PollOptions, 'delivery'>,
): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 10,
      WaitTimeSeconds: options.waitSeconds ?? 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages;
}

async function invoke(handler: SqsHandler, event: SQSEvent): Promise<Invocation> {
  const ids = event.Records.map((record) => record.messageId);
  try {
    const response = await handler(event);
    return { response, failed: failedIds(response, ids) };
  } catch (error) {
    // A handler that throws fails its whole batch.
    return { response: error, failed: new Set(ids) };
  }
}

function failedIds(response: unknown, ids: readonly string[]): Set<string> {
  if (response instanceof Error) return new Set(ids);
  const items = (response as Partial<SQSBatchResponse> | undefined)?.batchItemFailures ?? [];
  return new Set(items.map((item) => item.itemIdentifier));
}

/** The same records received again: SQS counts one more receive. */
function redelivered(event: SQSEvent): SQSEvent {
  return {
    Records: event.Records.map((record) => ({
      ...record,
      attributes: {
        ...record.attributes,
        ApproximateReceiveCount: String(Number(record.attributes.ApproximateReceiveCount) + 1),
      },
    })),
  };
}

async function deleteHandled(sqs: SQSClient, queueUrl: string, receiptHandles: string[]): Promise<void> {
  if (receiptHandles.length === 0) return;
  await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: receiptHandles.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle })),
    }),
  );
}
