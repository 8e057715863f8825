import { describe, expect, it } from 'vitest';
import { failureFromError } from '../../cli/exit-codes.ts';
import { describeTrouble, describeWarning, inAWhile, troubleOf } from '../../cli/trouble.ts';
import {
  RetriesExhaustedError,
  TolokaApiError,
  TolokaNetworkError,
  TolokaProtocolError,
} from '../../lambda/runtime/errors.ts';

const network = (message: string, timedOut = false) =>
  new TolokaNetworkError(message, { cause: undefined, timedOut });

describe('what went wrong with a request to Toloka, in words', () => {
  it.each<[string, unknown, string]>([
    [
      'a 503',
      new TolokaApiError(503, { code: 'REMOTE_SERVICE_UNAVAILABLE' }),
      'Toloka answered 503 Service Unavailable',
    ],
    ['a 429', new TolokaApiError(429, {}), 'Toloka asked to slow down (429 Too Many Requests)'],
    [
      'a refused connection',
      network('POST /pools/1/open: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'),
      'the connection to Toloka was refused',
    ],
    [
      'a reset',
      network('GET /operations/x: ECONNRESET: read ECONNRESET'),
      'the connection to Toloka was closed before it answered',
    ],
    [
      'a closed socket',
      network('GET /operations/x: UND_ERR_SOCKET: other side closed'),
      'the connection to Toloka was closed before it answered',
    ],
    [
      'an unknown host',
      network('GET /pools/1: ENOTFOUND: getaddrinfo ENOTFOUND toloka.invalid'),
      "Toloka's host name could not be looked up",
    ],
    [
      'a time-out',
      network('GET /operations/x: no answer within 10000 ms', true),
      'Toloka did not answer within 10 s',
    ],
    [
      'a garbled answer',
      new TolokaProtocolError('operation body is not JSON'),
      "Toloka's answer could not be understood",
    ],
    [
      'the last of retries given up',
      new RetriesExhaustedError(4, new TolokaApiError(502, {})),
      'Toloka answered 502 Bad Gateway',
    ],
  ])('%s', (_case, error, words) => {
    expect(describeTrouble(troubleOf(error))).toBe(words);
  });

  it('retry lines name the activity, the reason and the pause, not the call or the attempt', () => {
    const line = describeWarning('Toloka call failed, retrying', {
      call: 'getOperation',
      attempt: 2,
      delayMs: 400,
      error: { code: 'NETWORK_ERROR', message: 'GET /operations/x: UND_ERR_SOCKET: other side closed' },
    });
    expect(line).toBe(
      'checking the opening failed: the connection to Toloka was closed before it answered; trying again in 0.4 s',
    );
    expect(inAWhile(3)).toBe('now');
    expect(inAWhile(2_500)).toBe('in 2.5 s');
  });

  it('giving up says what happened and how many tries, in words', () => {
    const failure = failureFromError(
      new RetriesExhaustedError(
        4,
        network('POST /pools/1/open: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'),
      ),
    );
    expect(failure).toMatchObject({ exitCode: 7, code: 'RETRIES_EXHAUSTED' });
    expect(failure.message).toBe(
      'Toloka is unavailable: the connection to Toloka was refused (4 tries in a row)',
    );
  });
});
