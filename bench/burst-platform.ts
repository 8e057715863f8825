/**
 * A model of the AWS side of a burst, in one process, around the app's real handlers: Lambda's
 * execution environments (one runtime each, so each has its own request pacer), its asynchronous
 * invocations (two retries, 1 and 2 minutes apart, then the dead-letter queue; a throttled event
 * waits and is tried again) and SQS standard queues with their event source mappings (batches of
 * up to ten, at most `maxConcurrency` invocations at once, partial batch failures visible again
 * after the visibility time-out, a dead letter after `maxReceiveCount` receives). What it leaves
 * out is said in docs/benchmarks.md ("A busy morning": the model).
 */
import { performance } from 'node:perf_hooks';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext } from './event-source.ts';

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** How the platform is set up: the construct's defaults unless a run says otherwise. */
export interface PlatformSettings {
  /** Each SQS event source's maximum concurrency. */
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly visibilityTimeoutMs: number;
  readonly maxReceiveCount: number;
  readonly functionTimeoutMs: number;
  /** The account's concurrency, shared by every function (Lambda's default quota). */
  readonly accountConcurrency: number;
  /** The pauses before an asynchronous invocation's second and third attempts. */
  readonly asyncRetryDelaysMs: readonly number[];
}

export const CONSTRUCT_DEFAULTS: PlatformSettings = {
  maxConcurrency: 5,
  batchSize: 10,
  visibilityTimeoutMs: 360_000,
  maxReceiveCount: 5,
  functionTimeoutMs: 60_000,
  accountConcurrency: 1000,
  asyncRetryDelaysMs: [60_000, 120_000],
};

/** The account's concurrency, with its peak and every change of it, for the chart. */
export class Account {
  inUse = 0;
  peak = 0;
  readonly samples: Array<{ atMs: number; inUse: number }> = [];
  constructor(
    readonly limit: number,
    private readonly clock: () => number,
  ) {}

  take(): boolean {
    if (this.inUse >= this.limit) return false;
    this.inUse++;
    this.peak = Math.max(this.peak, this.inUse);
    this.samples.push({ atMs: this.clock(), inUse: this.inUse });
    return true;
  }

  release(): void {
    this.inUse--;
    this.samples.push({ atMs: this.clock(), inUse: this.inUse });
  }
}

interface Environment {
  readonly handler: Handler;
}

/** One function: its execution environments, created on demand and reused when idle. */
export class LambdaFunction {
  readonly invocations: Array<{ startedAtMs: number; durationMs: number }> = [];
  environments = 0;
  busy = 0;
  peakBusy = 0;
  private readonly idle: Environment[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    readonly name: string,
    /** A new execution environment: its own runtime, built as a cold start builds it. */
    private readonly newEnvironment: (index: number) => Handler,
    private readonly account: Account,
    private readonly settings: PlatformSettings,
    private readonly clock: () => number,
  ) {}

  /** Runs `event` on an idle environment or a new one; undefined when the account is out of concurrency. */
  tryInvoke(event: unknown): Promise<unknown> | undefined {
    if (!this.account.take()) return undefined;
    const environment = this.idle.pop() ?? { handler: this.newEnvironment(this.environments++) };
    this.busy++;
    this.peakBusy = Math.max(this.peakBusy, this.busy);
    const startedAtMs = this.clock();
    const run = environment.handler(event, lambdaContext(this.name, this.settings.functionTimeoutMs));
    const settled = run.finally(() => {
      this.invocations.push({ startedAtMs, durationMs: this.clock() - startedAtMs });
      this.busy--;
      this.account.release();
      this.idle.push(environment);
      this.running.delete(settled);
    });
    this.running.add(settled);
    return settled;
  }

  /** Resolves when no invocation runs any more. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

export interface DeadLetter {
  readonly queue: string;
  readonly body: string;
}

/** Requests to SQS the model makes, as SQS bills them (the event sources' empty receives aside). */
export interface SqsCounters {
  sends: number;
  receives: number;
  deletes: number;
}

interface QueuedMessage {
  readonly id: string;
  readonly body: string;
  visibleAtMs: number;
  receives: number;
}

/** An SQS standard queue and its event source mapping to `target`. */
export class ModelQueue {
  private readonly messages = new Map<string, QueuedMessage>();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private stopped = false;
  private nextId = 0;
  private pumpQueued = false;

  constructor(
    readonly name: string,
    private readonly target: LambdaFunction,
    private readonly settings: PlatformSettings,
    private readonly deadLetters: DeadLetter[],
    private readonly counters: SqsCounters,
    private readonly clock: () => number,
  ) {}

  get size(): number {
    return this.messages.size;
  }

  send(body: string, delaySeconds = 0): void {
    this.counters.sends++;
    const id = `${this.name}-${this.nextId++}`;
    this.messages.set(id, { id, body, visibleAtMs: this.clock() + delaySeconds * 1000, receives: 0 });
    // Messages sent together are received together (a poll returns what is there): the pump runs
    // once the sender's synchronous work is done.
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** No more deliveries (the run is over); messages left stay where they are. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.clock();
    while (this.inFlight < this.settings.maxConcurrency) {
      const visible = [...this.messages.values()]
        .filter((message) => message.visibleAtMs <= now)
        .sort((a, b) => a.visibleAtMs - b.visibleAtMs);
      const batch: QueuedMessage[] = [];
      for (const message of visible) {
        if (batch.length === this.settings.batchSize) break;
        if (message.receives >= this.settings.maxReceiveCount) {
          // SQS moves it on the receive that would exceed maxReceiveCount.
          this.messages.delete(message.id);
          this.deadLetters.push({ queue: this.name, body: message.body });
          continue;
        }
        batch.push(message);
      }
      if (batch.length === 0) break;
      const invocation = this.target.tryInvoke(this.eventOf(batch));
      if (invocation === undefined) {
        // Throttled: the event source tries again shortly, the messages stay visible.
        this.wakeAt(now + 1_000);
        return;
      }
      this.counters.receives++;
      this.inFlight++;
      for (const message of batch) {
        message.receives++;
        message.visibleAtMs = now + this.settings.visibilityTimeoutMs;
      }
      invocation
        .then(
          (response) => this.settle(batch, failedIds(response, batch)),
          () => this.settle(batch, new Set(batch.map((message) => message.id))),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
    // What is visible now waits for a running invocation to end (which pumps again); a timer
    // only for what becomes visible later.
    const later = [...this.messages.values()].filter((message) => message.visibleAtMs > now);
    const next = Math.min(...later.map((message) => message.visibleAtMs));
    if (Number.isFinite(next)) this.wakeAt(next);
  }

  /** Deletes what the handler did not report failed; the rest comes back after the visibility time-out. */
  private settle(batch: readonly QueuedMessage[], failed: ReadonlySet<string>): void {
    if (batch.some((message) => !failed.has(message.id))) this.counters.deletes++;
    for (const message of batch) if (!failed.has(message.id)) this.messages.delete(message.id);
  }

  private wakeAt(atMs: number): void {
    if (this.stopped || atMs >= this.timerAtMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, atMs - this.clock()),
    );
  }

  private eventOf(batch: readonly QueuedMessage[]): SQSEvent {
    return {
      Records: batch.map((message) => ({
        messageId: message.id,
        receiptHandle: `${message.id}-${message.receives}`,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: String(message.receives + 1),
          SentTimestamp: '0',
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${this.name}`,
        awsRegion: 'us-east-1',
      })),
    };
  }
}

function failedIds(response: unknown, batch: readonly QueuedMessage[]): Set<string> {
  const failures = (response as SQSBatchResponse | undefined)?.batchItemFailures ?? [];
  const ids = new Set(failures.map((failure) => failure.itemIdentifier));
  return new Set(batch.filter((message) => ids.has(message.id)).map((message) => message.id));
}

/**
 * Lambda's asynchronous invocation of `payload` (what Scheduler does with a Lambda target): tried
 * at once, throttled events tried again (from 1 s, doubling, up to 5 minutes apart, as Lambda
 * documents), a failed attempt retried after each of `asyncRetryDelaysMs`, and after the last
 * the event goes to the dead letters.
 */
export async function invokeAsync(
  target: LambdaFunction,
  payload: unknown,
  settings: PlatformSettings,
  deadLetters: DeadLetter[],
  isStopped: () => boolean,
): Promise<void> {
  const attempts = settings.asyncRetryDelaysMs.length + 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleepUnless(settings.asyncRetryDelaysMs[attempt - 1] ?? 0, isStopped);
    if (isStopped()) return;
    let throttledWaitMs = 1_000;
    let invocation = target.tryInvoke(payload);
    while (invocation === undefined) {
      await sleepUnless(throttledWaitMs, isStopped);
      if (isStopped()) return;
      throttledWaitMs = Math.min(2 * throttledWaitMs, 300_000);
      invocation = target.tryInvoke(payload);
    }
    try {
      await invocation;
      return;
    } catch {
      if (isStopped()) return;
    }
  }
  deadLetters.push({ queue: `${target.name} (asynchronous invocation)`, body: JSON.stringify(payload) });
}

/** Waits `ms`, or less once `stopped` says the run is over (it is asked every half second). */
async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const until = performance.now() + ms;
  while (!stopped() && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, until - performance.now())));
  }
}

/** Milliseconds since `instant` (a wall-clock time), measured on the monotonic clock. */
export function clockFrom(instant: number = Date.now()): () => number {
  const origin = performance.now() - (Date.now() - instant);
  return () => performance.now() - origin;
}
