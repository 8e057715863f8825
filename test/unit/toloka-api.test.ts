import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpTolokaApi, parseRetryAfter } from '../../lambda/adapters/http-toloka-api.ts';
import {
  InvalidMessageError,
  TolokaApiError,
  TolokaNetworkError,
  TolokaProtocolError,
} from '../../lambda/runtime/errors.ts';
import { parseTolokaDate } from '../../lambda/runtime/model.ts';
import { datedFixtureJson, datedFixtureText, fixtureText } from '../support/fixtures.ts';

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
    intercept('POST', '/pools/21/open').reply(202, datedFixtureText('toloka/operation-pending.json'), json);
    const response = await api.act({ kind: 'pool', id: '21' }, 'open', auth);
    expect(response).toMatchObject({ kind: 'operation', operation: { status: 'PENDING', progress: 0 } });
  });

  it('opens a training at /trainings/{id}/open', async () => {
    intercept('POST', '/trainings/7/open').reply(204, '');
    await expect(api.act({ kind: 'training', id: '7' }, 'open', auth)).resolves.toEqual({
      kind: 'already-done',
    });
  });

  it('returns already-open when Toloka answers 204', async () => {
    intercept('POST', '/pools/21/open').reply(204, '');
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).resolves.toEqual({
      kind: 'already-done',
    });
  });

  it("throws Toloka's error with code, message, request_id and payload on 409", async () => {
    intercept('POST', '/pools/21/open').reply(
      409,
      fixtureText('toloka/error-409-inappropriate-status.json'),
      json,
    );
    const error = (await api
      .act({ kind: 'pool', id: '21' }, 'open', auth)
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
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).rejects.toMatchObject({
      httpStatus: 503,
      code: 'HTTP_503',
    });
  });

  it('reads Retry-After in seconds from a 429', async () => {
    intercept('POST', '/pools/21/open').reply(429, fixtureText('toloka/error-429.json'), {
      headers: { 'retry-after': '2' },
    });
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      retryAfterMs: 2_000,
    });
  });

  it('throws a protocol error when a 202 body is not JSON', async () => {
    intercept('POST', '/pools/21/open').reply(202, '{"id": "trunc');
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).rejects.toBeInstanceOf(
      TolokaProtocolError,
    );
  });

  const pending = () => datedFixtureJson<Record<string, unknown>>('toloka/operation-pending.json');

  it('keeps a status it does not know, as both official SDKs do, rather than refusing the operation', async () => {
    intercept('POST', '/pools/21/open').reply(202, JSON.stringify({ ...pending(), status: 'QUEUED' }), json);
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).resolves.toMatchObject({
      kind: 'operation',
      operation: { status: 'QUEUED' },
    });
  });

  it.each([
    ['of another type', { type: 'POOL.CLOSE' }, /of type "POOL.CLOSE", not POOL.OPEN/],
    ['for another pool', { parameters: { pool_id: '22' } }, /for pool_id "22"/],
    ['without parameters', { parameters: undefined }, /for pool_id undefined/],
    [
      'for a training of the same ID',
      { type: 'TRAINING.OPEN', parameters: { training_id: '21' } },
      /of type "TRAINING.OPEN"/,
    ],
    ['with an ID that is not an operation ID', { id: '..' }, /operation id "\.\." is not an operation ID/],
    ['without a status', { status: '' }, /has no status/],
  ])('throws a protocol error, never an opening, for a 202 operation %s', async (_what, change, message) => {
    intercept('POST', '/pools/21/open').reply(202, JSON.stringify({ ...pending(), ...change }), json);
    const error = await api.act({ kind: 'pool', id: '21' }, 'open', auth).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TolokaProtocolError);
    expect((error as Error).message).toMatch(message);
  });

  it('checks the 202 of a training against TRAINING.OPEN and training_id', async () => {
    const training = { ...pending(), type: 'TRAINING.OPEN', parameters: { training_id: '7' } };
    intercept('POST', '/trainings/7/open').reply(202, JSON.stringify(training), json);
    await expect(api.act({ kind: 'training', id: '7' }, 'open', auth)).resolves.toMatchObject({
      kind: 'operation',
    });
    intercept('POST', '/trainings/8/open').reply(202, JSON.stringify(training), json);
    await expect(api.act({ kind: 'training', id: '8' }, 'open', auth)).rejects.toBeInstanceOf(
      TolokaProtocolError,
    );
  });

  it('throws a protocol error for a success status other than 202 and 204', async () => {
    intercept('POST', '/pools/21/open').reply(200, JSON.stringify(pending()), json);
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).rejects.toThrow(
      /answered 200, not 202 or 204/,
    );
  });

  it('throws a TIMEOUT network error when no answer comes within the request time-out', async () => {
    intercept('POST', '/pools/21/open')
      .reply(202, datedFixtureText('toloka/operation-pending.json'))
      .delay(1_000);
    await expect(api.act({ kind: 'pool', id: '21' }, 'open', auth)).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });

  it('throws a NETWORK_ERROR when the connection fails', async () => {
    intercept('POST', '/pools/21/open').replyWithError(new Error('socket hang up'));
    const error = await api.act({ kind: 'pool', id: '21' }, 'open', auth).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TolokaNetworkError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR' });
  });
});

describe('HttpTolokaApi.getOperation', () => {
  it('returns the operation with its progress', async () => {
    const running = datedFixtureJson<{ id: string }>('toloka/operation-running.json');
    intercept('GET', `/operations/${running.id}`).reply(200, JSON.stringify(running), json);
    await expect(api.getOperation(running.id, auth)).resolves.toMatchObject({
      status: 'RUNNING',
      progress: 40,
    });
  });

  it.each(['.', '..', '', 'a/b', '../pools/1', 'x?y', '-x'])(
    'refuses %j as an operation ID without sending a request',
    async (id) => {
      // MockAgent has no interceptor: any request would fail with another error.
      const error = await api.getOperation(id, auth).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect(error).toMatchObject({ field: 'operationId' });
    },
  );

  it('accepts UUIDs and 24-hex IDs, both of which appear in the specification', async () => {
    for (const id of ['019587fd-b536-49f8-b6dc-01ffc25f8594', '57068577e4b0bf7b07a0256f']) {
      intercept('GET', `/operations/${id}`).reply(
        200,
        JSON.stringify({ ...datedFixtureJson<object>('toloka/operation-running.json'), id }),
        json,
      );
      await expect(api.getOperation(id, auth)).resolves.toMatchObject({ id });
    }
  });

  it('throws a protocol error when Toloka answers with another operation than the one asked for', async () => {
    const running = datedFixtureJson<{ id: string }>('toloka/operation-running.json');
    intercept('GET', '/operations/57068577e4b0bf7b07a0256f').reply(200, JSON.stringify(running), json);
    await expect(api.getOperation('57068577e4b0bf7b07a0256f', auth)).rejects.toBeInstanceOf(
      TolokaProtocolError,
    );
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
  it('reads seconds and HTTP dates, however long, up to the 12 hours a queue can wait', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    expect(parseRetryAfter({ 'retry-after': '1.5' }, now)).toBe(1_500);
    expect(parseRetryAfter({ 'retry-after': 'Sat, 28 Nov 2026 12:00:03 GMT' }, now)).toBe(3_000);
    expect(parseRetryAfter({ 'retry-after': '7200' }, now)).toBe(7_200_000);
    expect(parseRetryAfter({ 'retry-after': '999999' }, now)).toBe(12 * 3_600_000);
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
  });
});

describe('parseTolokaDate', () => {
  it.each([
    ['2026-11-28T12:00:00', Date.UTC(2026, 10, 28, 12, 0, 0)],
    ['2026-11-28T12:00:00.1', Date.UTC(2026, 10, 28, 12, 0, 0, 100)],
    ['2026-11-28T12:00:00.123', Date.UTC(2026, 10, 28, 12, 0, 0, 123)],
    ['2026-11-28T12:00:00.123456', Date.UTC(2026, 10, 28, 12, 0, 0, 123)],
  ])('reads %s as UTC, whatever the local zone', (text, ms) => {
    expect(parseTolokaDate(text)).toBe(ms);
  });

  it.each(['2026-11-28T12:00:00Z', '2026-11-28T12:00:00.1234567', '2026-11-28', '2026-02-30T00:00:00', 42])(
    'refuses %j',
    (value) => {
      expect(parseTolokaDate(value)).toBeUndefined();
    },
  );
});

describe('HttpTolokaApi.findRunningOperation', () => {
  const item = (id: string, poolId: string, status: string) => ({
    id,
    type: 'POOL.OPEN',
    status,
    submitted: '2026-11-28T12:00:00',
    parameters: { pool_id: poolId },
  });

  it('finds the newest open operation of the pool that has not ended, whatever its status', async () => {
    agent
      .get(origin)
      .intercept({ method: 'GET', path: '/api/v1/operations?type=POOL.OPEN&sort=-submitted&limit=100' })
      .reply(
        200,
        JSON.stringify({
          items: [
            item('a1', '22', 'RUNNING'),
            item('a2', '21', 'SUCCESS'),
            item('a3', '21', 'QUEUED'),
            item('a4', '21', 'RUNNING'),
          ],
          has_more: false,
        }),
        json,
      );
    await expect(api.findRunningOperation({ kind: 'pool', id: '21' }, 'open', auth)).resolves.toMatchObject({
      id: 'a3',
      status: 'QUEUED',
    });
  });

  it('finds nothing when every operation of the pool has ended', async () => {
    agent
      .get(origin)
      .intercept({ method: 'GET', path: '/api/v1/operations?type=TRAINING.OPEN&sort=-submitted&limit=100' })
      .reply(200, JSON.stringify({ items: [], has_more: false }), json);
    await expect(
      api.findRunningOperation({ kind: 'training', id: '21' }, 'open', auth),
    ).resolves.toBeUndefined();
  });
});
