import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, Aws, CfnResource, Duration, Stack, TimeZone, Token, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_METRIC_NAMESPACE, OpenerMonitoring } from './monitoring.ts';
import {
  assignScheduleNames,
  atExpressionInstant,
  checkApiUrl,
  checkNumber,
  checkParameterName,
  checkScheduleExpression,
  checkScheduleName,
  checkTimeZone,
  checkTolokaId,
  duplicateNames,
  expressionKind,
  normalizeApiUrl,
  show,
} from './validation.ts';

/**
 * The `source` of the outcome events the functions publish (`OUTCOME_EVENT_SOURCE` in
 * `lambda/runtime/outcome-events.ts`); their PutEvents permission is limited to it.
 */
export const OUTCOME_EVENT_SOURCE = 'toloka-pool-opener';

/** The repository root (this file lives in `<root>/lib/`), independent of the working directory. */
const REPO_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** Which Toloka the functions talk to. */
export type TolokaEnvironment = 'production' | 'sandbox';

/** One EventBridge Scheduler schedule that asks the opener to open one pool or training. */
export interface PoolSchedule {
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
  /** When to open: `cron(m h dom mon dow yyyy)`, `rate(n unit)` or `at(yyyy-mm-ddThh:mm:ss)`. */
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
   * it, with no SQS message. Whole seconds, 0 (hand over at once) to 600, and at least 10 s less
   * than `functionTimeout`.
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
   * Schedules that open pools or trainings.
   *
   * @default no schedules (openings only through the trigger queue)
   */
  readonly schedules?: readonly PoolSchedule[];
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
   * Most concurrent invocations that each SQS event source starts (2 to 1000).
   *
   * @default 5
   */
  readonly maxConcurrency?: number;
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

/** The validated, defaulted settings the construct builds from. */
interface Settings {
  readonly tolokaEnvironment: TolokaEnvironment;
  readonly tokenParameterName: string;
  readonly apiUrl: string | undefined;
  readonly schedules: readonly (PoolSchedule & { readonly name: string; readonly timeZone: string })[];
  readonly deadlineSeconds: number;
  readonly fastPathSeconds: number;
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
  readonly backoffFactor: number;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly maxReceiveCount: number;
  readonly queueRetentionSeconds: number;
  readonly dlqRetentionSeconds: number;
  readonly triggerBatchSize: number;
  readonly maxConcurrency: number;
  readonly alarmEmail: string | undefined;
  readonly metricNamespace: string;
  readonly dashboardName: string | undefined;
  readonly triggerQueueAgeAlarmSeconds: number | undefined;
}

const DAY = 86_400;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** CloudWatch's namespace characters (the space included), at most 255. */
const NAMESPACE = /^[0-9A-Za-z.\-_/#: ]{1,255}$/;
const DASHBOARD_NAME = /^[0-9A-Za-z_-]{1,255}$/;
const ENVIRONMENTS: readonly string[] = ['production', 'sandbox'];
const RETENTION_VALUES: ReadonlySet<unknown> = new Set(Object.values(logs.RetentionDays));

/** Duration → seconds, or a problem (not a Duration, fractional seconds, out of range). */
function durationSeconds(
  value: unknown,
  fallback: number,
  range: { min: number; max: number },
): { seconds: number; problem?: string } {
  if (value === undefined) return { seconds: fallback };
  if (!(value instanceof Duration))
    return { seconds: fallback, problem: `must be a Duration (got ${show(value)})` };
  const seconds = value.toSeconds({ integral: false });
  const problem = checkNumber(seconds, { ...range, unit: 's' });
  return problem === undefined
    ? { seconds }
    : { seconds: fallback, problem: problem.replace(/^must be an integer/, 'must be whole seconds') };
}

function isDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * Validates the props and fills in defaults. Returns every problem found, each prefixed with
 * its prop path (`schedules[1].timeZone: …`), instead of stopping at the first.
 */
export function resolveTolokaPoolOpenerProps(props: TolokaPoolOpenerProps): {
  settings: Settings;
  problems: string[];
} {
  const problems: string[] = [];
  const add = (where: string, problem: string | undefined): void => {
    if (problem !== undefined) problems.push(`${where}: ${problem}`);
  };

  const tolokaEnvironment = props.tolokaEnvironment ?? 'production';
  if (!ENVIRONMENTS.includes(tolokaEnvironment)) {
    add('tolokaEnvironment', `must be "production" or "sandbox" (got ${show(tolokaEnvironment)})`);
  }

  const tokenParameterName: unknown = props.tokenParameterName;
  if (typeof tokenParameterName !== 'string' || tokenParameterName === '') {
    add('tokenParameterName', 'is required');
  } else if (Token.isUnresolved(tokenParameterName)) {
    add('tokenParameterName', 'must be a literal name, not a token (the IAM policy is scoped to it)');
  } else {
    for (const problem of checkParameterName(tokenParameterName)) add('tokenParameterName', problem);
  }

  if (props.tokenKey !== undefined && /:alias\//.test(props.tokenKey.keyArn)) {
    add(
      'tokenKey',
      'is a KMS alias; IAM cannot scope kms:Decrypt to an alias, pass the key (kms.Key.fromKeyArn)',
    );
  }

  let apiUrl: string | undefined;
  if (props.apiUrl !== undefined) {
    if (typeof props.apiUrl !== 'string') add('apiUrl', `must be a string (got ${show(props.apiUrl)})`);
    else if (Token.isUnresolved(props.apiUrl)) apiUrl = props.apiUrl;
    else {
      const problem = checkApiUrl(props.apiUrl);
      add('apiUrl', problem);
      if (problem === undefined) apiUrl = normalizeApiUrl(props.apiUrl);
    }
  }

  const poll = props.poll ?? {};
  const deadline = durationSeconds(poll.deadline, 3600, { min: 1, max: 12 * 3600 });
  add('poll.deadline', deadline.problem);
  const fastPath = durationSeconds(poll.fastPath, 20, { min: 0, max: 600 });
  add('poll.fastPath', fastPath.problem);
  const minDelay = durationSeconds(poll.minDelay, 1, { min: 1, max: 900 });
  add('poll.minDelay', minDelay.problem);
  const maxDelay = durationSeconds(poll.maxDelay, 900, { min: 1, max: 900 });
  add('poll.maxDelay', maxDelay.problem);
  if (
    maxDelay.problem === undefined &&
    minDelay.problem === undefined &&
    maxDelay.seconds < minDelay.seconds
  ) {
    add('poll.maxDelay', `${maxDelay.seconds}s must not be less than poll.minDelay (${minDelay.seconds}s)`);
  }
  if (
    deadline.problem === undefined &&
    minDelay.problem === undefined &&
    deadline.seconds < minDelay.seconds
  ) {
    add('poll.deadline', `${deadline.seconds}s must not be less than poll.minDelay (${minDelay.seconds}s)`);
  }
  const backoffFactor = poll.backoffFactor ?? 1.2;
  add('poll.backoffFactor', checkNumber(backoffFactor, { min: 1, max: 10, integer: false }));

  const timeout = durationSeconds(props.functionTimeout, 60, { min: 1, max: 900 });
  add('functionTimeout', timeout.problem);
  if (
    timeout.problem === undefined &&
    fastPath.problem === undefined &&
    fastPath.seconds > timeout.seconds - 10
  ) {
    // The opener needs time after the fast path for the request that started it and the hand-over.
    add(
      'poll.fastPath',
      `${fastPath.seconds}s must be at least 10 s less than functionTimeout (${timeout.seconds}s)`,
    );
  }
  const memorySize = props.memorySize ?? 256;
  add('memorySize', checkNumber(memorySize, { min: 128, max: 10_240, unit: 'MiB' }));
  const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
  if (!RETENTION_VALUES.has(logRetention)) {
    add('logRetention', `${show(logRetention)} is not a logs.RetentionDays value`);
  }
  const maxReceiveCount = props.maxReceiveCount ?? 5;
  add('maxReceiveCount', checkNumber(maxReceiveCount, { min: 1, max: 1000 }));
  const queueRetention = durationSeconds(props.queueRetention, 4 * DAY, { min: 3600, max: 14 * DAY });
  add('queueRetention', queueRetention.problem);
  const dlqRetention = durationSeconds(props.dlqRetention, 14 * DAY, { min: 60, max: 14 * DAY });
  add('dlqRetention', dlqRetention.problem);
  if (
    queueRetention.problem === undefined &&
    dlqRetention.problem === undefined &&
    dlqRetention.seconds <= queueRetention.seconds
  ) {
    add(
      'dlqRetention',
      `${dlqRetention.seconds}s must exceed the source queues' retention (queueRetention: ${queueRetention.seconds}s)`,
    );
  }
  const triggerBatchSize = props.triggerBatchSize ?? 10;
  add('triggerBatchSize', checkNumber(triggerBatchSize, { min: 1, max: 10 }));
  const maxConcurrency = props.maxConcurrency ?? 5;
  add('maxConcurrency', checkNumber(maxConcurrency, { min: 2, max: 1000 }));

  const schedules = resolveSchedules(props.schedules, add);

  const bus: unknown = props.outcomeEventBus;
  if (
    bus !== undefined &&
    bus !== false &&
    (typeof bus !== 'object' || bus === null || typeof (bus as events.IEventBus).eventBusArn !== 'string')
  ) {
    add('outcomeEventBus', `must be an events.IEventBus or false (got ${show(bus)})`);
  }

  let alarmEmail: string | undefined;
  if (props.alarmEmail !== undefined) {
    const email: unknown = props.alarmEmail;
    if (typeof email !== 'string') add('alarmEmail', `must be a string (got ${show(email)})`);
    else if (!Token.isUnresolved(email) && !EMAIL.test(email)) {
      add('alarmEmail', `${show(email)} is not an email address`);
    } else alarmEmail = email;
  }

  const metricNamespace: unknown = props.metricNamespace ?? DEFAULT_METRIC_NAMESPACE;
  if (typeof metricNamespace !== 'string') {
    add('metricNamespace', `must be a string (got ${show(metricNamespace)})`);
  } else if (!Token.isUnresolved(metricNamespace)) {
    if (!NAMESPACE.test(metricNamespace) || metricNamespace.trim() === '') {
      add(
        'metricNamespace',
        `${show(metricNamespace)} must be 1-255 characters from 0-9 A-Z a-z . - _ / # : and space`,
      );
    } else if (metricNamespace.startsWith('AWS/')) {
      add('metricNamespace', `${show(metricNamespace)} must not start with "AWS/", which AWS reserves`);
    }
  }

  const dashboardName: unknown = props.dashboardName;
  if (dashboardName !== undefined) {
    if (typeof dashboardName !== 'string') {
      add('dashboardName', `must be a string (got ${show(dashboardName)})`);
    } else if (!Token.isUnresolved(dashboardName) && !DASHBOARD_NAME.test(dashboardName)) {
      add('dashboardName', `${show(dashboardName)} must be 1-255 characters from 0-9 A-Z a-z _ -`);
    }
  }

  let triggerQueueAgeAlarmSeconds: number | undefined;
  if (props.triggerQueueAgeAlarmThreshold !== false) {
    const age = durationSeconds(props.triggerQueueAgeAlarmThreshold, 15 * 60, { min: 60, max: 14 * DAY });
    add('triggerQueueAgeAlarmThreshold', age.problem);
    triggerQueueAgeAlarmSeconds = age.seconds;
  }

  return {
    problems,
    settings: {
      tolokaEnvironment,
      tokenParameterName: typeof tokenParameterName === 'string' ? tokenParameterName : '',
      apiUrl,
      schedules,
      deadlineSeconds: deadline.seconds,
      fastPathSeconds: fastPath.seconds,
      minDelaySeconds: minDelay.seconds,
      maxDelaySeconds: maxDelay.seconds,
      backoffFactor,
      timeoutSeconds: timeout.seconds,
      memorySize,
      logRetention,
      maxReceiveCount,
      queueRetentionSeconds: queueRetention.seconds,
      dlqRetentionSeconds: dlqRetention.seconds,
      triggerBatchSize,
      maxConcurrency,
      alarmEmail,
      metricNamespace: typeof metricNamespace === 'string' ? metricNamespace : DEFAULT_METRIC_NAMESPACE,
      dashboardName: typeof dashboardName === 'string' ? dashboardName : undefined,
      triggerQueueAgeAlarmSeconds,
    },
  };
}

function resolveSchedules(
  value: readonly PoolSchedule[] | undefined,
  add: (where: string, problem: string | undefined) => void,
): Settings['schedules'] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    add('schedules', `must be an array (got ${show(value)})`);
    return [];
  }
  const targets = value.map((schedule) => {
    const kind: 'pool' | 'training' =
      schedule.poolId !== undefined || schedule.trainingId === undefined ? 'pool' : 'training';
    const id = String((kind === 'pool' ? schedule.poolId : schedule.trainingId) ?? '');
    return { name: schedule.name, kind, id };
  });
  const names = assignScheduleNames(targets);
  const duplicates = duplicateNames(names, (first) => `schedules[${first}]`);

  return value.map((schedule, i) => {
    const where = `schedules[${i}]`;
    const hasPool = schedule.poolId !== undefined;
    const hasTraining = schedule.trainingId !== undefined;
    if (hasPool === hasTraining) add(where, 'give exactly one of poolId and trainingId');
    if (hasPool) add(`${where}.poolId`, checkTolokaId(schedule.poolId));
    if (hasTraining) add(`${where}.trainingId`, checkTolokaId(schedule.trainingId));

    const name = names[i] ?? '';
    const nameWhere = schedule.name === undefined ? `${where}.name (generated)` : `${where}.name`;
    add(
      nameWhere,
      typeof schedule.name === 'string' || schedule.name === undefined
        ? checkScheduleName(name)
        : `must be a string (got ${show(schedule.name)})`,
    );
    add(nameWhere, duplicates.get(i));

    let kind: ReturnType<typeof expressionKind>;
    if (typeof schedule.expression !== 'string') {
      add(
        `${where}.expression`,
        schedule.expression === undefined
          ? 'is required'
          : `must be a string (got ${show(schedule.expression)})`,
      );
    } else {
      add(`${where}.expression`, checkScheduleExpression(schedule.expression));
      kind = expressionKind(schedule.expression);
    }

    const timeZone = schedule.timeZone ?? 'UTC';
    add(
      `${where}.timeZone`,
      typeof timeZone === 'string' ? checkTimeZone(timeZone) : `must be a string (got ${show(timeZone)})`,
    );

    if (schedule.flexibleWindow !== undefined) {
      const window = durationSeconds(schedule.flexibleWindow, 60, { min: 60, max: 1440 * 60 });
      const problem =
        window.problem ??
        (window.seconds % 60 === 0 ? undefined : `${window.seconds}s must be whole minutes`);
      add(`${where}.flexibleWindow`, problem === undefined ? undefined : `${problem} (1 to 1440 minutes)`);
    }
    for (const key of ['startDate', 'endDate'] as const) {
      const date: unknown = schedule[key];
      if (date === undefined) continue;
      if (!isDate(date)) add(`${where}.${key}`, `must be a valid Date (got ${show(date)})`);
      else if (kind === 'at') add(`${where}.${key}`, 'has no effect on a one-time at() schedule; remove it');
    }
    if (isDate(schedule.startDate) && isDate(schedule.endDate) && schedule.endDate <= schedule.startDate) {
      add(
        `${where}.endDate`,
        `${schedule.endDate.toISOString()} must be after startDate (${schedule.startDate.toISOString()})`,
      );
    }
    if (schedule.enabled !== undefined && typeof schedule.enabled !== 'boolean') {
      add(`${where}.enabled`, `must be a boolean (got ${show(schedule.enabled)})`);
    }
    return { ...schedule, name, timeZone };
  });
}

/**
 * Opens Toloka pools (and trainings) on a schedule or on request, then follows each open
 * operation until it ends:
 *
 * - EventBridge Scheduler (one schedule per {@link PoolSchedule}) invokes the `opener`
 *   asynchronously with `{"poolId": "…"}` or `{"trainingId": "…"}`;
 * - a message with the same body on `triggerQueue` does the same through SQS;
 * - the opener calls Toloka, then sends a delayed message to `checkQueue`, which the
 *   `checker` consumes, re-enqueueing itself with back-off until the operation ends or the
 *   deadline passes.
 *
 * Failures end in `triggerDeadLetterQueue` (trigger messages, failed async invocations and
 * undeliverable schedule events, all with the original `{"poolId": …}` body so they can be
 * redriven to `triggerQueue`) or `checkDeadLetterQueue`.
 *
 * For operators (`monitoring`): metrics from the outcome records, alarms on `alarmTopic`, a
 * CloudWatch `dashboard`; and each outcome as an event on `outcomeEventBus`.
 */
export class TolokaPoolOpener extends Construct {
  /** Send `{"poolId": "…"}` or `{"trainingId": "…"}` here to open a pool or training now. */
  readonly triggerQueue: sqs.Queue;
  /** Trigger messages received `maxReceiveCount` times, failed async opener invocations, failed schedule deliveries. */
  readonly triggerDeadLetterQueue: sqs.Queue;
  /** Delayed messages that make the checker look at an operation. */
  readonly checkQueue: sqs.Queue;
  /** Check messages received `maxReceiveCount` times. */
  readonly checkDeadLetterQueue: sqs.Queue;
  /** Opens pools: consumes `triggerQueue` and is invoked by the schedules. */
  readonly opener: nodejs.NodejsFunction;
  /** Follows open operations: consumes `checkQueue`. */
  readonly checker: nodejs.NodejsFunction;
  readonly openerLogGroup: logs.LogGroup;
  readonly checkerLogGroup: logs.LogGroup;
  /** The group that holds the schedules; undefined when there are none. */
  readonly scheduleGroup?: scheduler.ScheduleGroup;
  /** One per configured schedule, in the same order. */
  readonly schedules: readonly scheduler.Schedule[];
  /** ARN of the token parameter, the only one the functions may read. */
  readonly tokenParameterArn: string;
  /** Where the functions publish outcome events; undefined when `outcomeEventBus` is `false`. */
  readonly outcomeEventBus?: events.IEventBus;
  /** Metric filters, alarms, the alarm topic and the dashboard. */
  readonly monitoring: OpenerMonitoring;
  /** Every alarm notifies this topic (TLS enforced). Subscribe to it for notifications. */
  readonly alarmTopic: sns.Topic;
  /** The CloudWatch dashboard of the openings, queues, functions and alarms. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TolokaPoolOpenerProps) {
    super(scope, id);
    const { settings, problems } = resolveTolokaPoolOpenerProps(props);
    if (problems.length > 0) {
      throw new Error(`Invalid TolokaPoolOpener props (${this.node.path}):\n - ${problems.join('\n - ')}`);
    }

    const functionTimeout = Duration.seconds(settings.timeoutSeconds);
    const visibilityTimeout = Duration.seconds(6 * settings.timeoutSeconds);
    const queue = (name: string) => {
      const deadLetterQueue = new sqs.Queue(this, `${name}DeadLetterQueue`, {
        retentionPeriod: Duration.seconds(settings.dlqRetentionSeconds),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
      });
      const source = new sqs.Queue(this, `${name}Queue`, {
        visibilityTimeout,
        retentionPeriod: Duration.seconds(settings.queueRetentionSeconds),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
      });
      return { source, deadLetterQueue };
    };
    const trigger = queue('Trigger');
    this.triggerQueue = trigger.source;
    this.triggerDeadLetterQueue = trigger.deadLetterQueue;
    const check = queue('Check');
    this.checkQueue = check.source;
    this.checkDeadLetterQueue = check.deadLetterQueue;

    if (props.outcomeEventBus === undefined) {
      this.outcomeEventBus = events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default');
    } else if (props.outcomeEventBus !== false) {
      this.outcomeEventBus = props.outcomeEventBus;
    }
    // The default bus by name (as the runtime expects it), any other by ARN: a bus in another
    // account can only be addressed by ARN.
    const outcomeEventBusAddress =
      this.outcomeEventBus === undefined
        ? undefined
        : props.outcomeEventBus === undefined
          ? this.outcomeEventBus.eventBusName
          : this.outcomeEventBus.eventBusArn;

    const parameterPath = settings.tokenParameterName.replace(/^\//, '');
    this.tokenParameterArn = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${parameterPath}`;

    const environment: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'toloka-pool-opener',
      TOLOKA_ENVIRONMENT: settings.tolokaEnvironment,
      TOLOKA_TOKEN_PARAMETER: settings.tokenParameterName,
      CHECK_QUEUE_URL: this.checkQueue.queueUrl,
      CHECK_DEADLINE_SECONDS: String(settings.deadlineSeconds),
      FAST_PATH_SECONDS: String(settings.fastPathSeconds),
      CHECK_MIN_DELAY_SECONDS: String(settings.minDelaySeconds),
      CHECK_MAX_DELAY_SECONDS: String(settings.maxDelaySeconds),
      CHECK_BACKOFF_FACTOR: String(settings.backoffFactor),
      ...(settings.apiUrl === undefined ? {} : { TOLOKA_API_URL: settings.apiUrl }),
      ...(outcomeEventBusAddress === undefined ? {} : { OUTCOME_EVENT_BUS: outcomeEventBusAddress }),
    };

    const makeFunction = (
      name: string,
      entry: string,
      description: string,
      extra: Partial<nodejs.NodejsFunctionProps> = {},
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}LogGroup`, { retention: settings.logRetention });
      // Own role instead of AWSLambdaBasicExecutionRole: write only to this function's log group.
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of the Toloka pool ${name.toLowerCase()} function`,
      });
      logGroup.grantWrite(role);
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [this.tokenParameterArn] }),
      );
      if (props.tokenKey !== undefined) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [props.tokenKey.keyArn],
            conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` } },
          }),
        );
      }
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.checkQueue.queueArn] }),
      );
      if (this.outcomeEventBus !== undefined) {
        // Only this bus, only events with the opener's source. `events:source` holds the source of
        // every entry of the request: ForAllValues checks them all, Null that there is one.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['events:PutEvents'],
            resources: [this.outcomeEventBus.eventBusArn],
            conditions: {
              'ForAllValues:StringEquals': { 'events:source': OUTCOME_EVENT_SOURCE },
              Null: { 'events:source': 'false' },
            },
          }),
        );
      }
      const fn = new nodejs.NodejsFunction(this, name, {
        description,
        entry: path.join(REPO_ROOT, entry),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: settings.memorySize,
        timeout: functionTimeout,
        role,
        logGroup,
        environment: { ...environment },
        bundling: {
          format: nodejs.OutputFormat.ESM,
          minify: true,
          sourceMap: true,
          target: 'node24',
          mainFields: ['module', 'main'],
          banner:
            "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
          // The AWS SDK is bundled rather than taken from the runtime: the version the tests ran
          // against, one minified file that imports faster than the SDK's many files
          // (docs/benchmarks.md), and the SQS and EventBridge clients truly load on first use.
          externalModules: [],
          forceDockerBundling: false,
        },
        ...extra,
      });
      return { fn, logGroup };
    };

    const opener = makeFunction('Opener', 'lambda/open-pool.ts', 'Opens Toloka pools and trainings', {
      // Async invocations (EventBridge Scheduler): 2 retries, then the original event goes to
      // the trigger DLQ as the message body, ready to be redriven to the trigger queue.
      retryAttempts: 2,
      deadLetterQueue: this.triggerDeadLetterQueue,
    });
    this.opener = opener.fn;
    this.openerLogGroup = opener.logGroup;
    const checker = makeFunction('Checker', 'lambda/check-operation.ts', 'Follows Toloka open operations');
    this.checker = checker.fn;
    this.checkerLogGroup = checker.logGroup;

    this.opener.addEventSource(
      new SqsEventSource(this.triggerQueue, {
        batchSize: settings.triggerBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );
    this.checker.addEventSource(
      new SqsEventSource(this.checkQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );

    const defaultName = defaultResourceName(this);
    this.monitoring = new OpenerMonitoring(this, 'Monitoring', {
      opener: this.opener,
      checker: this.checker,
      openerLogGroup: this.openerLogGroup,
      checkerLogGroup: this.checkerLogGroup,
      triggerQueue: this.triggerQueue,
      checkQueue: this.checkQueue,
      triggerDeadLetterQueue: this.triggerDeadLetterQueue,
      checkDeadLetterQueue: this.checkDeadLetterQueue,
      functionTimeout,
      metricNamespace: settings.metricNamespace,
      alarmEmail: settings.alarmEmail,
      triggerQueueAgeAlarmThreshold:
        settings.triggerQueueAgeAlarmSeconds === undefined
          ? undefined
          : Duration.seconds(settings.triggerQueueAgeAlarmSeconds),
      dashboardName:
        settings.dashboardName ??
        (defaultName === undefined ? undefined : `${defaultName}-${Stack.of(this).region}`),
      alarmNamePrefix: defaultName,
    });
    this.alarmTopic = this.monitoring.alarmTopic;
    this.dashboard = this.monitoring.dashboard;

    const schedules: scheduler.Schedule[] = [];
    if (settings.schedules.length > 0) {
      const group = new scheduler.ScheduleGroup(this, 'ScheduleGroup');
      this.scheduleGroup = group;
      // The construct's own role rather than the stack-level one aws-scheduler-targets would
      // create, so that it (and its cdk-nag acknowledgment) belongs to this construct. Same trust
      // as that one: Scheduler, for this account and this schedule group only.
      const schedulerRole = new iam.Role(this, 'SchedulerRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
          conditions: {
            StringEquals: {
              'aws:SourceAccount': Stack.of(this).account,
              'aws:SourceArn': group.scheduleGroupArn,
            },
          },
        }),
        description: 'Lets the Toloka pool opener schedules invoke the opener and use the trigger DLQ',
      });
      for (const schedule of settings.schedules) {
        const input =
          schedule.poolId !== undefined ? { poolId: schedule.poolId } : { trainingId: schedule.trainingId };
        const what =
          schedule.poolId !== undefined ? `pool ${schedule.poolId}` : `training ${schedule.trainingId}`;
        schedules.push(
          new scheduler.Schedule(this, `Schedule-${schedule.name}`, {
            scheduleName: schedule.name,
            scheduleGroup: group,
            description: `Open Toloka ${what} at ${schedule.expression} (${schedule.timeZone})`,
            schedule: scheduler.ScheduleExpression.expression(
              schedule.expression,
              TimeZone.of(schedule.timeZone),
            ),
            target: new targets.LambdaInvoke(this.opener, {
              input: scheduler.ScheduleTargetInput.fromObject(input),
              retryAttempts: 3,
              maxEventAge: Duration.hours(1),
              deadLetterQueue: this.triggerDeadLetterQueue,
              role: schedulerRole,
            }),
            enabled: schedule.enabled ?? true,
            timeWindow:
              schedule.flexibleWindow === undefined
                ? scheduler.TimeWindow.off()
                : scheduler.TimeWindow.flexible(schedule.flexibleWindow),
            ...(schedule.startDate === undefined ? {} : { start: schedule.startDate }),
            ...(schedule.endDate === undefined ? {} : { end: schedule.endDate }),
          }),
        );
      }
      acknowledgeOpenerQualifierWildcard(schedulerRole, this.opener);
    }
    this.schedules = schedules;
    warnAboutPastDates(settings.schedules, schedules);
  }
}

/**
 * `<stack name>-<construct path in the stack>` (`TolokaPoolOpener-Toloka`), for names that must be
 * unique in the account: alarms, the dashboard. Undefined when the stack name is not known at
 * synth time (CloudFormation then generates the names).
 */
function defaultResourceName(construct: Construct): string | undefined {
  const stack = Stack.of(construct);
  if (Token.isUnresolved(stack.stackName)) return undefined;
  const inStack = construct.node.path.slice(stack.node.path.length).replace(/^\//, '');
  return `${stack.stackName}-${inStack}`.replace(/[^0-9A-Za-z_-]/g, '-').slice(0, 200);
}

/**
 * cdk-nag AwsSolutions-IAM5: `LambdaInvoke` grants `lambda:InvokeFunction` on the opener's ARN and
 * on `<opener ARN>:*` (`grantInvoke` always adds the qualified form). The finding names the
 * function's logical ID, so it is computed here; if that ID is later overridden, the finding
 * comes back instead of staying silently acknowledged.
 */
function acknowledgeOpenerQualifierWildcard(role: iam.Role, opener: lambda.IFunction): void {
  const cfnFunction = opener.node.defaultChild;
  if (!CfnResource.isCfnResource(cfnFunction)) throw new Error('the opener has no CloudFormation function');
  const openerId = Stack.of(cfnFunction).getLogicalId(cfnFunction);
  // The finding is on the role's default policy (which holds the grant), so acknowledge it there.
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof iam.Policy)) throw new Error('the Scheduler role has no default policy');
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${openerId}.Arn>:*]`,
    reason:
      'The wildcard only matches qualified ARNs (versions and aliases) of the one opener function, ' +
      'which grantInvoke adds next to the unqualified ARN that Scheduler invokes; no other function is reachable.',
  });
}

/**
 * Scheduler refuses to create (or update) a schedule whose start date is more than 5 minutes
 * in the past, and a one-time schedule whose time has passed. Warn at synth time rather than
 * let the deployment fail; the warning is not an error because "now" is not part of the config.
 */
function warnAboutPastDates(settings: Settings['schedules'], schedules: readonly scheduler.Schedule[]): void {
  const now = Date.now();
  settings.forEach((schedule, i) => {
    const construct = schedules[i];
    if (construct === undefined) return;
    const warn = (message: string) =>
      Annotations.of(construct).addWarningV2('toloka-pool-opener:schedule-in-the-past', message);
    if (schedule.startDate !== undefined && schedule.startDate.getTime() < now - 5 * 60_000) {
      warn(
        `Schedule ${schedule.name}: startDate ${schedule.startDate.toISOString()} is in the past; ` +
          'EventBridge Scheduler rejects creating or updating it. Remove it or move it forward.',
      );
    }
    const at = atExpressionInstant(schedule.expression, schedule.timeZone);
    if (at !== undefined && at.getTime() < now) {
      warn(
        `Schedule ${schedule.name}: ${schedule.expression} (${schedule.timeZone}) is in the past; ` +
          'EventBridge Scheduler rejects creating it. Remove the schedule or move it forward.',
      );
    }
  });
}
