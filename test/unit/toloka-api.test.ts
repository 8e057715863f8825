import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TolokaApiError, TolokaNetworkError, TolokaProtocolError } from '../../lambda/runtime/errors.ts';
import { HttpTolokaApi, parseRetryAfter } from '../../lambda/runtime/toloka-api.ts';
import { fixtureText } from '../support/fixtures.ts';

const origin = 'https://toloka.test';
const auth = 'OAuth unit-token';
let agent: MockAgent;
let api: HttpTolokaApi;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  api = new HttpTolokaApi({ origin, requestTimeoutMs: 200, dispatcher: agent });
});

afterEach(async () => {
  await agent.close();
});

function intercept(method: 'GET' | 'POST', path: string) {
  return agent.get(origin).intercept({ method, path: `/api/v1${path}`, headers: { authorization: auth } });
}

const json = { headers: { 'content-type': 'application/json' } };

describe('HttpTolokaApi.open', () => {
  it('returns the operation when Toloka answers 202', async () => {
    intercept('POST', '/pools/21/open').reply(202, fixtureText('toloka/operation-pending.json'), json);
    const response = await api.open({ kind: 'pool', id: '21' }, auth);
    expect(response).toMatchObject({ kind: 'operation', operation: { status: 'PENDING', progress: 0 } });
  });

  it('opens a training at /trainings/{id}/open', async () => {
    intercept('POST', '/trainings/7/open').reply(204, '');
    await expect(api.open({ kind: 'training', id: '7' }, auth)).resolves.toEqual({ kind: 'already-open' });
  });

  it('returns already-open when Toloka answers 204', async () => {
    intercept('POST', '/pools/21/open').reply(204, '');
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).resolves.toEqual({ kind: 'already-open' });
  });

  it("throws Toloka's error with code, message, request_id and payload on 409", async () => {
    intercept('POST', '/pools/21/open').reply(
      409,
      fixtureText('toloka/error-409-inappropriate-status.json'),
      json,
    );
    const error = (await api
      .open({ kind: 'pool', id: '21' }, auth)
      .catch((e: unknown) => e)) as TolokaApiError;
    expect(error).toBeInstanceOf(TolokaApiError);
    expect(error).toMatchObject({
      httpStatus: 409,
      code: 'INAPPROPRIATE_STATUS',
      body: {
        request_id: '337d68d1-ba4f-4b1c-b1d2-1e3c5a9c8f10',
        payload: { appropriate_statuses: ['OPEN', 'CLOSED'] },
      },
    });
  });

  it('keeps the HTTP status when an error body is empty', async () => {
    intercept('POST', '/pools/21/open').reply(503, '');
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).rejects.toMatchObject({
      httpStatus: 503,
      code: 'HTTP_503',
    });
  });

  it('reads Retry-After in seconds from a 429', async () => {
    intercept('POST', '/pools/21/open').reply(429, fixtureText('toloka/error-429.json'), {
      headers: { 'retry-after': '2' },
    });
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      retryAfterMs: 2_000,
    });
  });

  it('throws a protocol error when a 202 body is not JSON', async () => {
    intercept('POST', '/pools/21/open').reply(202, '{"id": "trunc');
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).rejects.toBeInstanceOf(TolokaProtocolError);
  });

  it('throws a protocol error when the operation status is unknown', async () => {
    intercept('POST', '/pools/21/open').reply(202, '{"id": "x", "status": "DONE"}');
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).rejects.toThrow(/unknown status "DONE"/);
  });

  it('throws a TIMEOUT network error when no answer comes within the request time-out', async () => {
    intercept('POST', '/pools/21/open').reply(202, fixtureText('toloka/operation-pending.json')).delay(1_000);
    await expect(api.open({ kind: 'pool', id: '21' }, auth)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('throws a NETWORK_ERROR when the connection fails', async () => {
    intercept('POST', '/pools/21/open').replyWithError(new Error('socket hang up'));
    const error = await api.open({ kind: 'pool', id: '21' }, auth).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TolokaNetworkError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR' });
  });
});

describe('HttpTolokaApi.getOperation', () => {
  it('returns the operation with its progress', async () => {
    intercept('GET', '/operations/abc-1').reply(200, fixtureText('toloka/operation-running.json'), json);
    await expect(api.getOperation('abc-1', auth)).resolves.toMatchObject({ status: 'RUNNING', progress: 40 });
  });

  it('throws DOES_NOT_EXIST on 404', async () => {
    intercept('GET', '/operations/abc-1').reply(
      404,
      '{"code":"DOES_NOT_EXIST","message":"no such operation"}',
    );
    await expect(api.getOperation('abc-1', auth)).rejects.toMatchObject({
      httpStatus: 404,
      code: 'DOES_NOT_EXIST',
    });
  });
});

describe('HttpTolokaApi.getTarget', () => {
  it("reads a pool's status and last close reason", async () => {
    intercept('GET', '/pools/21').reply(
      200,
      JSON.stringify({
        id: '21',
        status: 'CLOSED',
        private_name: 'p',
        last_close_reason: 'NOT_ENOUGH_BALANCE',
      }),
    );
    await expect(api.getTarget({ kind: 'pool', id: '21' }, auth)).resolves.toEqual({
      id: '21',
      status: 'CLOSED',
      privateName: 'p',
      lastCloseReason: 'NOT_ENOUGH_BALANCE',
    });
  });

  it('reads a training at /trainings/{id}', async () => {
    intercept('GET', '/trainings/4').reply(200, '{"id": "4", "status": "OPEN"}');
    await expect(api.getTarget({ kind: 'training', id: '4' }, auth)).resolves.toMatchObject({
      status: 'OPEN',
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and caps hostile values at 15 minutes', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    expect(parseRetryAfter({ 'retry-after': '1.5' }, now)).toBe(1_500);
    expect(parseRetryAfter({ 'retry-after': 'Sat, 28 Nov 2026 12:00:03 GMT' }, now)).toBe(3_000);
    expect(parseRetryAfter({ 'retry-after': '999999' }, now)).toBe(900_000);
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
  });
});
