import { ConfigError } from './errors.ts';

export const TOLOKA_HOSTS = {
  production: 'https://toloka.dev',
  sandbox: 'https://sandbox.toloka.dev',
} as const;

export type TolokaEnvironment = keyof typeof TOLOKA_HOSTS;

/** How an opening is followed (see poll-schedule.ts). */
export interface PollSettings {
  /** How long after the opening request an unfinished operation is reported TIMED_OUT. */
  readonly deadlineSeconds: number;
  /** How long the opener follows the operation itself before it hands over to the check queue (0: at once). */
  readonly fastPathSeconds: number;
  /** The shortest wait between two checks. */
  readonly minDelaySeconds: number;
  /** The longest wait between two checks (SQS allows 900 s). */
  readonly maxDelaySeconds: number;
  /** Each wait is `(backoffFactor − 1)` times the time the opening has taken so far. */
  readonly backoffFactor: number;
}

export interface HttpSettings {
  readonly requestTimeoutMs: number;
  /** Attempts per Toloka call within one invocation, the first included. */
  readonly maxAttempts: number;
}

/** Everything the handlers need from their environment, read and validated once. */
export interface RuntimeConfig {
  readonly tolokaEnvironment: TolokaEnvironment;
  /** The origin requests go to; `/api/v1/...` is appended. */
  readonly apiOrigin: string;
  /** True when TOLOKA_API_URL replaced the environment's host. */
  readonly apiOriginOverridden: boolean;
  readonly tokenParameterName: string;
  readonly tokenCacheSeconds: number;
  readonly checkQueueUrl: string;
  /** The openings ledger's DynamoDB table (`OPENINGS_TABLE`). */
  readonly openingsTable: string;
  /** How long a running step holds its opening before a copy of it may take over (`STEP_LEASE_SECONDS`). */
  readonly stepLeaseSeconds: number;
  /**
   * When a failed step's message is back at the latest (`REDELIVERY_SECONDS`: the queue's
   * visibility time-out plus a minute): until then its opening counts as carried on.
   */
  readonly redeliverySeconds: number;
  /** The EventBridge bus outcome events go to; undefined: no events. */
  readonly outcomeEventBus: string | undefined;
  readonly poll: PollSettings;
  readonly http: HttpSettings;
  /**
   * This instance's share of the deployment's Toloka request budget (`TOLOKA_REQUESTS_PER_SECOND`,
   * set by the construct: the budget over the most instances that run at once). Undefined: not
   * paced, for a handler run outside the construct.
   */
  readonly requestsPerSecond: number | undefined;
}

/**
 * Every AWS SDK client's time-outs: a hung connection or request fails within the step's budget
 * instead of running into the function's time-out (which would re-run the whole batch).
 */
export const AWS_CLIENT_TIMEOUTS = {
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  maxAttempts: 3,
} as const;

/** SQS refuses a DelaySeconds above this. */
export const SQS_MAX_DELAY_SECONDS = 900;

export const DEFAULT_POLL: PollSettings = {
  deadlineSeconds: 3600,
  fastPathSeconds: 20,
  minDelaySeconds: 1,
  maxDelaySeconds: SQS_MAX_DELAY_SECONDS,
  backoffFactor: 1.2,
};

/** The fast path never takes more than this: the opener's Lambda must keep time for the hand-over. */
export const MAX_FAST_PATH_SECONDS = 600;

export const DEFAULT_HTTP: HttpSettings = { requestTimeoutMs: 10_000, maxAttempts: 4 };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the runtime configuration from an environment (`process.env` in Lambda) and fails with
 * every problem at once, each naming its variable.
 */
export function readRuntimeConfig(env: Env): RuntimeConfig {
  const problems: string[] = [];
  const fields = new EnvReader(env, problems);

  const environmentName = fields.optional('TOLOKA_ENVIRONMENT') ?? 'production';
  if (!(environmentName in TOLOKA_HOSTS)) {
    problems.push(`TOLOKA_ENVIRONMENT: must be "production" or "sandbox", got "${environmentName}"`);
  }
  const tolokaEnvironment = environmentName as TolokaEnvironment;
  const apiUrl = fields.optional('TOLOKA_API_URL');
  const apiOrigin = apiUrl === undefined ? TOLOKA_HOSTS[tolokaEnvironment] : parseApiUrl(apiUrl, problems);

  const config: RuntimeConfig = {
    tolokaEnvironment,
    apiOrigin: apiOrigin ?? '',
    apiOriginOverridden: apiUrl !== undefined,
    tokenParameterName: fields.required('TOLOKA_TOKEN_PARAMETER'),
    tokenCacheSeconds: fields.number('TOKEN_CACHE_SECONDS', 300, { min: 0, max: 3600, integer: true }),
    checkQueueUrl: fields.url('CHECK_QUEUE_URL'),
    openingsTable: tableName(fields.required('OPENINGS_TABLE'), problems),
    stepLeaseSeconds: fields.number('STEP_LEASE_SECONDS', 120, { min: 1, max: 7200, integer: true }),
    redeliverySeconds: fields.number('REDELIVERY_SECONDS', 420, { min: 1, max: 86_400, integer: true }),
    outcomeEventBus: fields.optional('OUTCOME_EVENT_BUS'),
    poll: {
      deadlineSeconds: fields.number('CHECK_DEADLINE_SECONDS', DEFAULT_POLL.deadlineSeconds, {
        min: 1,
        max: 43_200,
        integer: true,
      }),
      fastPathSeconds: fields.number('FAST_PATH_SECONDS', DEFAULT_POLL.fastPathSeconds, {
        min: 0,
        max: MAX_FAST_PATH_SECONDS,
        integer: true,
      }),
      minDelaySeconds: fields.number('CHECK_MIN_DELAY_SECONDS', DEFAULT_POLL.minDelaySeconds, {
        min: 1,
        max: SQS_MAX_DELAY_SECONDS,
        integer: true,
      }),
      maxDelaySeconds: fields.number('CHECK_MAX_DELAY_SECONDS', DEFAULT_POLL.maxDelaySeconds, {
        min: 1,
        max: SQS_MAX_DELAY_SECONDS,
        integer: true,
      }),
      backoffFactor: fields.number('CHECK_BACKOFF_FACTOR', DEFAULT_POLL.backoffFactor, { min: 1, max: 10 }),
    },
    http: {
      requestTimeoutMs: fields.number('TOLOKA_REQUEST_TIMEOUT_MS', DEFAULT_HTTP.requestTimeoutMs, {
        min: 100,
        max: 60_000,
        integer: true,
      }),
      maxAttempts: fields.number('TOLOKA_MAX_ATTEMPTS', DEFAULT_HTTP.maxAttempts, {
        min: 1,
        max: 10,
        integer: true,
      }),
    },
    requestsPerSecond:
      fields.optional('TOLOKA_REQUESTS_PER_SECOND') === undefined
        ? undefined
        : fields.number('TOLOKA_REQUESTS_PER_SECOND', 1, { min: 1, max: 300, integer: true }),
  };
  if (config.poll.minDelaySeconds > config.poll.maxDelaySeconds) {
    problems.push('CHECK_MIN_DELAY_SECONDS: must not exceed CHECK_MAX_DELAY_SECONDS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseApiUrl(value: string, problems: string[]): string | undefined {
  const parsed = parseApiOrigin(value);
  if ('problem' in parsed) {
    problems.push(`TOLOKA_API_URL: ${parsed.problem}`);
    return undefined;
  }
  return parsed.origin;
}

/**
 * An explicit Toloka API origin (`TOLOKA_API_URL`, the command line's `--api-url`), or why it
 * cannot be one. A path prefix is kept (a proxy may serve the API under one); a trailing
 * `/api/v1` is dropped because the client adds it.
 */
export function parseApiOrigin(value: string): { origin: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { problem: `"${value}" is not a URL` };
  }
  // The token travels in every request: plain http only to this machine, for an emulator.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    return { problem: `must use https (http only for localhost), got "${url.protocol}//${url.host}"` };
  }
  if (url.search || url.hash || url.username || url.password) {
    return { problem: 'must be an origin such as https://host:port, without query, fragment or credentials' };
  }
  return { origin: `${url.origin}${url.pathname}`.replace(/\/+$/, '').replace(/\/api\/v1$/, '') };
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) this.problems.push(`${name}: is required`);
    return value ?? '';
  }

  url(name: string): string {
    const value = this.required(name);
    if (value !== '' && !URL.canParse(value)) this.problems.push(`${name}: "${value}" is not a URL`);
    return value;
  }

  number(name: string, fallback: number, limits: { min: number; max: number; integer?: boolean }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || (limits.integer === true && !Number.isInteger(value))) {
      this.problems.push(
        `${name}: must be ${limits.integer === true ? 'a whole number' : 'a number'}, got "${raw}"`,
      );
      return fallback;
    }
    if (value < limits.min || value > limits.max) {
      this.problems.push(`${name}: must be between ${limits.min} and ${limits.max}, got ${value}`);
      return fallback;
    }
    return value;
  }
}

/** A DynamoDB table name: 3-255 of letters, digits, `_`, `-` and `.`. */
function tableName(value: string, problems: string[]): string {
  if (value !== '' && !/^[A-Za-z0-9_.-]{3,255}$/.test(value)) {
    problems.push(
      `OPENINGS_TABLE: "${value.slice(0, 60)}" is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)`,
    );
  }
  return value;
}
