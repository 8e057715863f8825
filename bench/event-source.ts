/**
 * Plays Lambda's SQS event source mapping continuously, as test/support/sqs-event-source.ts does
 * for one poll: long-polls a (moto) queue with WaitTimeSeconds 1, invokes the handler for each
 * batch without blocking the loop (at most `maxInFlight` batches at once, like the deployed
 * maximum concurrency of 5), and deletes the messages the handler did not report as failed.
 * Each invocation is recorded: which openings it served, how long the handler ran.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsEventOf } from '../test/support/sqs-event-source.ts';
import { REGION } from './infra.ts';
import { progress } from './output.ts';

export type BatchHandler = (event: SQSEvent, context: Context) => Promise<unknown>;

export interface Invocation {
  readonly queue: string;
  /** The opening each record belongs to (the pool ID in its body). */
  readonly keys: readonly string[];
  readonly startedAt: number;
  /** The handler's wall time, from the call to its settled promise. */
  readonly durationMs: number;
  readonly failed: number;
}

export interface Delivery {
  readonly body: string;
  readonly receivedAt: number;
  /** SQS's SentTimestamp attribute. */
  readonly sentAt: number;
}

export interface EventSourceOptions {
  readonly name: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: BatchHandler;
  /** The opening a message body belongs to. */
  readonly keyOf: (body: string) => string;
  readonly maxInFlight?: number;
  readonly batchSize?: number;
  readonly waitSeconds?: number;
  /** The function time-out, for the context's remaining time (the deployed functions have 60 s). */
  readonly functionTimeoutMs?: number;
}

export class EventSource {
  readonly invocations: Invocation[] = [];
  readonly deliveries: Delivery[] = [];
  receives = 0;
  emptyReceives = 0;
  deletes = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly options: EventSourceOptions,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops receiving, then waits for the batches still being handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    const maxInFlight = this.options.maxInFlight ?? 5;
    while (!this.stopped) {
      while (this.inFlight.size >= maxInFlight) await Promise.race(this.inFlight);
      let messages: Message[];
      try {
        const response = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: this.options.batchSize ?? 10,
            WaitTimeSeconds: this.options.waitSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        messages = response.Messages ?? [];
      } catch (error) {
        progress(`${this.options.name}: receive failed: ${(error as Error).message}`);
        await sleep(200);
        continue;
      }
      this.receives++;
      if (messages.length === 0) {
        this.emptyReceives++;
        continue;
      }
      const receivedAt = Date.now();
      for (const message of messages) {
        this.deliveries.push({
          body: message.Body ?? '',
          receivedAt,
          sentAt: Number(message.Attributes?.SentTimestamp ?? Number.NaN),
        });
      }
      const handled: Promise<void> = this.invoke(messages).finally(() => this.inFlight.delete(handled));
      this.inFlight.add(handled);
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    const event = sqsEventOf(messages, this.options.queueArn, REGION);
    const context = lambdaContext(this.options.name, this.options.functionTimeoutMs ?? 60_000);
    const startedAt = Date.now();
    const t0 = performance.now();
    let failed: string[];
    try {
      const response = (await this.options.handler(event, context)) as Partial<SQSBatchResponse> | undefined;
      failed = (response?.batchItemFailures ?? []).map((item) => item.itemIdentifier);
    } catch (error) {
      progress(`${this.options.name}: handler threw: ${(error as Error).message}`);
      failed = event.Records.map((record) => record.messageId);
    }
    const durationMs = performance.now() - t0;
    this.invocations.push({
      queue: this.options.name,
      keys: event.Records.map((record) => this.options.keyOf(record.body)),
      startedAt,
      durationMs,
      failed: failed.length,
    });
    const done = event.Records.filter((record) => !failed.includes(record.messageId));
    if (done.length === 0) return;
    try {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      this.deletes++;
    } catch (error) {
      progress(`${this.options.name}: delete failed: ${(error as Error).message}`);
    }
  }
}

/** A Lambda context with `timeoutMs` left from now, ticking in real time. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const end = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
