/**
 * The props of the {@link TolokaPoolOpener} construct (`lib/toloka-pool-opener.ts`), each
 * documented with its default. Validation and defaults: `lib/opener-settings.ts`.
 */
import type { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';

/**
 * The `source` of the outcome events the functions publish (`OUTCOME_EVENT_SOURCE` in
 * `lambda/adapters/eventbridge-outcome-sink.ts`); their PutEvents permission is limited to it.
 */
export const OUTCOME_EVENT_SOURCE = 'toloka-pool-opener';

/** Which Toloka the functions talk to. */
export type TolokaEnvironment = 'production' | 'sandbox';

/** One EventBridge Scheduler schedule that asks the opener to open (or close) one pool or training. */
export interface PoolSchedule {
  /**
   * How validation problems and synth warnings name this schedule, e.g. the place in your own
   * configuration (`pools[0].schedules[1]`).
   *
   * @default `schedules[<index>]`, its place in {@link TolokaPoolOpenerProps.schedules}
   */
  readonly label?: string;
  /**
   * Schedule name (unique in this construct; `[0-9a-zA-Z-_.]`, at most 64 characters).
   * The schedules live in a schedule group of their own, so names cannot clash with other apps.
   *
   * @default `pool-<poolId>-<n>` or `training-<trainingId>-<n>`, n counting that target's schedules from 1
   */
  readonly name?: string;
  /**
   * The Toloka pool to open (digits only). Give exactly one of `poolId` and `trainingId`.
   *
   * @default none
   */
  readonly poolId?: string;
  /**
   * The Toloka training to open (digits only). Give exactly one of `poolId` and `trainingId`.
   *
   * @default none
   */
  readonly trainingId?: string;
  /**
   * What the schedule asks of the pool: `open` it or `close` it. A close asked while the pool
   * opens waits until the opening has ended, and the other way round.
   *
   * @default 'open'
   */
  readonly action?: 'open' | 'close';
  /** When: `cron(m h dom mon dow yyyy)`, `rate(n unit)` or `at(yyyy-mm-ddThh:mm:ss)`. */
  readonly expression: string;
  /**
   * IANA time zone in which `cron` and `at` expressions are read.
   *
   * @default 'UTC'
   */
  readonly timeZone?: string;
  /**
   * Let Scheduler start the invocation anywhere within this window after the scheduled time
   * (whole minutes, 1 to 1440).
   *
   * @default off (invoke at the scheduled time)
   */
  readonly flexibleWindow?: Duration;
  /**
   * No invocations before this instant (recurring schedules only).
   *
   * @default no start date
   */
  readonly startDate?: Date;
  /**
   * No invocations after this instant (recurring schedules only).
   *
   * @default no end date
   */
  readonly endDate?: Date;
  /**
   * Whether the schedule is enabled.
   *
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Names of {@link TolokaPoolOpenerProps.calendars} whose dates this schedule skips: on such a
   * date (in the schedule's `timeZone`) its trigger ends in one `SKIPPED` record (`reason`
   * `CALENDAR`) and Toloka is not asked.
   *
   * @default none
   */
  readonly skip?: readonly string[];
  /**
   * A trigger that arrives later than this after its scheduled time (a retry, a dead letter
   * redriven days later) ends in one `SKIPPED` record (`reason` `LATE`) and Toloka is not asked.
   * Whole minutes, 10 to 10080: at least the 7 minutes a failed message takes to come back, which a trigger may have to wait.
   *
   * @default Duration.minutes(60): Scheduler's own retries end within an hour
   */
  readonly maxLateness?: Duration;
}

/** How the checker follows an open operation. */
export interface PollSettings {
  /**
   * Give up (outcome TIMED_OUT) when the operation is still running this long after the
   * opening was asked for. Whole seconds, at most 12 hours.
   *
   * @default Duration.hours(1)
   */
  readonly deadline?: Duration;
  /**
   * How long the opener follows the operation itself (the fast path: checks at 0.5 s, then about
   * every second) before it hands over to the delayed check queue. Most openings finish within
   * it, with no SQS message. Whole seconds, 0 (hand over at once) to 600, and at least 12 s less
   * than `functionTimeout` (one Toloka request of 10 s and a 2 s margin): 48 s at most with the
   * default 60 s.
   *
   * @default Duration.seconds(20)
   */
  readonly fastPath?: Duration;
  /**
   * Shortest wait between two checks (whole seconds, 1 to 900).
   *
   * @default Duration.seconds(1)
   */
  readonly minDelay?: Duration;
  /**
   * Longest wait between two checks (whole seconds, at least `minDelay`, never above 900: the SQS limit).
   *
   * @default Duration.seconds(900)
   */
  readonly maxDelay?: Duration;
  /**
   * Each wait is `(backoffFactor − 1)` times the time the opening has taken so far, between
   * `minDelay` and `maxDelay` (1 to 10): with 1.2 the confirmation comes within about 20 % of
   * the operation's length.
   *
   * @default 1.2
   */
  readonly backoffFactor?: number;
}

/** Properties of {@link TolokaPoolOpener}. */
export interface TolokaPoolOpenerProps {
  /**
   * Which Toloka to talk to.
   *
   * @default 'production'
   */
  readonly tolokaEnvironment?: TolokaEnvironment;
  /**
   * Name of the SSM SecureString parameter that holds the Toloka OAuth token: a plain name
   * (`toloka-token`) or a hierarchical one (`/toloka/api-token`). Must be a literal, not a token.
   */
  readonly tokenParameterName: string;
  /**
   * The customer managed KMS key that encrypts the token parameter. The functions may use it
   * to decrypt only through SSM (`kms:ViaService`).
   *
   * @default the AWS managed key `aws/ssm` (no KMS permission needed)
   */
  readonly tokenKey?: kms.IKey;
  /**
   * Toloka API origin override (`https://host[:port]`, optionally with a path prefix; no query,
   * fragment or credentials), e.g. an emulator. Sets `TOLOKA_API_URL` (without trailing `/`).
   *
   * @default none: the functions use the origin of `tolokaEnvironment`
   */
  readonly apiUrl?: string;
  /**
   * Schedules that open or close pools or trainings.
   *
   * @default no schedules (openings only through the trigger queue)
   */
  readonly schedules?: readonly PoolSchedule[];
  /**
   * Named lists of dates (`YYYY-MM-DD`, read in each schedule's own time zone) that schedules
   * can skip ({@link PoolSchedule.skip}), e.g. `{ holidays: ['2026-12-25', '2027-01-01'] }`.
   * Dates in the past never match, so a calendar can keep them. Names: 1-64 of `A-Z a-z 0-9 _ -`.
   *
   * @default no calendars
   */
  readonly calendars?: Readonly<Record<string, readonly string[]>>;
  /**
   * How the checker follows an operation.
   *
   * @default the defaults of each {@link PollSettings} field
   */
  readonly poll?: PollSettings;
  /**
   * Timeout of each function (whole seconds, 1 to 900). Queue visibility timeouts are 6 times this.
   *
   * @default Duration.seconds(60)
   */
  readonly functionTimeout?: Duration;
  /**
   * Memory of each function in MiB (128 to 10240).
   *
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the functions' log groups.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Receives of a message before SQS moves it to the queue's dead-letter queue (1 to 1000).
   *
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Message retention of the trigger and check queues (1 hour to 14 days, less than `dlqRetention`).
   *
   * @default Duration.days(4)
   */
  readonly queueRetention?: Duration;
  /**
   * Message retention of the dead-letter queues (at most 14 days). Must exceed `queueRetention`,
   * because a standard queue's message keeps its original enqueue time in the dead-letter queue.
   *
   * @default Duration.days(14)
   */
  readonly dlqRetention?: Duration;
  /**
   * Most trigger messages per opener invocation (1 to 10).
   *
   * @default 10
   */
  readonly triggerBatchSize?: number;
  /**
   * Most concurrent invocations that each SQS event source starts (2 to 1000, and at most
   * `tolokaRequestsPerSecond / 2`: each instance gets at least one request a second). Together,
   * `2 × maxConcurrency` is the most of the account's Lambda concurrency a burst takes.
   *
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * The deployment's Toloka request budget: the most requests a second that the opener and the
   * checker make together, however many triggers arrive at once (1 to 300, at least
   * `2 × maxConcurrency`). Toloka allows 300 a second per account, and the account's other tools
   * (task uploads, result downloads) share that limit: the default leaves them five sixths of it,
   * and opens 300 pools at the same minute in under two minutes. Each function instance gets an
   * equal share, `floor(budget / (2 × maxConcurrency))`, and spaces its requests by it.
   *
   * @default 50
   */
  readonly tolokaRequestsPerSecond?: number;
  /**
   * The EventBridge bus the functions publish each outcome to (`source` `toloka-pool-opener`,
   * `detail-type` `Toloka pool opening finished`), or `false` for no events. The functions may put
   * events on this bus only, and only with that source. They address the default bus by its name
   * (`OUTCOME_EVENT_BUS=default`) and any other bus by its ARN, so a bus in another account works
   * when its resource policy lets this account put events.
   *
   * @default the account's default event bus
   */
  readonly outcomeEventBus?: events.IEventBus | false;
  /**
   * Email address subscribed to the alarm topic ({@link TolokaPoolOpener.alarmTopic}); SNS asks the
   * address to confirm. Add other subscriptions to the topic yourself.
   *
   * @default no subscription: the alarms notify the topic only
   */
  readonly alarmEmail?: string;
  /**
   * CloudWatch namespace of the metrics taken from the outcome records (`Openings`,
   * `TimeToConfirm`). Give each TolokaPoolOpener in one account and region a namespace of its own,
   * or their metrics and alarms mix.
   *
   * @default 'TolokaPoolOpener'
   */
  readonly metricNamespace?: string;
  /**
   * Name of the CloudWatch dashboard (`[A-Za-z0-9_-]`, at most 255 characters). Dashboard names are
   * unique in the account across regions.
   *
   * @default `<stack name>-<construct path in the stack>-<region>`
   */
  readonly dashboardName?: string;
  /**
   * Alarm when the oldest message in the trigger queue is older than this (1 minute to 14 days,
   * whole seconds), or `false` for no such alarm.
   *
   * @default Duration.minutes(15)
   */
  readonly triggerQueueAgeAlarmThreshold?: Duration | false;
}
