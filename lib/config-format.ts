/**
 * The configuration file's shape: what `loadConfig` (./config.ts) reads and returns, and what
 * its parts (./config-pools.ts) build, in a module of its own so that they import it one way.
 */
/**
 * The app configuration file (JSON with comments, e.g. `config/example.jsonc`), chosen with
 * `cdk deploy -c configFile=config/my.json`. Unknown keys are rejected; `null` means the same
 * as leaving an optional key out.
 */
export interface AppConfig {
  /**
   * The name of this deployment, e.g. `"sandbox"` or `"production"`: 1-32 letters, digits and
   * hyphens, starting with a letter. The stack is `TolokaPoolOpener-<deployment>` and every
   * named resource follows from it, so several deployments can live in one account and region.
   * `-c deployment=…` overrides it. Absent or `null`: the stack is `TolokaPoolOpener`.
   */
  readonly deployment?: string | null;
  /** Which Toloka to talk to: `"production"` (toloka.dev) or `"sandbox"` (sandbox.toloka.dev). Required. */
  readonly environment: 'production' | 'sandbox';
  /**
   * Name of the SSM SecureString parameter holding the Toloka OAuth token, e.g.
   * `"/toloka/api-token"` (hierarchical, starts with `/`) or `"toloka-token"` (plain). Required.
   * The functions may read this parameter and no other.
   */
  readonly tokenParameterName: string;
  /**
   * ARN of the customer managed KMS key that encrypts the token parameter
   * (`arn:aws:kms:<region>:<account>:key/<key-id>`, not an alias).
   * Absent or `null`: the AWS managed key `aws/ssm`.
   */
  readonly tokenKeyArn?: string | null;
  /**
   * Toloka API origin override, e.g. an emulator: `"https://host[:port]"`, optionally with a path
   * prefix; no query, fragment or credentials.
   * Absent or `null`: the official origin of `environment`.
   */
  readonly apiUrl?: string | null;
  /** How the checker follows an open operation. Absent: all defaults. */
  readonly poll?: PollConfig | null;
  /** The pools and trainings to open (and close) on a schedule. Absent: none (openings only via the trigger queue). */
  readonly pools?: readonly PoolConfig[] | null;
  /**
   * Named lists of dates (`"YYYY-MM-DD"`, read in each schedule's own time zone) that schedules
   * can skip (`skip`), e.g. `{"holidays": ["2026-12-25", "2027-01-01"]}`. Dates in the past never
   * match, so a calendar can keep them. Names: 1-64 of `A-Z a-z 0-9 _ -`. Absent: none.
   */
  readonly calendars?: Readonly<Record<string, readonly string[]>> | null;
  /**
   * CloudWatch Logs retention of the functions, in days: one of the values CloudWatch Logs
   * accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
   * 2557, 2922, 3288, 3653; 9999 = never expire). Default 30.
   */
  readonly logRetentionDays?: number | null;
  /**
   * Email address subscribed (SNS, needs confirming) to the alarm topic, which every alarm
   * notifies (dead-letter queues, FAILED and TIMED_OUT openings, function errors, a stuck trigger
   * queue). Absent or `null`: the alarms and the topic exist, but nobody is subscribed.
   */
  readonly alarmEmail?: string | null;
  /**
   * Whether the functions publish each outcome as an event on the account's default EventBridge
   * bus (`source` `toloka-pool-opener`, `detail-type` `Toloka pool opening finished`).
   * Absent or `null`: `true`.
   */
  readonly outcomeEvents?: boolean | null;
  /**
   * The deployment's Toloka request budget: the most requests a second the functions make
   * together, however many schedules fire at the same minute. Integer, 10 to 300 (at least one a
   * second for each of the 10 function instances that can run at once). Toloka allows 300 a
   * second per account and the account's other tools share that: the default leaves them five
   * sixths of it, and still opens 300 pools at the same minute in under two minutes
   * (docs/benchmarks.md, "A busy morning"). Absent or `null`: 50.
   */
  readonly tolokaRequestsPerSecond?: number | null;
}

/** `poll` in {@link AppConfig}. All values are numbers. */
export interface PollConfig {
  /** Give up (outcome TIMED_OUT) this many seconds after the opening was asked for. Integer, 1 to 43200. Default 3600. */
  readonly deadlineSeconds?: number | null;
  /**
   * How long the opener follows the operation itself before it hands over to the check queue,
   * in seconds. Integer, 0 to 48 (the functions time out after 60 s and the opener needs 12 s after the fast path: one request and a margin). Capped by `deadlineSeconds`. Default 20.
   */
  readonly fastPathSeconds?: number | null;
  /** Shortest wait between checks, in seconds. Integer, 1 to 900. Default 1. */
  readonly minDelaySeconds?: number | null;
  /** Longest wait between checks, in seconds. Integer, at least `minDelaySeconds`, at most 900. Default 900. */
  readonly maxDelaySeconds?: number | null;
  /** Each wait is `(backoffFactor − 1)` × the time the opening has taken so far. 1 to 10. Default 1.2. */
  readonly backoffFactor?: number | null;
}

/** One entry of `pools` in {@link AppConfig}: exactly one of `poolId` and `trainingId`. */
export interface PoolConfig {
  /** Toloka pool ID, a string of digits (`"123456"`, not `123456`). */
  readonly poolId?: string;
  /** Toloka training ID, a string of digits. */
  readonly trainingId?: string;
  /** When to open it: at least one schedule. */
  readonly schedules: readonly ScheduleConfig[];
}

/** One schedule of a pool in {@link AppConfig}. */
export interface ScheduleConfig {
  /**
   * EventBridge Scheduler name: 1-64 of `0-9 a-z A-Z - _ .`, unique in the file.
   * Absent: `pool-<poolId>-<n>` / `training-<trainingId>-<n>` (n = position in this pool's `schedules`, from 1).
   */
  readonly name?: string | null;
  /**
   * `"cron(m h dom mon dow yyyy)"`, `"rate(n minutes|hours|days)"` or `"at(yyyy-mm-ddThh:mm:ss)"`.
   * Required, unless `window` is given instead.
   */
  readonly expression?: string;
  /** `"open"` (default) or `"close"`. Not with `window`, which makes one of each. */
  readonly action?: 'open' | 'close' | null;
  /**
   * A pair of schedules in one: `{"open": "cron(0 9 ? * MON-FRI *)", "close": "cron(0 18 ? * MON-FRI *)",
   * "timeZone": "Europe/Berlin"}` opens the pool at one time and closes it at the other, named
   * `<name>-open` and `<name>-close`. The two must never fire at the same minute. Every other key
   * of the schedule (`skip`, `maxLatenessMinutes`, `enabled`, …) applies to both.
   */
  readonly window?: WindowConfig | null;
  /** IANA time zone in which `cron` and `at` expressions are read, e.g. `"Europe/Amsterdam"`. Default `"UTC"`. */
  readonly timeZone?: string | null;
  /** Let Scheduler start up to this many minutes after the scheduled time. Integer, 1 to 1440. Default: off. */
  readonly flexibleWindowMinutes?: number | null;
  /** ISO 8601 instant with a zone (`"2026-12-01T00:00:00Z"`): no invocations before it. Recurring schedules only. */
  readonly startDate?: string | null;
  /** ISO 8601 instant with a zone: no invocations after it. Recurring schedules only. */
  readonly endDate?: string | null;
  /** Default `true`. */
  readonly enabled?: boolean | null;
  /** Names of `calendars` whose dates this schedule skips (its trigger ends `SKIPPED`, `reason` `CALENDAR`). */
  readonly skip?: readonly string[] | null;
  /**
   * A trigger that comes later than this after its scheduled time (a retry, a dead letter
   * redriven days later) ends `SKIPPED` (`reason` `LATE`). Integer, 10 to 10080 (at least the 7 minutes a failed message takes to come back, which a trigger may have to wait). Default 60.
   */
  readonly maxLatenessMinutes?: number | null;
}

/** `window` of a schedule in {@link AppConfig}: when to open and when to close. */
export interface WindowConfig {
  /** When to open: a `cron(…)`, `rate(…)` or `at(…)` expression. */
  readonly open: string;
  /** When to close. */
  readonly close: string;
  /** IANA time zone of both, e.g. `"Europe/Berlin"`; or the schedule's `timeZone`. Default `"UTC"`. */
  readonly timeZone?: string | null;
}
