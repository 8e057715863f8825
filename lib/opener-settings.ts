/**
 * Validation and defaults of the {@link TolokaPoolOpenerProps}: every problem is collected, each
 * prefixed with the prop path (`poll.fastPath: …`, or a schedule's `label`), so that a bad
 * construct fails synth with all of them at once.
 */
import { Token } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DEFAULT_METRIC_NAMESPACE } from './monitoring.ts';
import type { TolokaEnvironment, TolokaPoolOpenerProps } from './opener-props.ts';
import { numericDayOfWeekWarning } from './schedule-occurrences.ts';
import {
  checkCalendars,
  checkScheduleDates,
  type ResolvedSchedule,
  resolveSchedules,
} from './schedule-settings.ts';
import {
  checkApiUrl,
  checkNumber,
  checkParameterName,
  durationSeconds,
  normalizeApiUrl,
  show,
} from './validation.ts';

/** The validated, defaulted settings the construct builds from. */
export interface Settings {
  readonly tolokaEnvironment: TolokaEnvironment;
  readonly tokenParameterName: string;
  readonly apiUrl: string | undefined;
  readonly schedules: readonly ResolvedSchedule[];
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
  /** The deployment's Toloka request budget, per second. */
  readonly tolokaRequestsPerSecond: number;
  /** Each function instance's share of it: the budget over the most instances at once. */
  readonly requestsPerSecondPerInstance: number;
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

/** `functionTimeout` when not given. */
export const DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60;
/**
 * What the opener needs after the fast path: one more Toloka request (10 s at most, the
 * functions' request time-out) and a margin of 2 s for the ledger, the hand-over and the record.
 */
export const FAST_PATH_MARGIN_SECONDS = 12;

/** Toloka's limit: requests a second per account (its API reference, "Restrictions"). */
export const TOLOKA_ACCOUNT_LIMIT_PER_SECOND = 300;

/**
 * The default request budget: a sixth of Toloka's per-account limit, so that the requester's
 * other tools keep the rest; enough for 300 pools at the same minute in under two minutes.
 */
export const DEFAULT_TOLOKA_REQUESTS_PER_SECOND = 50;

/** Props that cannot be built: `problems` lists every one, each naming its prop. */
export class InvalidTolokaPoolOpenerPropsError extends Error {
  readonly code = 'INVALID_PROPS';
  constructor(
    readonly constructPath: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid TolokaPoolOpener props (${constructPath}):\n - ${problems.join('\n - ')}`);
    this.name = 'InvalidTolokaPoolOpenerPropsError';
  }
}

/** What {@link resolveTolokaPoolOpenerProps} found. */
export interface ResolvedProps {
  readonly settings: Settings;
  /** Each makes the construct fail; `<prop path>: <reason>`. */
  readonly problems: string[];
  /** Worth saying at synth but deployable (a one-time schedule whose time has passed). */
  /** Synth warnings of the schedules: `id` is the annotation's (`toloka-pool-opener:…`). */
  readonly warnings: { readonly schedule: number; readonly message: string; readonly id: string }[];
}

/**
 * Validates the props and fills in defaults. Returns every problem found, each prefixed with
 * its prop path (`schedules[1].timeZone: …`), instead of stopping at the first. Dates are
 * compared with `now` (the clock, unless a test gives another).
 */
export function resolveTolokaPoolOpenerProps(
  props: TolokaPoolOpenerProps,
  options: { readonly now?: Date } = {},
): ResolvedProps {
  const problems: string[] = [];
  const warnings: ResolvedProps['warnings'] = [];
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

  const timeout = durationSeconds(props.functionTimeout, DEFAULT_FUNCTION_TIMEOUT_SECONDS, {
    min: 1,
    max: 900,
  });
  add('functionTimeout', timeout.problem);
  if (
    timeout.problem === undefined &&
    fastPath.problem === undefined &&
    fastPath.seconds > timeout.seconds - FAST_PATH_MARGIN_SECONDS
  ) {
    // The opener needs time after the fast path for the request that started it and the hand-over.
    add(
      'poll.fastPath',
      `${fastPath.seconds}s must be at least ${FAST_PATH_MARGIN_SECONDS} s less than functionTimeout (${timeout.seconds}s): one Toloka request and a margin`,
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
  const tolokaRequestsPerSecond = props.tolokaRequestsPerSecond ?? DEFAULT_TOLOKA_REQUESTS_PER_SECOND;
  const budgetProblem = checkNumber(tolokaRequestsPerSecond, {
    min: 1,
    max: TOLOKA_ACCOUNT_LIMIT_PER_SECOND,
  });
  add('tolokaRequestsPerSecond', budgetProblem);
  // The opener's and the checker's event sources each run up to maxConcurrency instances.
  const instances = 2 * maxConcurrency;
  if (
    budgetProblem === undefined &&
    Number.isInteger(maxConcurrency) &&
    tolokaRequestsPerSecond < instances
  ) {
    add(
      'tolokaRequestsPerSecond',
      `${tolokaRequestsPerSecond} must be at least ${instances}: one request a second for each function instance that can run at once (2 × maxConcurrency ${maxConcurrency}); raise it, or lower maxConcurrency to at most ${Math.floor(tolokaRequestsPerSecond / 2)}`,
    );
  }
  const requestsPerSecondPerInstance = Math.max(1, Math.floor(tolokaRequestsPerSecond / instances));

  const calendars = checkCalendars(props.calendars, add);
  const schedules = resolveSchedules(props.schedules, add, calendars);
  checkScheduleDates(schedules, options.now ?? new Date(), add, (schedule, message) =>
    warnings.push({ schedule, message, id: 'toloka-pool-opener:schedule-in-the-past' }),
  );
  schedules.forEach((schedule, i) => {
    const message =
      typeof schedule.expression === 'string' ? numericDayOfWeekWarning(schedule.expression) : undefined;
    if (message !== undefined) {
      warnings.push({
        schedule: i,
        message: `${schedule.label}.expression: ${message}`,
        id: 'toloka-pool-opener:numeric-day-of-week',
      });
    }
  });

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
    warnings,
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
      tolokaRequestsPerSecond,
      requestsPerSecondPerInstance,
      alarmEmail,
      metricNamespace: typeof metricNamespace === 'string' ? metricNamespace : DEFAULT_METRIC_NAMESPACE,
      dashboardName: typeof dashboardName === 'string' ? dashboardName : undefined,
      triggerQueueAgeAlarmSeconds,
    },
  };
}
