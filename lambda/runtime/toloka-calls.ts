/**
 * How the steps call Toloka: with the app's retries inside the step's time budget, and with the
 * token read again once after a 401/403 (a token rotated in SSM is used at once, not when the
 * cache expires).
 */
import { authorizationHeader } from './authorization.ts';
import {
  RequestBudgetBusyError,
  RetriesExhaustedError,
  TolokaApiError,
  UnsendableTokenError,
} from './errors.ts';
import type { Log, RequestBudget, TokenSource } from './ports.ts';
import { type RetryPolicy, withRetries } from './retry.ts';

/** The Authorization header the steps send; replaced when the token is read again. */
export interface Credential {
  authorization: string;
}

export interface CallContext {
  readonly tokens: TokenSource;
  readonly retry: RetryPolicy;
  readonly log: Log;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The instance's share of the request budget; absent: not paced (the command line). */
  readonly requestBudget?: RequestBudget;
}

/** The current token as a credential, or the permanent error of a token that cannot be sent. */
export async function credentialOf(deps: CallContext): Promise<Credential | UnsendableTokenError> {
  const token = await deps.tokens.getToken();
  try {
    return { authorization: authorizationHeader(token, deps.tokens.source) };
  } catch (error) {
    if (error instanceof UnsendableTokenError) return error;
    throw error;
  }
}

/** A 401 or 403: the token was refused (which of the two Toloka sends is not documented). */
export function isTokenRefusal(error: unknown): error is TolokaApiError {
  return error instanceof TolokaApiError && (error.httpStatus === 401 || error.httpStatus === 403);
}

/**
 * One Toloka call with retries within `budgetMs`. Each attempt waits for its turn of the request
 * budget, and is not sent when the turn would come after `budgetMs` (which the callers cap at the
 * opening's deadline): no request goes after it, however long the instance's line. After a
 * 401/403 the token is read again past the cache, once; if it changed, the call is made again with
 * the new one (and the credential keeps it for the step's later calls). An unchanged token that
 * is refused is thrown as it is.
 */
export async function callToloka<T>(
  deps: CallContext,
  budgetMs: number,
  call: string,
  credential: Credential,
  attempt: (authorization: string) => Promise<T>,
): Promise<T> {
  const now = deps.now ?? Date.now;
  const giveUpAt = now() + budgetMs;
  const paced = async (authorization: string): Promise<T> => {
    if (deps.requestBudget !== undefined && !(await deps.requestBudget.take(giveUpAt - now()))) {
      throw new RequestBudgetBusyError(call);
    }
    return attempt(authorization);
  };
  const run = (authorization: string) =>
    withRetries(
      deps.retry,
      {
        budgetMs,
        now: deps.now,
        sleep: deps.sleep,
        onRetry: ({ attempt: attemptNumber, delayMs, error }) =>
          deps.log.warn('Toloka call failed, retrying', {
            call,
            attempt: attemptNumber,
            delayMs,
            error: describeForLog(error),
          }),
      },
      () => paced(authorization),
    );
  try {
    return await run(credential.authorization);
  } catch (error) {
    if (!isTokenRefusal(error) || deps.tokens.refresh === undefined) throw error;
    const fresh = authorizationHeader(await deps.tokens.refresh(), deps.tokens.source);
    if (fresh === credential.authorization) throw error;
    deps.log.warn('Toloka refused the token; the one in its source has changed, trying with it', {
      call,
      httpStatus: error.httpStatus,
    });
    credential.authorization = fresh;
    return run(fresh);
  }
}

/** How long Toloka asked to wait, when a call gave up on a `Retry-After` longer than its budget. */
export function retryAfterOf(error: unknown): number | undefined {
  const cause = error instanceof RetriesExhaustedError ? error.cause : error;
  return cause instanceof TolokaApiError ? cause.retryAfterMs : undefined;
}

export function describeForLog(error: unknown): Record<string, unknown> {
  if (error instanceof TolokaApiError) {
    return { code: error.code, httpStatus: error.httpStatus, request_id: error.body.request_id };
  }
  if (error instanceof RetriesExhaustedError) return { code: error.code, attempts: error.attempts };
  return error instanceof Error
    ? { code: (error as { code?: string }).code ?? error.name, message: error.message }
    : {};
}
