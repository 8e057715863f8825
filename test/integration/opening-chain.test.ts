import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

let harness: Harness;

afterEach(async () => {
  await harness.stop();
});

describe('an opening from a trigger message to its outcome, over HTTP against the emulator', () => {
  it('reports OPENED after following the operation through delayed checks', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1001', { openDurationMs: 1_500 });
    const outcomes = await harness.trigger('{"poolId": "1001"}');
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '1001' })]);
    expect(outcomes[0]?.operationId).toMatch(/[0-9a-f-]{36}/);
    expect(harness.emulator.getPoolState('1001')?.status).toBe('OPEN');
    expect(harness.operationChecks()).toBeGreaterThanOrEqual(1);
    expect(
      harness.app.checkQueue.sent.every(({ delaySeconds }) => delaySeconds >= 1 && delaySeconds <= 900),
    ).toBe(true);
  });

  it('confirms a quick opening in the opener itself, with no check message', async () => {
    harness = await new Harness().start({ poll: { fastPathSeconds: 20 } });
    harness.emulator.setPool('1010', { openDurationMs: 2_000 });
    const [record] = await harness.trigger('{"poolId": "1010"}');
    expect(record).toMatchObject({ outcome: 'OPENED', poolId: '1010' });
    expect(record?.checks).toBe(harness.operationChecks());
    expect(record?.elapsedMs).toBeLessThan(3_600);
    expect(harness.app.checkQueue.sent).toEqual([]);
  });

  it('returns OPENED to a direct invocation when the fast path confirms the opening', async () => {
    harness = await new Harness().start({ poll: { fastPathSeconds: 20 } });
    harness.emulator.setPool('1015', { openDurationMs: 1_000 });
    expect(await harness.app.opener({ poolId: '1015' })).toMatchObject({ outcome: 'OPENED', poolId: '1015' });
  });

  it('hands a slow opening over to the check queue when the fast path runs out', async () => {
    harness = await new Harness().start({ poll: { fastPathSeconds: 2 } });
    harness.emulator.setPool('1016', { openDurationMs: 4_000 });
    const [record] = await harness.trigger('{"poolId": "1016"}');
    expect(record).toMatchObject({ outcome: 'OPENED', poolId: '1016' });
    expect(harness.app.checkQueue.sent.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(harness.app.checkQueue.sent[0]?.body ?? '{}')).toMatchObject({ attempt: 3 });
  });

  it('reports OPENED for a direct invocation, as EventBridge Scheduler makes it', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1002', { openDurationMs: 1_000 });
    const result = await harness.app.opener({ poolId: '1002' });
    expect(result).toMatchObject({ outcome: 'PENDING' });
    await harness.app.settled();
    expect(harness.app.outcomes).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '1002' })]);
  });

  it('reports OPENED with one request and no check when the operation is done in the 202 body', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1003', { openDurationMs: 0 });
    const outcomes = await harness.trigger('{"poolId": 1003}');
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'OPENED', checks: 0 })]);
    expect(harness.emulator.requests).toHaveLength(1);
    expect(harness.app.checkQueue.sent).toEqual([]);
  });

  it('reports ALREADY_OPEN when Toloka answers 204', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1004', { status: 'OPEN' });
    expect(await harness.trigger('{"poolId": "1004"}')).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_OPEN', poolId: '1004' }),
    ]);
    expect(harness.app.checkQueue.sent).toEqual([]);
  });

  it("reports FAILED with Toloka's code and request_id when the opening is refused with 409", async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1005', {
      refuse: { code: 'NOT_ENOUGH_BALANCE', message: 'Top up your account' },
    });
    const [record] = await harness.trigger('{"poolId": "1005"}');
    expect(record).toMatchObject({
      outcome: 'FAILED',
      code: 'NOT_ENOUGH_BALANCE',
      message: 'Top up your account',
    });
    expect(record?.request_id).toMatch(/\S+/);
    expect(harness.emulator.countRequests('POST')).toBe(1);
  });

  it('reports FAILED with the operation status when the operation ends in FAIL', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('1006', { openDurationMs: 800, result: 'FAIL' });
    expect(await harness.trigger('{"poolId": "1006"}')).toEqual([
      expect.objectContaining({ outcome: 'FAILED', status: 'FAIL', code: 'OPERATION_FAILED' }),
    ]);
  });

  it('reports TIMED_OUT when the operation is still running at the deadline', async () => {
    harness = await new Harness().start({
      poll: { fastPathSeconds: 0, minDelaySeconds: 1, backoffFactor: 1, deadlineSeconds: 2 },
    });
    harness.emulator.setPool('1007', { openDurationMs: 60_000 });
    const [record] = await harness.trigger('{"poolId": "1007"}');
    expect(record).toMatchObject({ outcome: 'TIMED_OUT', status: 'RUNNING' });
    expect(harness.operationChecks()).toBeLessThanOrEqual(3);
  });

  it('reuses one connection for the requests of consecutive openings', async () => {
    harness = await new Harness().start();
    for (const id of ['1011', '1012', '1013', '1014']) harness.emulator.setPool(id, { status: 'OPEN' });
    for (const id of ['1011', '1012', '1013', '1014']) await harness.trigger(`{"poolId": "${id}"}`);
    expect(harness.app.outcomes).toHaveLength(4);
    expect(harness.emulator.requests).toHaveLength(4);
    expect(harness.emulator.connectionsAccepted).toBe(1);
  });

  it('opens a training pool from a trainingId trigger', async () => {
    harness = await new Harness().start();
    harness.emulator.setTraining('77', { openDurationMs: 0 });
    expect(await harness.trigger('{"trainingId": "77"}')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', trainingId: '77' }),
    ]);
  });
});

describe('transient failures', () => {
  it.each([
    ['503', { kind: 'status', status: 503 }],
    ['500', { kind: 'status', status: 500 }],
    ['a connection reset', { kind: 'reset' }],
    ['a 202 with malformed JSON', { kind: 'malformed', status: 202 }],
  ] as const)('retries the opening after %s and still reports OPENED', async (_, fault) => {
    harness = await new Harness().start();
    harness.emulator.setPool('2001', { openDurationMs: 0 });
    harness.emulator.injectFault({ ...fault, method: 'POST', path: '/pools/2001/open', times: 2 });
    expect(await harness.trigger('{"poolId": "2001"}')).toEqual([
      expect.objectContaining({ outcome: 'OPENED' }),
    ]);
    expect(harness.emulator.countRequests('POST', '/pools/2001/open')).toBe(3);
  });

  it('reports ALREADY_OPEN when an opening that timed out had in fact opened the pool', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('2005', { openDurationMs: 0 });
    // The emulator acts on the request but answers after the client's 1 s time-out.
    harness.emulator.injectFault({ kind: 'delay', delayMs: 1_500, method: 'POST', path: '/pools/2005/open' });
    expect(await harness.trigger('{"poolId": "2005"}')).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_OPEN' }),
    ]);
    expect(harness.emulator.countRequests('POST', '/pools/2005/open')).toBe(2);
    expect(harness.log.entries).toContainEqual(
      expect.objectContaining({
        message: 'Toloka call failed, retrying',
        attributes: expect.objectContaining({ error: expect.objectContaining({ code: 'TIMEOUT' }) }),
      }),
    );
  });

  it('waits as long as Retry-After says after a 429', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('2002', { status: 'OPEN' });
    harness.emulator.injectFault({
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': '1' },
      path: '/pools/2002/open',
    });
    const started = Date.now();
    expect(await harness.trigger('{"poolId": "2002"}')).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_OPEN' }),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('retries a failing status check and still reports OPENED', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('2003', { openDurationMs: 500 });
    harness.emulator.injectFault({
      kind: 'status',
      status: 502,
      method: 'GET',
      path: /^\/operations\//,
      times: 2,
    });
    expect(await harness.trigger('{"poolId": "2003"}')).toEqual([
      expect.objectContaining({ outcome: 'OPENED' }),
    ]);
  });

  it('sends a trigger that keeps failing to the dead-letter queue after maxReceiveCount, reporting nothing', async () => {
    harness = await new Harness().start({
      maxReceiveCount: 3,
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    });
    harness.emulator.injectFault({
      kind: 'status',
      status: 503,
      path: '/pools/2004/open',
      times: Number.POSITIVE_INFINITY,
    });
    expect(await harness.trigger('{"poolId": "2004"}')).toEqual([]);
    expect(harness.app.triggerQueue.deadLetters).toEqual([
      expect.objectContaining({ body: '{"poolId": "2004"}' }),
    ]);
    // Two attempts per receive, three receives: bounded.
    expect(harness.emulator.countRequests('POST', '/pools/2004/open')).toBe(6);
  });
});

describe('bad messages', () => {
  it('reports each bad message once, names the field, and lets the good one through', async () => {
    harness = await new Harness().start();
    harness.emulator.setPool('3001', { openDurationMs: 0 });
    const outcomes = await harness.trigger(
      'not json',
      '{"poolId": "1/close"}',
      '{"poolId": "3001"}',
      '{"pool": 1}',
    );
    expect(outcomes).toHaveLength(4);
    expect(
      outcomes
        .filter((record) => record.code === 'INVALID_MESSAGE')
        .map((record) => record.field)
        .sort(),
    ).toEqual(['body', 'pool', 'poolId']);
    expect(outcomes).toContainEqual(expect.objectContaining({ outcome: 'OPENED', poolId: '3001' }));
    expect(harness.emulator.requests.map((request) => request.path)).toEqual(['/pools/3001/open']);
    expect(harness.app.triggerQueue.deadLetters).toEqual([]);
  });
});
