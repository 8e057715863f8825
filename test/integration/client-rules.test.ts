import { afterEach, describe, expect, it } from 'vitest';
import { StaticTokenSource } from '../../lambda/adapters/token-sources.ts';
import { Harness, TEST_TOKEN } from '../support/harness.ts';

// The client as Toloka's specification and both official SDKs read it, through the real
// handlers and HTTP against the emulator and its switches.

let harness: Harness;

afterEach(async () => {
  await harness.stop();
});

describe('the client against what real operations may look like', () => {
  it('goes on checking an operation in a status it does not know, until SUCCESS, with no dead letter', async () => {
    harness = await new Harness().start({
      poll: { fastPathSeconds: 0, minDelaySeconds: 1, backoffFactor: 1 },
    });
    harness.emulator.setSwitches({ unknownStatus: 'QUEUED' });
    harness.emulator.setPool('3001', { openDurationMs: 2_500, pendingMs: 1_500 });
    const outcomes = await harness.trigger('{"poolId": "3001"}');
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '3001' })]);
    expect(harness.app.triggerQueue.deadLetters).toEqual([]);
    expect(harness.app.checkQueue.deadLetters).toEqual([]);
    // The first check saw QUEUED and was not the last.
    expect(harness.operationChecks()).toBeGreaterThanOrEqual(2);
  });

  it('reports TIMED_OUT, not a dead letter, when the unknown status lasts past the deadline', async () => {
    harness = await new Harness().start({
      poll: { fastPathSeconds: 0, minDelaySeconds: 1, backoffFactor: 1, deadlineSeconds: 2 },
    });
    harness.emulator.setSwitches({ unknownStatus: 'QUEUED' });
    harness.emulator.setPool('3002', { openDurationMs: 600_000, pendingMs: 600_000 });
    const outcomes = await harness.trigger('{"poolId": "3002"}');
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'TIMED_OUT', status: 'QUEUED' })]);
    expect(harness.app.checkQueue.deadLetters).toEqual([]);
  });

  it.each([
    { operationProgress: false, operationDetails: false },
    { dateFractionDigits: 0 as const },
    { dateFractionDigits: 6 as const },
    { operationIds: 'hex24' as const },
  ])('opens a pool whose operations look like %j', async (switches) => {
    harness = await new Harness().start({ poll: { fastPathSeconds: 5 } });
    harness.emulator.setSwitches(switches);
    harness.emulator.setPool('3003', { openDurationMs: 1_200 });
    expect(await harness.trigger('{"poolId": "3003"}')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', poolId: '3003' }),
    ]);
  });

  it('reports FAILED with a 403 as with a 401, when the emulator answers a bad token with 403', async () => {
    harness = await new Harness().start({ token: 'not-the-token' });
    harness.emulator.setSwitches({ badTokenStatus: 403 });
    harness.emulator.setPool('3004', {});
    expect(await harness.trigger('{"poolId": "3004"}')).toEqual([
      expect.objectContaining({ outcome: 'FAILED', httpStatus: 403, code: 'ACCESS_DENIED' }),
    ]);
  });

  it('reports FAILED, never OPENED, for a 202 body that is not the operation of the pool asked for', async () => {
    harness = await new Harness().start({
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      maxReceiveCount: 2,
    });
    harness.emulator.setPool('3005', {});
    const wrong = {
      id: '57068577e4b0bf7b07a0256f',
      type: 'POOL.OPEN',
      status: 'SUCCESS',
      submitted: new Date(Date.now() - 60_000).toISOString().slice(0, 19),
      parameters: { pool_id: '9999' },
    };
    harness.emulator.injectFault({
      kind: 'status',
      status: 202,
      body: wrong,
      path: '/pools/3005/open',
      times: Number.POSITIVE_INFINITY,
    });
    const outcomes = await harness.trigger('{"poolId": "3005"}');
    expect(outcomes.filter((o) => o.outcome === 'OPENED')).toEqual([]);
    // A protocol error is retried (a proxy may have mangled it), then the trigger is a dead letter.
    expect(harness.app.triggerQueue.deadLetters).toHaveLength(1);
  });
});

describe('the token', () => {
  it.each([
    ['a line break', `${TEST_TOKEN}\nX-Injected: 1`, 'it contains a line break'],
    ['a character outside Latin-1', `${TEST_TOKEN}✓`, 'it contains a character outside Latin-1'],
  ])(
    'reports FAILED naming the parameter, without a request or the token, for %s',
    async (_what, token, reason) => {
      harness = await new Harness().start({
        tokens: new StaticTokenSource(token, 'SSM parameter /toloka/api-token'),
      });
      harness.emulator.setPool('3010', {});
      const outcomes = await harness.trigger('{"poolId": "3010"}');
      expect(outcomes).toEqual([
        expect.objectContaining({
          outcome: 'FAILED',
          code: 'TOKEN_NOT_SENDABLE',
          message: `the token in SSM parameter /toloka/api-token cannot be sent in an HTTP header: ${reason}; store it again without it`,
        }),
      ]);
      expect(harness.emulator.requests).toEqual([]);
      expect(harness.app.triggerQueue.deadLetters).toEqual([]);
      expect(JSON.stringify(outcomes)).not.toContain(TEST_TOKEN);
      expect(JSON.stringify(harness.log.entries)).not.toContain(TEST_TOKEN);
    },
  );
});
