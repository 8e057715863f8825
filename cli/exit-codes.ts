import {
  describeError,
  isTransient,
  LedgerError,
  RetriesExhaustedError,
  TokenUnavailableError,
  TolokaApiError,
  UnsendableTokenError,
} from '../lambda/runtime/errors.ts';
import type { OutcomeRecord } from '../lambda/runtime/model.ts';
import { BadInputError } from './settings.ts';
import { describeTrouble, troubleOf } from './trouble.ts';

/** What `toloka-pool` exits with; scripts may rely on these (docs/cli.md). */
export const ExitCode = {
  /** Opened, already open, opening started (without --wait), or a status read. */
  OK: 0,
  /** Not one of ours: a bug. */
  UNEXPECTED: 1,
  /** A bad ID or option: nothing was sent to Toloka. */
  BAD_INPUT: 2,
  /** No token, an unreadable one, or Toloka's 401/403. */
  AUTH: 3,
  /** Toloka refused (409): its code says why. */
  REFUSED: 4,
  /** The operation ended in FAIL, 404, or another permanent error. */
  FAILED: 5,
  /** `--wait` reached `--timeout` before the operation ended. */
  TIMED_OUT: 6,
  /** Toloka or the network stayed unavailable through the retries. */
  UNAVAILABLE: 7,
  /** Ctrl-C. */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Why a command did not succeed, in words and as an exit code. Never holds the token. */
export interface Failure {
  readonly exitCode: ExitCodeValue;
  /** A stable code: Toloka's (`NOT_ENOUGH_BALANCE`), the app's (`RETRIES_EXHAUSTED`) or the CLI's. */
  readonly code: string;
  readonly message: string;
  /** What to do next. */
  readonly hint?: string;
  /** Further fields for `--json` (Toloka's `request_id`, `httpStatus`, `payload`, a bad `argument`). */
  readonly details?: Record<string, unknown>;
}

/** A failure the CLI itself detects (a missing token), thrown up to the command runner. */
export class CliFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

export const TOKEN_HINT =
  'Set TOLOKA_TOKEN to your Toloka API key or OAuth token, or give --token-parameter <name> to read it ' +
  'from an SSM SecureString (AWS region and credentials from the standard AWS_* environment).';

export function missingTokenFailure(): Failure {
  return {
    exitCode: ExitCode.AUTH,
    code: 'TOKEN_MISSING',
    message: 'no Toloka token: TOLOKA_TOKEN is not set and no --token-parameter was given',
    hint: TOKEN_HINT,
  };
}

/** The exit code for an outcome record, as the Lambdas write it. */
export function exitCodeForRecord(record: OutcomeRecord): ExitCodeValue {
  switch (record.outcome) {
    case 'OPENED':
    case 'ALREADY_OPEN':
    case 'CLOSED':
    case 'ALREADY_CLOSED':
    case 'SKIPPED':
      return ExitCode.OK;
    case 'TIMED_OUT':
      return ExitCode.TIMED_OUT;
    case 'FAILED':
      if (record.code === 'INVALID_MESSAGE') return ExitCode.BAD_INPUT;
      if (record.code === 'TOKEN_NOT_SENDABLE') return ExitCode.AUTH;
      return record.httpStatus === undefined ? ExitCode.FAILED : exitCodeForHttpStatus(record.httpStatus);
  }
}

function exitCodeForHttpStatus(status: number): ExitCodeValue {
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 409) return ExitCode.REFUSED;
  return ExitCode.FAILED;
}

/** What to say about an error thrown by the domain or the CLI. */
export function failureFromError(error: unknown, subject: Subject = 'pool'): Failure {
  if (error instanceof CliFailure) return error.failure;
  if (error instanceof BadInputError) {
    return {
      exitCode: ExitCode.BAD_INPUT,
      code: 'BAD_INPUT',
      message: error.message,
      ...(error.hint !== undefined ? { hint: error.hint } : {}),
      details: { argument: error.argument, reason: error.reason },
    };
  }
  if (error instanceof TokenUnavailableError) {
    return {
      exitCode: ExitCode.AUTH,
      code: error.code,
      message: error.message,
      hint:
        'Check the parameter name, AWS_REGION and your AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), ' +
        'and that they allow ssm:GetParameter with decryption; or set TOLOKA_TOKEN instead of --token-parameter.',
    };
  }
  if (error instanceof UnsendableTokenError) {
    return {
      exitCode: ExitCode.AUTH,
      code: error.code,
      message: error.message,
      hint: 'A token is one line of printable characters: set it again, e.g. without the newline a copy and paste added.',
    };
  }
  if (error instanceof TolokaApiError && !isTransient(error)) {
    return apiFailure(
      {
        httpStatus: error.httpStatus,
        code: error.code,
        message: error.message,
        requestId: error.body.request_id,
        payload: error.body.payload,
      },
      subject,
    );
  }
  if (error instanceof LedgerError) return ledgerFailure(error);
  if (isTransient(error)) {
    const { code } = describeError(error);
    const tries =
      error instanceof RetriesExhaustedError
        ? ` (${error.attempts} ${error.attempts === 1 ? 'try' : 'tries in a row'})`
        : '';
    return {
      exitCode: ExitCode.UNAVAILABLE,
      code,
      message: `Toloka is unavailable: ${describeTrouble(troubleOf(error))}${tries}`,
      hint: 'Nothing permanent went wrong: try again later. Check --env/--api-url and your network if it persists.',
    };
  }
  const { code, message } = describeError(error);
  return {
    exitCode: ExitCode.UNEXPECTED,
    code,
    message: `unexpected error: ${message}`,
    hint: 'This is a bug in toloka-pool: please report it with the command you ran (never the token).',
  };
}

/** What a 404 was about, for the hint. */
export type Subject = 'pool' | 'operation';

/** A permanent Toloka error, from an outcome record or from a direct call. */
export function apiFailure(
  error: {
    readonly httpStatus: number;
    readonly code: string;
    readonly message: string;
    readonly requestId?: string | undefined;
    readonly payload?: unknown;
  },
  subject: Subject = 'pool',
): Failure {
  const { httpStatus, code, message, requestId, payload } = error;
  const exitCode = exitCodeForHttpStatus(httpStatus);
  const details: Record<string, unknown> = {
    httpStatus,
    ...(requestId !== undefined ? { request_id: requestId } : {}),
    ...(payload !== undefined ? { payload } : {}),
  };
  const said = `HTTP ${httpStatus} ${code}: ${message}${requestId !== undefined ? ` (request_id ${requestId})` : ''}`;
  if (httpStatus === 401) {
    return {
      exitCode,
      code,
      message: `Toloka did not accept the token: ${said}`,
      hint: `${TOKEN_HINT} A sandbox token works only with --env sandbox, a production one only with production.`,
      details,
    };
  }
  if (httpStatus === 403) {
    return {
      exitCode,
      code,
      message: `the token may not do this: ${said}`,
      hint: 'Use a token of the account that owns the pool (or of a member allowed to manage it).',
      details,
    };
  }
  if (httpStatus === 409) {
    return {
      exitCode,
      code,
      message: `Toloka refused: ${said}`,
      hint: 'Toloka will not do it as things are: fix what its code names, then try again.',
      details,
    };
  }
  if (httpStatus === 404) {
    return {
      exitCode,
      code,
      message: `not found: ${said}`,
      hint:
        subject === 'pool'
          ? 'Check the ID, --training, and --env (sandbox and production have different pools).'
          : 'Check the operation ID and --env (sandbox and production have different operations).',
      details,
    };
  }
  return { exitCode, code, message: `Toloka answered ${said}`, details };
}

/** What the AWS SDK throws: a service error (`name`, `$fault`, `$metadata`), or a Node.js socket error. */
interface AwsErrorFacts {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: {
    readonly httpStatusCode?: unknown;
    readonly requestId?: unknown;
    readonly attempts?: unknown;
  };
}

/** Refusals of the caller's credentials or of what they may do: exit 3. */
const AWS_AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'CredentialsProviderError',
  'TokenProviderError',
]);

/** DynamoDB busy or failing: trying again later may work, exit 7. */
const AWS_UNAVAILABLE_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Socket errors (the SDK's `code`) of a DynamoDB endpoint that cannot be reached, in words. */
const AWS_NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection to DynamoDB was refused',
  ECONNRESET: 'the connection to DynamoDB was closed before it answered',
  EPIPE: 'the connection to DynamoDB was closed before it answered',
  ECONNABORTED: 'the connection to DynamoDB was closed before it answered',
  ENOTFOUND: "DynamoDB's host name could not be looked up",
  EAI_AGAIN: "DynamoDB's host name could not be looked up",
  ETIMEDOUT: 'the connection to DynamoDB timed out',
  ENETUNREACH: 'the network cannot reach DynamoDB',
  EHOSTUNREACH: 'the network cannot reach DynamoDB',
};

/**
 * The openings ledger could not be read (`toloka-pool openings`): the cause the SDK gave decides.
 * Credentials missing or refused, or no region: 3. The table does not exist, or another refusal
 * of the request: 5. DynamoDB throttling, failing or out of reach through the SDK's retries: 7.
 */
export function ledgerFailure(error: LedgerError): Failure {
  const cause = (typeof error.cause === 'object' && error.cause !== null ? error.cause : {}) as AwsErrorFacts;
  const name = typeof cause.name === 'string' ? cause.name : undefined;
  const said = typeof cause.message === 'string' && cause.message !== '' ? cause.message : undefined;
  const status = cause.$metadata?.httpStatusCode;
  const requestId = cause.$metadata?.requestId;
  const attempts = cause.$metadata?.attempts;
  const details: Record<string, unknown> = {
    ...(typeof status === 'number' ? { httpStatus: status } : {}),
    ...(typeof requestId === 'string' ? { requestId } : {}),
  };
  const awsSaid = `${name ?? 'error'}${said === undefined ? '' : `: ${said}`}`;
  if (name !== undefined && (AWS_AUTH_ERRORS.has(name) || status === 403)) {
    const noCredentials = name === 'CredentialsProviderError' || name === 'TokenProviderError';
    return {
      exitCode: ExitCode.AUTH,
      code: name,
      message: `${error.message}: ${noCredentials ? 'no AWS credentials' : 'AWS refused the credentials or the access'} (${awsSaid})`,
      hint:
        'Check your AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) and AWS_REGION, and that they allow ' +
        'dynamodb:Scan on the openings table.',
      details,
    };
  }
  if (said !== undefined && /region is missing/i.test(said)) {
    return {
      exitCode: ExitCode.AUTH,
      code: 'AWS_REGION_MISSING',
      message: `${error.message}: no AWS region`,
      hint: "Set AWS_REGION (or a region in the AWS_PROFILE's configuration) to the stack's region.",
    };
  }
  if (name === 'ResourceNotFoundException') {
    return {
      exitCode: ExitCode.FAILED,
      code: name,
      message: `${error.message}: no such table (${awsSaid})`,
      hint:
        'Check --table or OPENINGS_TABLE (the stack output OpeningsTableName), AWS_REGION, and the AWS ' +
        'account of your credentials.',
      details,
    };
  }
  const network = typeof cause.code === 'string' ? AWS_NETWORK_CODES[cause.code] : undefined;
  const unavailable =
    network !== undefined ||
    (name !== undefined && AWS_UNAVAILABLE_ERRORS.has(name)) ||
    cause.$fault === 'server' ||
    (typeof status === 'number' && status >= 500) ||
    error.cause === undefined;
  if (unavailable) {
    const tries = typeof attempts === 'number' && attempts > 1 ? ` (${attempts} tries in a row)` : '';
    return {
      exitCode: ExitCode.UNAVAILABLE,
      code: network === undefined && name !== undefined && name !== 'Error' ? name : error.code,
      message:
        network !== undefined
          ? `${error.message}: ${network}${tries}`
          : `${error.message}${error.cause === undefined ? '' : `: DynamoDB is unavailable (${awsSaid})`}${tries}`,
      hint: 'Nothing was changed: try again later. Check AWS_REGION, AWS_ENDPOINT_URL and your network if it persists.',
      details: { ...details, ...(typeof cause.code === 'string' ? { cause: cause.code } : {}) },
    };
  }
  if (cause.$fault === 'client') {
    return {
      exitCode: ExitCode.FAILED,
      code: name ?? error.code,
      message: `${error.message}: ${awsSaid}`,
      details,
    };
  }
  return {
    exitCode: ExitCode.UNEXPECTED,
    code: error.code,
    message: `unexpected error: ${error.message}: ${awsSaid}`,
    hint: 'This is a bug in toloka-pool: please report it with the command you ran.',
  };
}
