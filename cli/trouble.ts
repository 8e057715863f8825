/**
 * What went wrong with a request to Toloka, in the user's words: the domain's errors and its
 * retry log lines carry codes (`NETWORK_ERROR`, `UND_ERR_SOCKET`, `RETRIES_EXHAUSTED`) and call
 * names (`getOperation`); the command line says "the connection to Toloka was refused".
 */
import { STATUS_CODES } from 'node:http';
import {
  RetriesExhaustedError,
  TokenUnavailableError,
  TolokaApiError,
  TolokaNetworkError,
  TolokaProtocolError,
} from '../lambda/runtime/errors.ts';

/** What a failed request is known by: an error, or the attributes of a domain retry log line. */
export interface TroubleFacts {
  readonly code?: unknown;
  readonly httpStatus?: unknown;
  readonly message?: unknown;
}

/** The system and undici codes of a connection that failed, in words. */
const NETWORK_CODES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bECONNREFUSED\b/, 'the connection to Toloka was refused'],
  [
    /\b(?:ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)\b|other side closed/,
    'the connection to Toloka was closed before it answered',
  ],
  [/\b(?:ENOTFOUND|EAI_AGAIN)\b/, "Toloka's host name could not be looked up"],
  [/\b(?:ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT)\b/, 'the connection to Toloka timed out'],
  [/\b(?:ENETUNREACH|EHOSTUNREACH)\b/, 'the network cannot reach Toloka'],
];

/**
 * One clause saying what happened, e.g. "Toloka answered 503 Service Unavailable" or "the
 * connection to Toloka was refused". Never holds the token (no error here carries it).
 */
export function describeTrouble(facts: TroubleFacts): string {
  const { code, httpStatus, message } = facts;
  const text = typeof message === 'string' ? message : '';
  if (typeof httpStatus === 'number') {
    const reason = STATUS_CODES[httpStatus];
    const answered = `${httpStatus}${reason === undefined ? '' : ` ${reason}`}`;
    return httpStatus === 429 ? `Toloka asked to slow down (${answered})` : `Toloka answered ${answered}`;
  }
  switch (code) {
    case 'TIMEOUT': {
      const within = /within (\d+) ms/.exec(text);
      return within?.[1] === undefined
        ? 'Toloka did not answer in time'
        : `Toloka did not answer within ${Number(within[1]) / 1000} s`;
    }
    case 'NETWORK_ERROR': {
      const known = NETWORK_CODES.find(([pattern]) => pattern.test(text));
      return known?.[1] ?? 'a network error cut the request to Toloka short';
    }
    case 'MALFORMED_RESPONSE':
      return "Toloka's answer could not be understood";
    case 'TOKEN_UNAVAILABLE':
      return 'the token could not be read from SSM';
    default:
      return typeof code === 'string'
        ? `the request to Toloka failed (${code})`
        : 'the request to Toloka failed';
  }
}

/** The facts of an error the domain threw; for retries given up, those of the last attempt. */
export function troubleOf(error: unknown): TroubleFacts {
  const last = error instanceof RetriesExhaustedError ? error.cause : error;
  if (last instanceof TolokaApiError) return { code: last.code, httpStatus: last.httpStatus };
  if (last instanceof TolokaNetworkError || last instanceof TolokaProtocolError) {
    return { code: last.code, message: last.message };
  }
  if (last instanceof TokenUnavailableError) return { code: last.code, message: last.message };
  if (last instanceof Error) return { code: (last as { code?: unknown }).code ?? last.name };
  return {};
}

/** What the domain's call names (`callToloka`'s `call`) were doing, for retry lines. */
const ACTIVITIES: Readonly<Record<string, string>> = {
  open: 'the request to open it',
  getOperation: 'checking the opening',
};

/**
 * A retry line from a `warn` of the domain (`Toloka call failed, retrying`, with `call`,
 * `attempt`, `delayMs` and `error`) or of the CLI's reads (whose `call` is already in words):
 * "checking the opening failed: Toloka answered 503 Service Unavailable; trying again in 0.4 s".
 */
export function describeWarning(message: string, attributes: Record<string, unknown> = {}): string {
  const { call, delayMs, error } = attributes;
  if (typeof delayMs !== 'number' || typeof error !== 'object' || error === null) return message;
  const activity = typeof call === 'string' ? (ACTIVITIES[call] ?? call) : 'a request to Toloka';
  return `${activity} failed: ${describeTrouble(error as TroubleFacts)}; trying again ${inAWhile(delayMs)}`;
}

/** "in 0.4 s", "in 2.5 s", or "now" for a pause too short to show. */
export function inAWhile(delayMs: number): string {
  return delayMs < 50 ? 'now' : `in ${(delayMs / 1000).toFixed(1)} s`;
}
