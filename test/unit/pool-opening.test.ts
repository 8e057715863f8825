import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import {
  CheckQueueError,
  RetriesExhaustedError,
  TokenUnavailableError,
  TolokaApiError,
  TolokaNetworkError,
  TolokaProtocolError,
} from '../../lambda/runtime/errors.ts';
import type { CheckMessage } from '../../lambda/runtime/messages.ts';
import type { TolokaOperation } from '../../lambda/runtime/model.ts';
import { checkOperation } from '../../lambda/runtime/operation-check.ts';
import { runAction } from '../../lambda/runtime/target-action.ts';
import { fakeDependencies, ScriptedToloka } from '../support/fakes.ts';
import { datedFixtureJson, fixtureJson } from '../support/fixtures.ts';
import { seedFollowing } from '../support/ledger-seed.ts';

const pending = datedFixtureJson<TolokaOperation>('toloka/operation-pending.json');
const running = datedFixtureJson<TolokaOperation>('toloka/operation-running.json');
const success = datedFixtureJson<TolokaOperation>('toloka/operation-success.json');
const fail = datedFixtureJson<TolokaOperation>('toloka/operation-fail.json');
const conflictBody = fixtureJson<TolokaApiError['body']>('toloka/error-409-inappropriate-status.json');
const pool = { kind: 'pool' as const, id: '21' };
const budget = { budgetMs: 30_000 };
let triggers = 0;
/** A new trigger of `target` (pool 21 unless told otherwise). */
const trigger = (target: { kind: 'pool' | 'training'; id: string } = pool) => ({
  id: `trigger-${++triggers}`,
  target,
});

describe('runAction', () => {
  it('enqueues a delayed first check when Toloka answers 202 with a pending operation', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: pending }]));
    const result = await runAction(deps, trigger(), budget);
    expect(result).toEqual({ kind: 'following', operationId: pending.id, nextCheckInSeconds: 1 });
    expect(deps.checks.sent).toHaveLength(1);
    expect(deps.checks.sent[0]).toMatchObject({
      delaySeconds: 1,
      message: {
        version: 2,
        target: pool,
        operationId: pending.id,
        attempt: 1,
        deadline: '2026-11-28T13:00:00.000Z',
      },
    });
    expect(deps.outcomes.records).toEqual([]);
  });

  it('reports ALREADY_OPEN when Toloka answers 204', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'already-done' }]));
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_OPEN', poolId: '21' }),
    ]);
    expect(deps.checks.sent).toEqual([]);
  });

  it('reports OPENED without a check message when the 202 body is already SUCCESS', async () => {
    const toloka = new ScriptedToloka([{ kind: 'operation', operation: success }]);
    const deps = fakeDependencies(toloka);
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'OPENED', poolId: '21', operationId: success.id, checks: 0 }),
    ]);
    expect(deps.checks.sent).toEqual([]);
    expect(toloka.calls).toHaveLength(1);
  });

  it('reports FAILED without a check message when the 202 body is already FAIL', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: fail }]));
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        operationId: fail.id,
        status: 'FAIL',
        code: 'OPERATION_FAILED',
      }),
    ]);
    expect(deps.checks.sent).toEqual([]);
  });

  it("reports FAILED with Toloka's code, message and request_id when Toloka answers 409", async () => {
    const toloka = new ScriptedToloka([new TolokaApiError(409, conflictBody)]);
    const deps = fakeDependencies(toloka);
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        poolId: '21',
        code: 'INAPPROPRIATE_STATUS',
        message: conflictBody.message,
        request_id: conflictBody.request_id,
        httpStatus: 409,
        payload: { appropriate_statuses: ['OPEN', 'CLOSED'] },
      }),
    ]);
    expect(toloka.calls).toHaveLength(1);
  });

  it.each([400, 401, 403, 404])(
    'reports FAILED at once, without retrying, when Toloka answers %i',
    async (status) => {
      const toloka = new ScriptedToloka([
        new TolokaApiError(status, { code: `CODE_${status}`, request_id: 'r-1' }),
      ]);
      const deps = fakeDependencies(toloka);
      await runAction(deps, trigger(), budget);
      expect(deps.outcomes.records).toEqual([
        expect.objectContaining({
          outcome: 'FAILED',
          code: `CODE_${status}`,
          httpStatus: status,
          request_id: 'r-1',
        }),
      ]);
      expect(toloka.calls).toHaveLength(1);
    },
  );

  it('falls back to the HTTP status when a 4xx error has an empty body', async () => {
    const deps = fakeDependencies(new ScriptedToloka([new TolokaApiError(403, {})]));
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records[0]).toMatchObject({
      outcome: 'FAILED',
      code: 'HTTP_403',
      message: 'Toloka answered HTTP 403',
    });
  });

  it.each([
    ['503', () => new TolokaApiError(503, { code: 'REMOTE_SERVICE_UNAVAILABLE' })],
    ['500', () => new TolokaApiError(500, { code: 'INTERNAL_ERROR' })],
    ['408', () => new TolokaApiError(408, {})],
    ['429', () => new TolokaApiError(429, { code: 'TOO_MANY_REQUESTS' })],
    [
      'a reset connection',
      () => new TolokaNetworkError('reset', { cause: new Error('ECONNRESET'), timedOut: false }),
    ],
    ['a time-out', () => new TolokaNetworkError('slow', { cause: new Error('timeout'), timedOut: true })],
    ['a malformed 2xx', () => new TolokaProtocolError('operation body is not JSON')],
  ])('retries %s and carries on when Toloka recovers', async (_, transient) => {
    const toloka = new ScriptedToloka([transient(), transient(), { kind: 'already-done' }]);
    const deps = fakeDependencies(toloka);
    await runAction(deps, trigger(), budget);
    expect(toloka.calls).toHaveLength(3);
    expect(deps.outcomes.records).toEqual([expect.objectContaining({ outcome: 'ALREADY_OPEN' })]);
    expect(deps.log.entries.filter((entry) => entry.message === 'Toloka call failed, retrying')).toHaveLength(
      2,
    );
  });

  it('throws, reporting nothing, when transient failures outlast the attempts', async () => {
    const unavailable = () => new TolokaApiError(503, {});
    const toloka = new ScriptedToloka([unavailable(), unavailable(), unavailable(), unavailable()]);
    const deps = fakeDependencies(toloka);
    await expect(runAction(deps, trigger(), budget)).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(toloka.calls).toHaveLength(4);
    expect(deps.outcomes.records).toEqual([]);
  });

  it('waits as long as Retry-After asks before trying again', async () => {
    const toloka = new ScriptedToloka([new TolokaApiError(429, {}, 3_000), { kind: 'already-done' }]);
    const deps = fakeDependencies(toloka);
    await runAction(deps, trigger(), budget);
    expect(deps.clock.sleeps).toEqual([3_000]);
  });

  it('throws when the token cannot be read, before calling Toloka', async () => {
    const toloka = new ScriptedToloka([]);
    const deps = fakeDependencies(toloka, {
      tokens: { getToken: () => Promise.reject(new TokenUnavailableError('throttled')) },
    });
    await expect(runAction(deps, trigger(), budget)).rejects.toBeInstanceOf(TokenUnavailableError);
    expect(toloka.calls).toEqual([]);
  });

  it('throws when the check cannot be enqueued, so that the trigger is retried', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: pending }]));
    deps.checks.failWith = new CheckQueueError('SQS down');
    await expect(runAction(deps, trigger(), budget)).rejects.toBeInstanceOf(CheckQueueError);
    expect(deps.outcomes.records).toEqual([]);
  });

  it('sends the stored credential with the scheme chosen for it', async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }]);
    await runAction(fakeDependencies(toloka), trigger(), budget);
    expect(toloka.calls[0]?.authorization).toBe('OAuth test-oauth-token');
  });

  it('names a training by trainingId in its outcome', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'already-done' }]));
    await runAction(deps, trigger({ kind: 'training', id: '9' }), budget);
    expect(deps.outcomes.records[0]).toMatchObject({ outcome: 'ALREADY_OPEN', trainingId: '9' });
    expect(deps.outcomes.records[0]).not.toHaveProperty('poolId');
  });
});

describe('runAction on the fast path', () => {
  const fastPath = { poll: { ...DEFAULT_POLL, fastPathSeconds: 20 } };

  it('confirms a quick operation itself, with no check message', async () => {
    const toloka = new ScriptedToloka([{ kind: 'operation', operation: pending }], [running, success]);
    const deps = fakeDependencies(toloka, fastPath);
    const result = await runAction(deps, trigger(), budget);
    expect(result).toMatchObject({
      kind: 'finished',
      record: { outcome: 'OPENED', checks: 2, elapsedMs: 1_500 },
    });
    expect(deps.clock.sleeps).toEqual([500, 1_000]);
    expect(deps.checks.sent).toEqual([]);
  });

  it('reports FAILED when the operation fails while the opener follows it', async () => {
    const deps = fakeDependencies(
      new ScriptedToloka([{ kind: 'operation', operation: pending }], [fail]),
      fastPath,
    );
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'FAILED', status: 'FAIL', checks: 1 }),
    ]);
  });

  it('hands over to the check queue when its time is up, counting the checks made', async () => {
    const toloka = new ScriptedToloka([{ kind: 'operation', operation: pending }], [running, running]);
    const deps = fakeDependencies(toloka, { poll: { ...DEFAULT_POLL, fastPathSeconds: 2 } });
    const result = await runAction(deps, trigger(), budget);
    expect(result).toEqual({ kind: 'following', operationId: pending.id, nextCheckInSeconds: 1 });
    expect(deps.checks.sent).toEqual([{ message: expect.objectContaining({ attempt: 3 }), delaySeconds: 1 }]);
    expect(deps.outcomes.records).toEqual([]);
  });

  it('hands over at once when its instance is over its share of the request budget, and follows on otherwise', async () => {
    let overBudget = true;
    const crowded = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: pending }], []), {
      ...fastPath,
      overBudget: () => overBudget,
    });
    const result = await runAction(crowded, trigger(), budget);
    // No check of its own: the first one, due 0.5 s after the request, goes to the check queue
    // (SQS's whole seconds: one).
    expect(result).toEqual({ kind: 'following', operationId: pending.id, nextCheckInSeconds: 1 });
    expect(crowded.clock.sleeps).toEqual([]);
    expect(crowded.checks.sent).toEqual([
      { message: expect.objectContaining({ attempt: 1 }), delaySeconds: 1 },
    ]);

    overBudget = false;
    const quiet = fakeDependencies(
      new ScriptedToloka([{ kind: 'operation', operation: pending }], [success]),
      {
        ...fastPath,
        overBudget: () => overBudget,
      },
    );
    expect(await runAction(quiet, trigger(), budget)).toMatchObject({ kind: 'finished' });
    expect(quiet.checks.sent).toEqual([]);
  });

  it('reports TIMED_OUT at the deadline when the deadline comes before the end of the fast path', async () => {
    const toloka = new ScriptedToloka(
      [{ kind: 'operation', operation: pending }],
      Array.from({ length: 10 }, () => running),
    );
    const deps = fakeDependencies(toloka, {
      poll: { ...DEFAULT_POLL, fastPathSeconds: 20, deadlineSeconds: 5 },
    });
    const result = await runAction(deps, trigger(), budget);
    expect(result).toMatchObject({
      kind: 'finished',
      record: { outcome: 'TIMED_OUT', code: 'DEADLINE_EXCEEDED', status: 'RUNNING', elapsedMs: 5_000 },
    });
    // Checks on the usual schedule, the last one at the deadline itself, and none after it.
    expect(deps.clock.sleeps).toEqual([500, 1_000, 1_000, 1_000, 1_000, 500]);
    expect(deps.checks.sent).toEqual([]);
    expect(deps.outcomes.records).toHaveLength(1);
  });

  it('stays within the time the Lambda invocation has left', async () => {
    const toloka = new ScriptedToloka([{ kind: 'operation', operation: pending }], [running]);
    const deps = fakeDependencies(toloka, fastPath);
    await runAction(deps, trigger(), { budgetMs: 1_200 });
    expect(deps.clock.sleeps).toEqual([500]);
    expect(deps.checks.sent).toHaveLength(1);
  });

  it('hands over, rather than failing the trigger, when a check meets a transient error', async () => {
    const down = () => new TolokaApiError(503, {});
    const toloka = new ScriptedToloka(
      [{ kind: 'operation', operation: pending }],
      [down(), down(), down(), down()],
    );
    const deps = fakeDependencies(toloka, fastPath);
    const result = await runAction(deps, trigger(), budget);
    expect(result.kind).toBe('following');
    expect(deps.checks.sent).toEqual([
      { message: expect.objectContaining({ attempt: 2 }), delaySeconds: expect.any(Number) },
    ]);
    expect(deps.outcomes.records).toEqual([]);
  });

  it('reports FAILED at once when a check meets a permanent error', async () => {
    const gone = new TolokaApiError(404, { code: 'DOES_NOT_EXIST', request_id: 'r-9' });
    const deps = fakeDependencies(
      new ScriptedToloka([{ kind: 'operation', operation: pending }], [gone]),
      fastPath,
    );
    await runAction(deps, trigger(), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        code: 'DOES_NOT_EXIST',
        operationId: pending.id,
        checks: 1,
      }),
    ]);
    expect(deps.checks.sent).toEqual([]);
  });
});

describe('checkOperation', () => {
  const firstCheck: CheckMessage = {
    version: 2,
    target: pool,
    openingId: 'set-by-seed',
    checkToken: 'set-by-seed',
    operationId: running.id,
    requestedAt: '2026-11-28T11:59:58.000Z',
    deadline: '2026-11-28T13:00:00.000Z',
    attempt: 1,
  };

  /** The message, for an opening the ledger follows with it as its live check. */
  async function seed(
    deps: ReturnType<typeof fakeDependencies>,
    message: CheckMessage,
  ): Promise<CheckMessage> {
    const { opening } = await deps.ledger.claim({
      triggerId: `seed-${++triggers}`,
      target: message.target,
      nowMs: Date.parse(message.requestedAt),
      deadlineMs: Date.parse(message.deadline),
      leaseMs: 60_000,
    });
    await seedFollowing(
      deps.ledger,
      opening.openingId,
      message.operationId ?? '',
      'live-token',
      message.attempt - 1,
    );
    return { ...message, openingId: opening.openingId, checkToken: 'live-token' };
  }

  it('reports OPENED when the operation has succeeded', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [success]));
    await checkOperation(deps, await seed(deps, firstCheck), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'OPENED',
        poolId: '21',
        operationId: success.id,
        checks: 1,
        elapsedMs: 2_000,
      }),
    ]);
    expect(deps.checks.sent).toEqual([]);
  });

  it('reports FAILED with the operation status when the operation has failed', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [fail]));
    await checkOperation(deps, await seed(deps, firstCheck), budget);
    expect(deps.outcomes.records[0]).toMatchObject({
      outcome: 'FAILED',
      status: 'FAIL',
      operationId: fail.id,
    });
  });

  it('enqueues the next check at the next instant of the schedule while the operation runs', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [running]));
    const requestedAt = new Date(deps.clock.nowMs - 40_000).toISOString();
    await checkOperation(deps, await seed(deps, { ...firstCheck, requestedAt, attempt: 15 }), budget);
    // The schedule's instants around 40 s: 34.1, 40.9, 49.0 s. 40.9 is closer than half a spacing.
    expect(deps.checks.sent).toEqual([
      {
        message: expect.objectContaining({ operationId: running.id, requestedAt, attempt: 16 }),
        delaySeconds: 9,
      },
    ]);
    expect(deps.outcomes.records).toEqual([]);
  });

  it('schedules the last check on the deadline', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [running]));
    const deadline = new Date(deps.clock.nowMs + 5_000).toISOString();
    const requestedAt = new Date(deps.clock.nowMs - 3_595_000).toISOString();
    await checkOperation(
      deps,
      await seed(deps, { ...firstCheck, requestedAt, attempt: 12, deadline }),
      budget,
    );
    expect(deps.checks.sent[0]?.delaySeconds).toBe(5);
  });

  it('reports TIMED_OUT when the operation is unfinished at the deadline', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [running]));
    const deadline = new Date(deps.clock.nowMs).toISOString();
    await checkOperation(deps, await seed(deps, { ...firstCheck, attempt: 9, deadline }), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'TIMED_OUT',
        operationId: running.id,
        status: 'RUNNING',
        progress: 40,
        checks: 9,
      }),
    ]);
    expect(deps.checks.sent).toEqual([]);
  });

  it('reports FAILED when Toloka no longer knows the operation', async () => {
    const deps = fakeDependencies(
      new ScriptedToloka([], [new TolokaApiError(404, { code: 'DOES_NOT_EXIST' })]),
    );
    await checkOperation(deps, await seed(deps, firstCheck), budget);
    expect(deps.outcomes.records[0]).toMatchObject({
      outcome: 'FAILED',
      code: 'DOES_NOT_EXIST',
      operationId: running.id,
    });
  });

  it('throws, so the check is redelivered, when Toloka stays unavailable', async () => {
    const down = () => new TolokaApiError(502, {});
    const deps = fakeDependencies(new ScriptedToloka([], [down(), down(), down(), down()]));
    await expect(checkOperation(deps, await seed(deps, firstCheck), budget)).rejects.toBeInstanceOf(
      RetriesExhaustedError,
    );
    expect(deps.outcomes.records).toEqual([]);
  });
});
