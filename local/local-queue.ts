import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type CheckMessage, encodeCheckMessage } from '../lambda/runtime/messages.ts';
import type { CheckQueue } from '../lambda/runtime/ports.ts';

export type SqsConsumer = (event: SQSEvent) => Promise<SQSBatchResponse | unknown>;

/**
 * How often each receive reaches the consumer. SQS and Lambda deliver at least once:
 * `in-a-row` hands every receive to the consumer again once the first invocation has ended (a
 * delete that was lost), and only the second invocation's answer counts; `at-once` hands it to
 * two invocations at the same time (two execution environments receiving one message), and a
 * message either of them handled is deleted. Either way it is one receive of the message.
 */
export type Duplicate = 'off' | 'in-a-row' | 'at-once';

export interface LocalQueueOptions {
  readonly name: string;
  /** Receives before a failing message moves to the dead letters. @default 3 */
  readonly maxReceiveCount?: number;
  /** Seconds a failed message stays invisible before it is delivered again. @default 5 */
  readonly visibilityTimeoutSeconds?: number;
  /** Multiplies every delay: 0.01 runs a 900 s delay in 9 s. @default 1 */
  readonly timeScale?: number;
  /** Every receive delivered twice, for tests of the at-least-once guarantees. @default 'off' */
  readonly duplicate?: Duplicate;
}

interface InFlight {
  readonly messageId: string;
  readonly body: string;
  receiveCount: number;
}

/**
 * An in-memory stand-in for an SQS queue and Lambda's event source mapping, for the local run and
 * tests: it honours per-message delays, delivers each message to the consumer as a one-record
 * SQS event, redelivers the batch item failures after the visibility time-out, and moves a
 * message that keeps failing to `deadLetters` after `maxReceiveCount` receives.
 */
export class LocalQueue {
  readonly deadLetters: Array<{ messageId: string; body: string }> = [];
  readonly sent: Array<{ messageId: string; body: string; delaySeconds: number }> = [];
  /** What the consumer threw, with causes and stacks, for inspection (Lambda would log it). */
  readonly errors: string[] = [];
  /** How each receive reaches the consumer; settable on a queue someone else built (the local app). */
  duplicate: Duplicate;
  private consumer: SqsConsumer | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: LocalQueueOptions) {
    this.duplicate = options.duplicate ?? 'off';
  }

  consumeWith(consumer: SqsConsumer): void {
    this.consumer = consumer;
  }

  send(body: string, delaySeconds = 0): void {
    const messageId = randomUUID();
    this.sent.push({ messageId, body, delaySeconds });
    this.schedule({ messageId, body, receiveCount: 0 }, delaySeconds);
  }

  /** Where Lambda's on-failure destination puts a failed asynchronous invocation's payload. */
  addDeadLetter(body: string): void {
    this.deadLetters.push({ messageId: randomUUID(), body });
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  /** Resolves once no message is waiting or being handled. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.pending = 0;
    this.settle();
  }

  private schedule(message: InFlight, delaySeconds: number): void {
    this.pending++;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.deliver(message).finally(() => {
          this.pending--;
          this.settle();
        });
      },
      delaySeconds * 1000 * (this.options.timeScale ?? 1),
    );
    this.timers.add(timer);
  }

  private async deliver(message: InFlight): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) throw new Error(`queue ${this.options.name} has no consumer`);
    message.receiveCount++;
    const event: SQSEvent = {
      Records: [
        {
          messageId: message.messageId,
          receiptHandle: `${message.messageId}#${message.receiveCount}`,
          body: message.body,
          attributes: {
            ApproximateReceiveCount: String(message.receiveCount),
            SentTimestamp: String(Date.now()),
            SenderId: 'local',
            ApproximateFirstReceiveTimestamp: String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: `arn:aws:sqs:local:000000000000:${this.options.name}`,
          awsRegion: 'local',
        },
      ],
    };
    let failed: boolean;
    if (this.duplicate === 'at-once') {
      const answers = await Promise.all([this.invoke(consumer, event), this.invoke(consumer, event)]);
      failed = answers.every(Boolean);
    } else {
      failed = await this.invoke(consumer, event);
      if (this.duplicate === 'in-a-row') failed = await this.invoke(consumer, event);
    }
    if (!failed) return;
    if (message.receiveCount >= (this.options.maxReceiveCount ?? 3)) {
      this.deadLetters.push({ messageId: message.messageId, body: message.body });
      return;
    }
    this.schedule(message, this.options.visibilityTimeoutSeconds ?? 5);
  }

  /** One invocation with the event: whether the message failed in it. */
  private async invoke(consumer: SqsConsumer, event: SQSEvent): Promise<boolean> {
    const messageId = event.Records[0]?.messageId;
    try {
      const response = (await consumer(event)) as Partial<SQSBatchResponse> | undefined;
      return (response?.batchItemFailures ?? []).some((item) => item.itemIdentifier === messageId);
    } catch (error) {
      // A handler that throws fails its whole batch, as in Lambda.
      this.errors.push(describeThrown(error));
      return true;
    }
  }

  private settle(): void {
    if (this.pending !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** An error as Lambda's runtime would log it: message, stack and the chain of causes. */
export function describeThrown(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(
      current instanceof Error
        ? `${current.stack ?? current.message} ${JSON.stringify(current)}`
        : String(current),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\ncaused by: ');
}

/** The check queue port on a local queue. */
export class LocalCheckQueue implements CheckQueue {
  constructor(private readonly queue: LocalQueue) {}
  async enqueue(message: CheckMessage, delaySeconds: number): Promise<void> {
    this.queue.send(encodeCheckMessage(message), delaySeconds);
  }
}
