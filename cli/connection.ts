import type { Agent } from 'undici';
import { createKeepAliveAgent, HttpTolokaApi } from '../lambda/adapters/http-toloka-api.ts';
import { SsmTokenSource, StaticTokenSource } from '../lambda/adapters/token-sources.ts';
import { authorizationHeader } from '../lambda/runtime/authorization.ts';
import { DEFAULT_HTTP, type TolokaEnvironment } from '../lambda/runtime/config.ts';
import type { Log, TokenSource } from '../lambda/runtime/ports.ts';
import { DEFAULT_RETRY_POLICY, withRetries } from '../lambda/runtime/retry.ts';
import { CliFailure, missingTokenFailure } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { resolveOrigin, targetBanner } from './settings.ts';
import { troubleOf } from './trouble.ts';

/** The options every command shares. */
export interface ConnectionOptions {
  readonly env: TolokaEnvironment;
  /** Already checked by `parseApiOrigin`. */
  readonly apiUrl?: string | undefined;
  /** Where `apiUrl` came from: `--api-url` or `TOLOKA_API_URL`. */
  readonly apiUrlFrom?: string | undefined;
  /** Whether a flag, a variable or nothing chose the target (doctor then takes the configuration's). */
  readonly envFrom?: 'flag' | 'variable' | 'default';
  readonly tokenParameter?: string | undefined;
}

/** What a command talks to Toloka with: the Lambdas' HTTP client and token sources. */
export interface Connection {
  readonly origin: string;
  readonly toloka: HttpTolokaApi;
  readonly tokens: TokenSource;
  close(): Promise<void>;
}

/** How long the SSM provider may keep the token: one command reads it once anyway. */
const TOKEN_CACHE_SECONDS = 300;
/** Retries of one read (status, pool) may take this long, pauses included. */
export const READ_BUDGET_MS = 60_000;

/**
 * The token comes from `--token-parameter` (an SSM SecureString, as the Lambdas read it) when
 * given, otherwise from TOLOKA_TOKEN. Neither: exit 3 with what to do, before any request.
 */
export function tokenSourceFor(
  options: ConnectionOptions,
  env: Readonly<Record<string, string | undefined>>,
): TokenSource {
  const parameter = options.tokenParameter?.trim();
  if (parameter !== undefined && parameter !== '') {
    return new SsmTokenSource(parameter, TOKEN_CACHE_SECONDS);
  }
  const token = env.TOLOKA_TOKEN?.trim();
  if (token === undefined || token === '') throw new CliFailure(missingTokenFailure());
  return new StaticTokenSource(token, 'TOLOKA_TOKEN');
}

export function connect(options: ConnectionOptions, io: Pick<CliIo, 'env' | 'stderr'>): Connection {
  // First of all, with --json too (stdout keeps the one JSON object): where this goes.
  io.stderr.write(`${targetBanner(options)}\n`);
  const tokens = tokenSourceFor(options, io.env);
  const origin = resolveOrigin(options);
  const agent: Agent = createKeepAliveAgent(DEFAULT_HTTP.requestTimeoutMs);
  return {
    origin,
    tokens,
    toloka: new HttpTolokaApi({ origin, requestTimeoutMs: DEFAULT_HTTP.requestTimeoutMs, dispatcher: agent }),
    close: () => agent.close(),
  };
}

/**
 * One read from Toloka with the app's retries (DEFAULT_RETRY_POLICY), retries noted on `log`;
 * `activity` says what the read is for in the retry lines ("reading pool 123").
 */
export async function readWithRetries<T>(
  connection: Connection,
  log: Log,
  activity: string,
  read: (authorization: string) => Promise<T>,
): Promise<T> {
  const authorization = authorizationHeader(await connection.tokens.getToken(), connection.tokens.source);
  return withRetries(
    DEFAULT_RETRY_POLICY,
    {
      budgetMs: READ_BUDGET_MS,
      onRetry: ({ attempt, delayMs, error }) =>
        log.warn('Toloka call failed, retrying', {
          call: activity,
          attempt,
          delayMs,
          error: troubleOf(error),
        }),
    },
    () => read(authorization),
  );
}
