import { describe, expect, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import {
  advance,
  call,
  type ErrorBody,
  emulator,
  getOperation,
  json,
  type Operation,
  openPool,
  START,
  TOKEN,
  TOLOKA_DATE,
  tolokaDateAt,
  UUID,
} from '../support/emulator-under-test.ts';

describe('authentication', () => {
  it('answers 401 AUTHENTICATION_ERROR without an Authorization header', async () => {
    const response = await call('GET', '/pools/1', { authorization: null });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as ErrorBody;
    expect(body.code).toBe('AUTHENTICATION_ERROR');
    expect(body.request_id).toMatch(UUID);
    expect(body.message).toEqual(expect.any(String));
  });

  it('answers 401 for a token it does not know', async () => {
    const response = await call('GET', '/pools/1', { authorization: 'OAuth not-the-token' });
    expect(response.status).toBe(401);
    expect(((await response.json()) as ErrorBody).code).toBe('AUTHENTICATION_ERROR');
  });

  it('answers 401 for a scheme other than OAuth and ApiKey', async () => {
    const response = await call('GET', '/pools/1', { authorization: `Bearer ${TOKEN}` });
    expect(response.status).toBe(401);
  });

  it('accepts a configured token with either the OAuth or the ApiKey scheme', async () => {
    expect((await call('GET', '/pools/1', { authorization: `OAuth ${TOKEN}` })).status).toBe(200);
    expect((await call('GET', '/pools/1', { authorization: `ApiKey ${TOKEN}` })).status).toBe(200);
  });

  it('accepts every token it was configured with', async () => {
    const multi = new TolokaEmulator({ tokens: ['first', 'second'], pools: { '1': {} } });
    const base = await multi.start();
    try {
      expect((await call('GET', '/pools/1', { base, authorization: 'ApiKey first' })).status).toBe(200);
      expect((await call('GET', '/pools/1', { base, authorization: 'OAuth second' })).status).toBe(200);
      expect((await call('GET', '/pools/1', { base, authorization: `OAuth ${TOKEN}` })).status).toBe(401);
    } finally {
      await multi.stop();
    }
  });
});

describe('opening a pool', () => {
  it('follows an operation from PENDING through RUNNING with rising progress to SUCCESS', async () => {
    const created = await openPool('1');
    expect(created).toEqual({
      id: expect.stringMatching(UUID),
      type: 'POOL.OPEN',
      status: 'PENDING',
      submitted: tolokaDateAt(0),
      progress: 0,
      parameters: { pool_id: '1' },
      details: {},
    });

    advance(500);
    const started = await getOperation(created.id);
    expect(started).toMatchObject({ status: 'RUNNING', started: tolokaDateAt(500), progress: 0 });
    expect(started.finished).toBeUndefined();

    const progress: number[] = [];
    for (let step = 0; step < 4; step += 1) {
      advance(500);
      const running = await getOperation(created.id);
      expect(running.status).toBe('RUNNING');
      progress.push(running.progress ?? -1);
    }
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);
    expect(Math.max(...progress)).toBeLessThan(100);
    expect((await json<{ status: string }>('GET', '/pools/1')).body.status).toBe('CLOSED');

    advance(500);
    const done = await getOperation(created.id);
    expect(done).toMatchObject({
      status: 'SUCCESS',
      progress: 100,
      started: tolokaDateAt(500),
      finished: tolokaDateAt(3000),
    });
    const pool = await json<Record<string, unknown>>('GET', '/pools/1');
    expect(pool.body).toMatchObject({ status: 'OPEN', last_started: tolokaDateAt(3000) });
    expect(emulator.getPoolState('1')?.status).toBe('OPEN');
  });

  it('stays PENDING for the configured pendingMs', async () => {
    emulator.setPool('2', { openDurationMs: 10_000, pendingMs: 4_000 });
    const created = await openPool('2');
    advance(3_999);
    expect((await getOperation(created.id)).status).toBe('PENDING');
    advance(1);
    expect((await getOperation(created.id)).status).toBe('RUNNING');
  });

  it('ends in FAIL and leaves the pool closed when configured to fail', async () => {
    emulator.setPool('3', { openDurationMs: 1_000, result: 'FAIL' });
    const created = await openPool('3');
    advance(1_000);
    const failed = await getOperation(created.id);
    expect(failed).toMatchObject({ status: 'FAIL', finished: tolokaDateAt(1000) });
    expect((await json<{ status: string }>('GET', '/pools/3')).body.status).toBe('CLOSED');
  });

  it('answers 204 with an empty body when the pool is already open', async () => {
    emulator.setPool('4', { status: 'OPEN' });
    const response = await call('POST', '/pools/4/open');
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('answers 204 once its own open operation has succeeded', async () => {
    await openPool('5');
    advance(3_000);
    expect((await call('POST', '/pools/5/open')).status).toBe(204);
  });

  it('answers a second open during a running operation with 409 POOL_LOCKED_BY_ANOTHER_OPERATION, as the digest assumes', async () => {
    await openPool('6');
    advance(1_000);
    const response = await call('POST', '/pools/6/open');
    expect(response.status).toBe(409);
    const body = (await response.json()) as ErrorBody;
    expect(body).toMatchObject({
      code: 'POOL_LOCKED_BY_ANOTHER_OPERATION',
      message: 'Operation forbidden while pool locked by another operation',
    });
    // No hint of the running operation: a client has to look it up (GET /operations).
    expect(body.payload).toBeUndefined();
  });

  it('answers a second open during a running operation with the same operation with the same-operation switch', async () => {
    emulator.setSwitches({ secondOpen: 'same-operation' });
    const first = await openPool('6');
    advance(1_000);
    const second = await openPool('6');
    expect(second.id).toBe(first.id);
    expect(second.status).toBe('RUNNING');
  });

  it('returns an operation that already succeeded in the 202 body when openDurationMs is 0', async () => {
    emulator.setPool('7', { openDurationMs: 0 });
    const created = await openPool('7');
    expect(created).toMatchObject({
      status: 'SUCCESS',
      progress: 100,
      submitted: tolokaDateAt(0),
      started: tolokaDateAt(0),
      finished: tolokaDateAt(0),
    });
    expect(emulator.getPoolState('7')?.status).toBe('OPEN');
  });

  it('answers 409 with the configured code, message and payload when told to refuse', async () => {
    emulator.setPool('8', {
      refuse: { code: 'NOT_ENOUGH_BALANCE', message: 'Top up first', payload: { required: 12.5 } },
    });
    const response = await call('POST', '/pools/8/open');
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      request_id: expect.stringMatching(UUID),
      code: 'NOT_ENOUGH_BALANCE',
      message: 'Top up first',
      payload: { required: 12.5 },
    });
  });

  it('answers 409 INAPPROPRIATE_STATUS for an archived pool', async () => {
    emulator.setPool('9', { status: 'ARCHIVED' });
    const response = await call('POST', '/pools/9/open');
    expect(response.status).toBe(409);
    const body = (await response.json()) as ErrorBody;
    expect(body.code).toBe('INAPPROPRIATE_STATUS');
    expect(body.payload).toMatchObject({ appropriate_statuses: ['CLOSED'] });
  });

  it('answers 409 for a locked pool', async () => {
    emulator.setPool('10', { status: 'LOCKED' });
    expect((await call('POST', '/pools/10/open')).status).toBe(409);
  });

  it('writes dates in UTC without a zone suffix', async () => {
    emulator.setPool('11', { openDurationMs: 0 });
    const created = await openPool('11');
    for (const date of [created.submitted, created.started, created.finished])
      expect(date).toMatch(TOLOKA_DATE);
    const pool = (await json<Record<string, string>>('GET', '/pools/11')).body;
    for (const field of ['created', 'last_started', 'will_expire']) expect(pool[field]).toMatch(TOLOKA_DATE);
  });

  it('answers 404 DOES_NOT_EXIST for a pool ID that is not a number', async () => {
    const response = await call('POST', '/pools/abc/open');
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).code).toBe('DOES_NOT_EXIST');
  });

  it('answers 404 for a pool or training nobody created, and for a training opened as a pool', async () => {
    const strict = new TolokaEmulator({ pools: { '1': {} }, trainings: { '7': {} } });
    const base = await strict.start();
    try {
      expect((await call('POST', '/pools/2/open', { base })).status).toBe(404);
      expect((await call('GET', '/pools/2', { base })).status).toBe(404);
      expect((await call('POST', '/pools/7/open', { base })).status).toBe(404);
      expect((await call('POST', '/trainings/1/open', { base })).status).toBe(404);
      expect((await call('POST', '/pools/1/open', { base })).status).toBe(202);
      expect((await call('POST', '/trainings/7/open', { base })).status).toBe(202);
    } finally {
      await strict.stop();
    }
  });

  it('creates unknown pools on first use with the autoCreatePools switch', async () => {
    const lax = new TolokaEmulator({ switches: { autoCreatePools: true } });
    const base = await lax.start();
    try {
      expect((await call('POST', '/pools/2/open', { base })).status).toBe(202);
      expect((await call('POST', '/pools/abc/open', { base })).status).toBe(404);
    } finally {
      await lax.stop();
    }
  });
});

describe('pools', () => {
  it('describes a pool with the fields toloka-kit needs to parse it', async () => {
    emulator.setPool('20', { status: 'CLOSED', lastCloseReason: 'EXPIRED' });
    const { status, body } = await json<Record<string, unknown>>('GET', '/pools/20');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: '20',
      project_id: expect.any(String),
      private_name: expect.any(String),
      may_contain_adult_content: false,
      will_expire: expect.stringMatching(TOLOKA_DATE),
      reward_per_assignment: expect.any(Number),
      assignment_max_duration_seconds: expect.any(Number),
      auto_accept_solutions: expect.any(Boolean),
      defaults: { default_overlap_for_new_task_suites: 1, default_overlap_for_new_tasks: 1 },
      mixer_config: { real_tasks_count: 1, golden_tasks_count: 0, training_tasks_count: 0 },
      status: 'CLOSED',
      last_close_reason: 'EXPIRED',
      created: tolokaDateAt(0),
    });
    expect(body).not.toHaveProperty('last_started');
  });

  it('omits last_close_reason while the pool is open', async () => {
    emulator.setPool('21', { status: 'OPEN', lastCloseReason: 'MANUAL' });
    expect((await json<Record<string, unknown>>('GET', '/pools/21')).body).not.toHaveProperty(
      'last_close_reason',
    );
  });

  it('closes an open pool through a POOL.CLOSE operation', async () => {
    emulator.setPool('22', { status: 'OPEN' });
    const { status, body } = await json<Operation>('POST', '/pools/22/close');
    expect(status).toBe(202);
    expect(body).toMatchObject({ type: 'POOL.CLOSE', parameters: { pool_id: '22' } });
    advance(100);
    expect((await getOperation(body.id)).status).toBe('SUCCESS');
    expect((await json<Record<string, unknown>>('GET', '/pools/22')).body).toMatchObject({
      status: 'CLOSED',
      last_close_reason: 'MANUAL',
      last_stopped: tolokaDateAt(100),
    });
  });

  it('answers 204 to closing a pool that is already closed', async () => {
    expect((await call('POST', '/pools/23/close')).status).toBe(204);
  });

  it('follows closeDurationMs, and a close that ends in FAIL (closeResult) leaves the pool open', async () => {
    emulator.setPool('25', { status: 'OPEN', closeDurationMs: 2_000, closeResult: 'FAIL' });
    const { body } = await json<Operation>('POST', '/pools/25/close');
    advance(1_000);
    expect((await getOperation(body.id)).status).toBe('RUNNING');
    advance(1_000);
    expect((await getOperation(body.id)).status).toBe('FAIL');
    expect((await json<Record<string, unknown>>('GET', '/pools/25')).body).toMatchObject({ status: 'OPEN' });
  });

  it('answers 409 with the configured error to a close it is told to refuse (refuseClose), opens unaffected', async () => {
    emulator.setPool('26', { status: 'OPEN', refuseClose: { code: 'CONFLICT_STATE', message: 'not now' } });
    const response = await call('POST', '/pools/26/close');
    expect(response.status).toBe(409);
    expect((await response.json()) as ErrorBody).toMatchObject({
      code: 'CONFLICT_STATE',
      message: 'not now',
    });
    expect((await call('POST', '/pools/26/open')).status).toBe(204);
  });

  it('answers 409 POOL_LOCKED_BY_ANOTHER_OPERATION to closing while an open runs', async () => {
    await openPool('24');
    const response = await call('POST', '/pools/24/close');
    expect(response.status).toBe(409);
    expect(((await response.json()) as ErrorBody).code).toBe('POOL_LOCKED_BY_ANOTHER_OPERATION');
  });
});

describe('operations', () => {
  it('answers 404 DOES_NOT_EXIST for an unknown operation', async () => {
    const response = await call('GET', '/operations/no-such-operation');
    expect(response.status).toBe(404);
    const body = (await response.json()) as ErrorBody;
    expect(body.code).toBe('DOES_NOT_EXIST');
    expect(body.request_id).toMatch(UUID);
  });

  it('keeps the log empty until the operation ends, then lists one item', async () => {
    emulator.setPool('30', { openDurationMs: 1_000, result: 'FAIL' });
    const created = await openPool('30');
    expect((await json<unknown[]>('GET', `/operations/${created.id}/log`)).body).toEqual([]);
    advance(1_000);
    const log = await json<Array<Record<string, unknown>>>('GET', `/operations/${created.id}/log`);
    expect(log.status).toBe(200);
    expect(log.body).toEqual([
      expect.objectContaining({ type: 'POOL_OPEN', success: false, input: { pool_id: '30' } }),
    ]);
  });

  it('answers 404 for the log of an unknown operation', async () => {
    expect((await call('GET', '/operations/nope/log')).status).toBe(404);
  });

  it('gives tests the operation without going through HTTP', async () => {
    const created = await openPool('31');
    expect(emulator.getOperation(created.id)).toEqual(created);
    expect(emulator.getOperation('unknown')).toBeUndefined();
  });
});

describe('trainings', () => {
  it('opens a training through a TRAINING.OPEN operation', async () => {
    emulator.setTraining('40', { openDurationMs: 1_000 });
    const { status, body } = await json<Operation>('POST', '/trainings/40/open');
    expect(status).toBe(202);
    expect(body).toMatchObject({
      type: 'TRAINING.OPEN',
      status: 'PENDING',
      parameters: { training_id: '40' },
    });
    advance(1_000);
    expect((await getOperation(body.id)).status).toBe('SUCCESS');
    const training = await json<Record<string, unknown>>('GET', '/trainings/40');
    expect(training.body).toMatchObject({
      id: '40',
      status: 'OPEN',
      last_started: tolokaDateAt(1000),
    });
    expect(emulator.getTrainingState('40')?.status).toBe('OPEN');
    expect(emulator.getPoolState('40')).toBeUndefined();
  });

  it('keeps trainings and pools with the same ID apart', async () => {
    emulator.setTraining('41', { status: 'OPEN' });
    expect((await call('POST', '/trainings/41/open')).status).toBe(204);
    expect((await call('POST', '/pools/41/open')).status).toBe(202);
  });

  it('refuses to open a training when told to', async () => {
    emulator.setTraining('42', { refuse: { code: 'EMPTY_POOL' } });
    const response = await call('POST', '/trainings/42/open');
    expect(response.status).toBe(409);
    expect(((await response.json()) as ErrorBody).code).toBe('EMPTY_POOL');
  });
});

describe('routing', () => {
  it('answers 404 DOES_NOT_EXIST for an unknown route', async () => {
    const response = await call('GET', '/projects/1');
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).code).toBe('DOES_NOT_EXIST');
  });

  it('answers 404 for path segments that only exist on Object.prototype', async () => {
    expect((await call('GET', '/pools/1/constructor')).status).toBe(404);
    expect((await call('GET', '/pools/1/__proto__')).status).toBe(404);
  });

  it('answers 405 with an Allow header for a wrong method', async () => {
    const response = await call('GET', '/pools/1/open');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(((await response.json()) as ErrorBody).request_id).toMatch(UUID);
  });

  it('serves several requests over one keep-alive connection', async () => {
    const responses = await Promise.all([call('GET', '/pools/1'), call('GET', '/pools/2')]);
    for (const response of responses) expect(response.status).toBe(200);
    await Promise.all(responses.map((response) => response.text()));
    expect((await call('GET', '/pools/3')).status).toBe(200);
  });
});

describe('rate limit', () => {
  it('answers 429 TOO_MANY_REQUESTS beyond the limit within one second, then recovers', async () => {
    let now = START;
    const limited = new TolokaEmulator({ rateLimitPerSecond: 3, now: () => now, pools: { '1': {} } });
    const base = await limited.start();
    try {
      for (let i = 0; i < 3; i += 1) expect((await call('GET', '/pools/1', { base })).status).toBe(200);
      const refused = await call('GET', '/pools/1', { base });
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as ErrorBody).code).toBe('TOO_MANY_REQUESTS');
      now += 1_000;
      expect((await call('GET', '/pools/1', { base })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
