import { readFileSync } from 'node:fs';
import { Duration } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as jsonc from 'jsonc-parser';
import type { AppConfig, PollConfig, PoolConfig } from './config-format.ts';
import { parsePools } from './config-pools.ts';
import { isObject, type JsonObject, Problems, present } from './config-problems.ts';
import type { PoolSchedule, TolokaPoolOpenerProps } from './opener-props.ts';
import {
  DEFAULT_FUNCTION_TIMEOUT_SECONDS,
  FAST_PATH_MARGIN_SECONDS,
  resolveTolokaPoolOpenerProps,
} from './opener-settings.ts';
import { checkCalendars } from './schedule-settings.ts';
import { checkApiUrl, checkParameterName, show } from './validation.ts';

export type { AppConfig, PollConfig, PoolConfig, ScheduleConfig } from './config-format.ts';

/** A configuration that cannot be used; `problems` has one entry per problem, each naming its field. */
export class InvalidConfigurationError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => ` - ${p}`).join('\n')}`);
    this.name = 'InvalidConfigurationError';
  }
}

/** CloudWatch Logs retention values (in days) that `logRetentionDays` may take. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
  9999,
];

const ROOT_KEYS = [
  'deployment',
  'environment',
  'tokenParameterName',
  'tokenKeyArn',
  'apiUrl',
  'poll',
  'pools',
  'calendars',
  'logRetentionDays',
  'alarmEmail',
  'outcomeEvents',
  'tolokaRequestsPerSecond',
] as const;
const POLL_KEYS = [
  'deadlineSeconds',
  'fastPathSeconds',
  'minDelaySeconds',
  'maxDelaySeconds',
  'backoffFactor',
] as const;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** How a configuration is checked. */
export interface ConfigOptions {
  /** The instant dates are compared with. Default: the clock. */
  readonly now?: Date;
}

/**
 * Validates a parsed configuration file. Collects every problem before throwing one
 * {@link InvalidConfigurationError}. Returns a copy in which every schedule has its `name`
 * (generated ones filled in) and `null`s are gone.
 */
export function parseConfig(raw: unknown, source: string, options: ConfigOptions = {}): AppConfig {
  const p = new Problems();
  if (!isObject(raw)) {
    throw new InvalidConfigurationError(source, [`(root): must be a JSON object (got ${show(raw)})`]);
  }
  p.keys(raw, '', ROOT_KEYS);

  const deployment = p.string(raw, 'deployment', '');
  p.add('deployment', deployment === undefined ? undefined : checkDeploymentName(deployment));

  const environment = p.string(raw, 'environment', '', true);
  if (environment !== undefined && environment !== 'production' && environment !== 'sandbox') {
    p.add('environment', `must be "production" or "sandbox" (got ${show(environment)})`);
  }

  const tokenParameterName = p.string(raw, 'tokenParameterName', '', true);
  if (tokenParameterName !== undefined) {
    for (const problem of checkParameterName(tokenParameterName)) p.add('tokenParameterName', problem);
  }

  const tokenKeyArn = p.string(raw, 'tokenKeyArn', '');
  if (tokenKeyArn !== undefined && !KMS_KEY_ARN.test(tokenKeyArn)) {
    p.add(
      'tokenKeyArn',
      `${show(tokenKeyArn)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`,
    );
  }

  const apiUrl = p.string(raw, 'apiUrl', '');
  if (apiUrl !== undefined) p.add('apiUrl', checkApiUrl(apiUrl));

  let poll: PollConfig | undefined;
  if (present(raw.poll)) {
    if (!isObject(raw.poll)) p.add('poll', `must be an object (got ${show(raw.poll)})`);
    else poll = parsePoll(raw.poll, p);
  }

  const calendars = present(raw.calendars)
    ? checkCalendars(raw.calendars, (where, problem) => p.add(where, problem))
    : {};

  let pools: PoolConfig[] = [];
  if (present(raw.pools)) {
    if (!Array.isArray(raw.pools)) p.add('pools', `must be an array (got ${show(raw.pools)})`);
    else pools = parsePools(raw.pools, p, (options.now ?? new Date()).getTime(), Object.keys(calendars));
  }

  let logRetentionDays: number | undefined;
  if (present(raw.logRetentionDays)) {
    const value = raw.logRetentionDays;
    if (typeof value === 'number' && LOG_RETENTION_DAYS.includes(value)) logRetentionDays = value;
    else p.add('logRetentionDays', `must be one of ${LOG_RETENTION_DAYS.join(', ')} (got ${show(value)})`);
  }

  const alarmEmail = p.string(raw, 'alarmEmail', '');
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    p.add('alarmEmail', `${show(alarmEmail)} is not an email address`);
  }

  let outcomeEvents: boolean | undefined;
  if (present(raw.outcomeEvents)) {
    if (typeof raw.outcomeEvents === 'boolean') outcomeEvents = raw.outcomeEvents;
    else p.add('outcomeEvents', `must be true or false (got ${show(raw.outcomeEvents)})`);
  }

  // At least one a second for each of the 10 instances the file's deployment can run at once
  // (maxConcurrency 5 per event source, which the file does not set).
  const tolokaRequestsPerSecond = p.number(raw, 'tolokaRequestsPerSecond', '', { min: 10, max: 300 });

  if (p.list.length > 0) throw new InvalidConfigurationError(source, p.list);
  const config: AppConfig = {
    ...(deployment === undefined ? {} : { deployment }),
    environment: environment as AppConfig['environment'],
    tokenParameterName: tokenParameterName ?? '',
    ...(tokenKeyArn === undefined ? {} : { tokenKeyArn }),
    ...(apiUrl === undefined ? {} : { apiUrl }),
    ...(poll === undefined ? {} : { poll }),
    pools,
    ...(present(raw.calendars) ? { calendars } : {}),
    ...(logRetentionDays === undefined ? {} : { logRetentionDays }),
    ...(alarmEmail === undefined ? {} : { alarmEmail }),
    ...(outcomeEvents === undefined ? {} : { outcomeEvents }),
    ...(tolokaRequestsPerSecond === undefined ? {} : { tolokaRequestsPerSecond }),
  };
  // What only the construct can tell (dates against the clock, settings against each other), in
  // the file's own names: a configuration never fails later, at synth, with a stack trace.
  const { problems } = resolveTolokaPoolOpenerProps(toOpenerProps(config), options);
  if (problems.length > 0) throw new InvalidConfigurationError(source, problems.map(inConfigTerms));
  return config;
}

/** The construct's names for settings, and what the configuration file calls them. */
const PROP_NAMES_IN_CONFIG: readonly (readonly [RegExp, string])[] = [
  [/\bpoll\.deadline\b/g, 'poll.deadlineSeconds'],
  [/\bpoll\.fastPath\b/g, 'poll.fastPathSeconds'],
  [/\bpoll\.minDelay\b/g, 'poll.minDelaySeconds'],
  [/\bpoll\.maxDelay\b/g, 'poll.maxDelaySeconds'],
  [/\btolokaEnvironment\b/g, 'environment'],
  [/\blogRetention\b/g, 'logRetentionDays'],
  [/\.flexibleWindow\b/g, '.flexibleWindowMinutes'],
  [/\.maxLateness\b/g, '.maxLatenessMinutes'],
];

/** A construct problem, named as in the configuration file (schedules carry their file path as label). */
function inConfigTerms(problem: string): string {
  return PROP_NAMES_IN_CONFIG.reduce((text, [prop, key]) => text.replace(prop, key), problem);
}

const DEPLOYMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

/** A deployment name: it becomes part of the stack name and of every resource name. */
export function checkDeploymentName(name: string): string | undefined {
  return DEPLOYMENT_NAME.test(name)
    ? undefined
    : `${show(name)} must be 1-32 letters, digits and hyphens, starting with a letter`;
}

function parsePoll(raw: JsonObject, p: Problems): PollConfig {
  p.keys(raw, 'poll', POLL_KEYS);
  const deadlineSeconds = p.number(raw, 'deadlineSeconds', 'poll', { min: 1, max: 43_200, unit: 's' });
  const fastPathSeconds = p.number(raw, 'fastPathSeconds', 'poll', { min: 0, max: 600, unit: 's' });
  const minDelaySeconds = p.number(raw, 'minDelaySeconds', 'poll', { min: 1, max: 900, unit: 's' });
  const maxDelaySeconds = p.number(raw, 'maxDelaySeconds', 'poll', { min: 1, max: 900, unit: 's' });
  const backoffFactor = p.number(raw, 'backoffFactor', 'poll', { min: 1, max: 10, integer: false });
  const fastPathLimit = DEFAULT_FUNCTION_TIMEOUT_SECONDS - FAST_PATH_MARGIN_SECONDS;
  if (fastPathSeconds !== undefined && fastPathSeconds > fastPathLimit) {
    p.add(
      'poll.fastPathSeconds',
      `${fastPathSeconds} must be at most ${fastPathLimit}: the opener's ${DEFAULT_FUNCTION_TIMEOUT_SECONDS} s time-out ` +
        `must leave ${FAST_PATH_MARGIN_SECONDS} s after the fast path (one Toloka request and a margin)`,
    );
  }
  const min = minDelaySeconds ?? 1;
  if (maxDelaySeconds !== undefined && maxDelaySeconds < min) {
    p.add('poll.maxDelaySeconds', `${maxDelaySeconds} must not be less than minDelaySeconds (${min})`);
  }
  if (deadlineSeconds !== undefined && deadlineSeconds < min) {
    p.add('poll.deadlineSeconds', `${deadlineSeconds} must not be less than minDelaySeconds (${min})`);
  }
  return {
    ...(deadlineSeconds === undefined ? {} : { deadlineSeconds }),
    ...(fastPathSeconds === undefined ? {} : { fastPathSeconds }),
    ...(minDelaySeconds === undefined ? {} : { minDelaySeconds }),
    ...(maxDelaySeconds === undefined ? {} : { maxDelaySeconds }),
    ...(backoffFactor === undefined ? {} : { backoffFactor }),
  };
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/**
 * Reads, parses and validates a configuration file (JSON; `//` and `/* *\/` comments allowed);
 * throws {@link InvalidConfigurationError}.
 */
export function loadConfig(file: string, options: ConfigOptions = {}): AppConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidConfigurationError(file, [`(file): cannot read it (${(error as Error).message})`]);
  }
  // JSON with comments (and trailing commas), so that a configuration can explain itself.
  const errors: jsonc.ParseError[] = [];
  const raw: unknown = jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new InvalidConfigurationError(
      file,
      errors.map(
        (error) =>
          `(file): ${jsonc.printParseErrorCode(error.error)} at ${lineAndColumn(text, error.offset)}`,
      ),
    );
  }
  return parseConfig(raw, file, options);
}

/**
 * The construct props a validated configuration stands for (all but `tokenKey`, which needs a
 * scope: see `tokenKeyArn`). `outcomeEvents: true` leaves `outcomeEventBus` to the construct's
 * default, the account's default bus.
 */
export function toOpenerProps(config: AppConfig): TolokaPoolOpenerProps {
  const poll = config.poll ?? {};
  const seconds = (value: number | null | undefined) =>
    present(value) ? Duration.seconds(value as number) : undefined;
  const schedules: PoolSchedule[] = (config.pools ?? []).flatMap((pool, i) =>
    pool.schedules.flatMap((s, j) => {
      const common = {
        ...(pool.trainingId === undefined ? { poolId: pool.poolId ?? '' } : { trainingId: pool.trainingId }),
        ...(present(s.flexibleWindowMinutes)
          ? { flexibleWindow: Duration.minutes(s.flexibleWindowMinutes as number) }
          : {}),
        ...(present(s.startDate) ? { startDate: new Date(s.startDate as string) } : {}),
        ...(present(s.endDate) ? { endDate: new Date(s.endDate as string) } : {}),
        ...(present(s.enabled) ? { enabled: s.enabled as boolean } : {}),
        ...(present(s.skip) ? { skip: s.skip as string[] } : {}),
        ...(present(s.maxLatenessMinutes)
          ? { maxLateness: Duration.minutes(s.maxLatenessMinutes as number) }
          : {}),
      };
      const label = `pools[${i}].schedules[${j}]`;
      const window = s.window;
      if (window === undefined || window === null) {
        return [
          {
            label,
            ...common,
            ...(present(s.name) ? { name: s.name as string } : {}),
            ...(present(s.action) ? { action: s.action as 'open' | 'close' } : {}),
            expression: s.expression ?? '',
            timeZone: s.timeZone ?? 'UTC',
          },
        ];
      }
      // A window is the pair: `<name>-open` and `<name>-close` (the name given or generated).
      return (['open', 'close'] as const).map((action) => ({
        label: `${label}.window.${action}`,
        ...common,
        name: `${s.name ?? ''}-${action}`,
        action,
        expression: window[action],
        timeZone: window.timeZone ?? s.timeZone ?? 'UTC',
      }));
    }),
  );
  return {
    tolokaEnvironment: config.environment,
    tokenParameterName: config.tokenParameterName,
    ...(present(config.apiUrl) ? { apiUrl: config.apiUrl as string } : {}),
    schedules,
    ...(present(config.calendars)
      ? { calendars: config.calendars as Record<string, readonly string[]> }
      : {}),
    poll: {
      ...(present(poll.deadlineSeconds) ? { deadline: seconds(poll.deadlineSeconds) } : {}),
      ...(present(poll.fastPathSeconds) ? { fastPath: seconds(poll.fastPathSeconds) } : {}),
      ...(present(poll.minDelaySeconds) ? { minDelay: seconds(poll.minDelaySeconds) } : {}),
      ...(present(poll.maxDelaySeconds) ? { maxDelay: seconds(poll.maxDelaySeconds) } : {}),
      ...(present(poll.backoffFactor) ? { backoffFactor: poll.backoffFactor as number } : {}),
    },
    ...(present(config.logRetentionDays)
      ? { logRetention: config.logRetentionDays as logs.RetentionDays }
      : {}),
    ...(present(config.alarmEmail) ? { alarmEmail: config.alarmEmail as string } : {}),
    ...(config.outcomeEvents === false ? { outcomeEventBus: false as const } : {}),
    ...(present(config.tolokaRequestsPerSecond)
      ? { tolokaRequestsPerSecond: config.tolokaRequestsPerSecond as number }
      : {}),
  };
}
