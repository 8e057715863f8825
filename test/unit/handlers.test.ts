import { describe, expect, it } from 'vitest';
import { LogOutcomeSink } from '../../lambda/adapters/outcome-sinks.ts';
import { createCheckOperationHandler } from '../../lambda/check-operation.ts';
import { createOpenPoolHandler } from '../../lambda/open-pool.ts';
import { TolokaApiError } from '../../lambda/runtime/errors.ts';
import type { TolokaOperation } from '../../lambda/runtime/model.ts';
import type { HandlerRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { isSqsEvent } from '../../lambda/wiring/sqs-batch.ts';
import { lambdaContext, sqsEvent } from '../support/events.ts';
import { fakeDependencies, ScriptedToloka } from '../support/fakes.ts';
import { datedFixtureJson } from '../support/fixtures.ts';
import { seedFollowing } from '../support/ledger-seed.ts';

const success = datedFixtureJson<TolokaOperation>('toloka/operation-success.json');

function runtimeOf(deps: ReturnType<typeof fakeDependencies>): () => HandlerRuntime {
  return () => ({ deps, requestTimeoutMs: 1_000 }) as unknown as HandlerRuntime;
}

describe('opener handler', () => {
  it('fails only the message whose opening hit a transient error, and keeps the rest of the batch', async () => {
    const down = () => new TolokaApiError(503, {});
    const deps = fakeDependencies(
      new ScriptedToloka([{ kind: 'already-done' }, down(), down(), down(), down()]),
      { retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 } },
    );
    const handler = createOpenPoolHandler(runtimeOf(deps));
    const event = sqsEvent(['{"poolId": "1"}', '{"poolId": "2"}']);
    // Records run in parallel; the script serves answers in call order, so pool 1 takes the 204.
    const response = await handler(event, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-1' }] });
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_OPEN', poolId: '1' }),
    ]);
  });

  it('reports a bad message once, naming the field, and does not return it to the queue', async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }]);
    const deps = fakeDependencies(toloka);
    const handler = createOpenPoolHandler(runtimeOf(deps));
    const response = await handler(sqsEvent(['{"poolId": "../1"}', '{"poolId": "5"}']), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(deps.outcomes.records).toContainEqual(
      expect.objectContaining({
        outcome: 'FAILED',
        code: 'INVALID_MESSAGE',
        field: 'poolId',
        messageId: 'message-0',
      }),
    );
    expect(toloka.calls.map((call) => call.id)).toEqual(['5']);
  });

  it('returns the outcome to a direct invocation such as EventBridge Scheduler', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: success }]));
    const result = await createOpenPoolHandler(runtimeOf(deps))({ poolId: '21' }, lambdaContext());
    expect(result).toMatchObject({ outcome: 'OPENED', poolId: '21', operationId: success.id });
  });

  it('returns PENDING with the operation to a direct invocation that hands over to the checker', async () => {
    const pending = datedFixtureJson<TolokaOperation>('toloka/operation-pending.json');
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'operation', operation: pending }]));
    const result = await createOpenPoolHandler(runtimeOf(deps))({ poolId: 21 }, lambdaContext());
    expect(result).toEqual({ outcome: 'PENDING', operationId: pending.id, nextCheckInSeconds: 1 });
  });

  it('answers a bad direct payload with a FAILED record and does not throw', async () => {
    const deps = fakeDependencies(new ScriptedToloka([]));
    const result = await createOpenPoolHandler(runtimeOf(deps))({ poolId: -1 }, lambdaContext());
    expect(result).toMatchObject({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'poolId' });
  });

  it('throws on a transient failure of a direct invocation, so Lambda retries it', async () => {
    const down = () => new TolokaApiError(500, {});
    const deps = fakeDependencies(new ScriptedToloka([down(), down(), down(), down()]), {
      retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 },
    });
    await expect(
      createOpenPoolHandler(runtimeOf(deps))({ poolId: '21' }, lambdaContext()),
    ).rejects.toMatchObject({
      code: 'RETRIES_EXHAUSTED',
    });
  });

  it('answers a batch in which every message fails with batchItemFailures rather than an exception', async () => {
    const deps = fakeDependencies(new ScriptedToloka([new TolokaApiError(503, {})]), {
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const response = await createOpenPoolHandler(runtimeOf(deps))(
      sqsEvent(['{"poolId": "1"}']),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-0' }] });
  });
});

describe('checker handler', () => {
  it('reports a malformed check message and keeps the batch going', async () => {
    const deps = fakeDependencies(new ScriptedToloka([], [success]));
    const { opening } = await deps.ledger.claim({
      triggerId: 't-1',
      target: { kind: 'pool', id: '21' },
      nowMs: Date.parse('2026-11-28T11:59:00.000Z'),
      deadlineMs: Date.parse('2026-11-28T13:00:00.000Z'),
      leaseMs: 60_000,
    });
    await seedFollowing(deps.ledger, opening.openingId, success.id, 'live', 0);
    const good = JSON.stringify({
      version: 2,
      poolId: '21',
      openingId: opening.openingId,
      checkToken: 'live',
      operationId: success.id,
      requestedAt: '2026-11-28T11:59:00.000Z',
      deadline: '2026-11-28T13:00:00.000Z',
      attempt: 1,
    });
    const response = await createCheckOperationHandler(runtimeOf(deps))(
      sqsEvent(['{', good]),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(deps.outcomes.records.map((record) => record.outcome).sort()).toEqual(['FAILED', 'OPENED']);
  });
});

describe('LogOutcomeSink', () => {
  it('writes one JSON line per outcome, at ERROR for FAILED', async () => {
    const lines: string[] = [];
    const sink = new LogOutcomeSink(
      'svc',
      (line) => lines.push(line),
      () => new Date('2026-11-28T12:00:00Z'),
    );
    await sink.report({
      outcome: 'FAILED',
      poolId: '1',
      code: 'CONFLICT_STATE',
      message: 'no',
      request_id: 'r',
    });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      level: 'ERROR',
      timestamp: '2026-11-28T12:00:00.000Z',
      service: 'svc',
      outcome: 'FAILED',
      poolId: '1',
      code: 'CONFLICT_STATE',
      message: 'no',
      request_id: 'r',
    });
  });
});

describe('what makes a batch', () => {
  it('takes an event for an SQS batch only when every record comes from SQS', () => {
    const record = { messageId: 'm', body: '{"poolId":"1"}', eventSource: 'aws:sqs' };
    expect(isSqsEvent({ Records: [record] })).toBe(true);
    expect(isSqsEvent({ Records: [{ ...record, eventSource: 'aws:sns' }] })).toBe(false);
    expect(isSqsEvent({ Records: [{ body: '{"poolId":"1"}' }] })).toBe(false);
    expect(isSqsEvent({ Records: [] })).toBe(false);
    expect(isSqsEvent({ poolId: '1' })).toBe(false);
  });

  it('answers a direct invocation shaped {"Records": [...]} as a direct invocation: a FAILED record naming the field', async () => {
    const deps = fakeDependencies(new ScriptedToloka());
    const result = await createOpenPoolHandler(runtimeOf(deps))(
      { Records: [{ body: '{"poolId":"1"}' }] },
      lambdaContext(),
    );
    expect(result).toMatchObject({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'Records' });
    expect(result).not.toHaveProperty('batchItemFailures');
  });
});
