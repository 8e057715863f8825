import { describe, expect, it } from 'vitest';
import {
  CliFailure,
  ExitCode,
  exitCodeForRecord,
  failureFromError,
  missingTokenFailure,
} from '../../cli/exit-codes.ts';
import { BadInputError } from '../../cli/settings.ts';
import {
  InvalidMessageError,
  RetriesExhaustedError,
  TokenUnavailableError,
  TolokaApiError,
  TolokaNetworkError,
} from '../../lambda/runtime/errors.ts';
import type { OutcomeRecord } from '../../lambda/runtime/model.ts';

describe('exit codes from outcome records', () => {
  it.each<[Partial<OutcomeRecord> & Pick<OutcomeRecord, 'outcome'>, number]>([
    [{ outcome: 'OPENED' }, 0],
    [{ outcome: 'ALREADY_OPEN' }, 0],
    [{ outcome: 'FAILED', code: 'AUTHENTICATION_ERROR', httpStatus: 401 }, 3],
    [{ outcome: 'FAILED', code: 'ACCESS_DENIED', httpStatus: 403 }, 3],
    [{ outcome: 'FAILED', code: 'NOT_ENOUGH_BALANCE', httpStatus: 409 }, 4],
    [{ outcome: 'FAILED', code: 'DOES_NOT_EXIST', httpStatus: 404 }, 5],
    [{ outcome: 'FAILED', code: 'VALIDATION_ERROR', httpStatus: 400 }, 5],
    [{ outcome: 'FAILED', code: 'OPERATION_FAILED', status: 'FAIL' }, 5],
    [{ outcome: 'FAILED', code: 'INVALID_MESSAGE' }, 2],
    [{ outcome: 'TIMED_OUT', code: 'DEADLINE_EXCEEDED' }, 6],
  ])('%o → %i', (record, code) => {
    expect(exitCodeForRecord(record)).toBe(code);
  });
});

describe('exit codes from errors', () => {
  it('bad input is 2, naming the argument', () => {
    const failure = failureFromError(new BadInputError('--timeout', 'must be a whole number of seconds'));
    expect(failure).toMatchObject({ exitCode: 2, message: '--timeout: must be a whole number of seconds' });
    expect(failure.details).toEqual({ argument: '--timeout', reason: 'must be a whole number of seconds' });
  });

  it('a missing or unreadable token is 3, with what to do', () => {
    expect(failureFromError(new CliFailure(missingTokenFailure()))).toMatchObject({
      exitCode: 3,
      code: 'TOKEN_MISSING',
      hint: expect.stringContaining('TOLOKA_TOKEN'),
    });
    expect(
      failureFromError(new TokenUnavailableError('cannot read SSM parameter /t: AccessDenied')),
    ).toMatchObject({
      exitCode: 3,
      hint: expect.stringContaining('AWS_REGION'),
    });
  });

  it('Toloka errors map by status; transient ones that outlived the retries are 7', () => {
    expect(failureFromError(new TolokaApiError(401, { code: 'AUTHENTICATION_ERROR' })).exitCode).toBe(3);
    expect(failureFromError(new TolokaApiError(403, {})).exitCode).toBe(3);
    expect(
      failureFromError(new TolokaApiError(409, { code: 'CONFLICT_STATE', request_id: 'r-1' })),
    ).toMatchObject({
      exitCode: 4,
      message: expect.stringContaining('(request_id r-1)'),
      details: { httpStatus: 409, request_id: 'r-1' },
    });
    expect(failureFromError(new TolokaApiError(404, {}), 'operation').hint).toContain('operation ID');
    const unavailable = new TolokaApiError(503, {});
    expect(failureFromError(new RetriesExhaustedError(4, unavailable))).toMatchObject({
      exitCode: 7,
      code: 'RETRIES_EXHAUSTED',
    });
    const reset = new TolokaNetworkError('POST /pools/1/open: ECONNRESET', {
      cause: undefined,
      timedOut: false,
    });
    expect(failureFromError(reset).exitCode).toBe(ExitCode.UNAVAILABLE);
  });

  it('anything else is 1, a bug', () => {
    expect(failureFromError(new TypeError('x is undefined')).exitCode).toBe(1);
    expect(failureFromError(new InvalidMessageError('body', 'is empty')).exitCode).toBe(1);
  });
});
