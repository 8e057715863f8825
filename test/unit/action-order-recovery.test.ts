/**
 * The order of actions on a pool after failures, at the level of the domain's steps (in-memory
 * ledger, manual clock): the interleavings an adversarial review of closes found. A step "dies"
 * by claiming a trigger and never going on; its message comes back as SQS would, later.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import { TolokaApiError } from '../../lambda/runtime/errors.ts';
import type { Action, TolokaOperation } from '../../lambda/runtime/model.ts';
import { checkOperation } from '../../lambda/runtime/operation-check.ts';
import { runAction } from '../../lambda/runtime/target-action.ts';
import { fakeDependencies, ScriptedToloka } from '../support/fakes.ts';

const pool = { kind: 'pool' as const, id: '41' };
const budget = { budgetMs: 30_000 };
const LEASE_MS = 120_000;
const REDELIVERY_MS = 420_000;

function operation(action: Action, status: string): TolokaOperation {
  return {
    id: `${action}-op`,
    type: `POOL.${action.toUpperCase()}`,
    status,
    submitted: '2026-11-28T12:00:00',
  };
}

function setUp(toloka: ScriptedToloka) {
  return fakeDependencies(toloka, {
    poll: { ...DEFAULT_POLL, fastPathSeconds: 0, deadlineSeconds: 3600 },
    reportLeaseMs: LEASE_MS,
    redeliveryMs: REDELIVERY_MS,
  });
}

/** A trigger whose step claims and then dies (the function killed): nothing but the claim happens. */
async function claimAndDie(deps: ReturnType<typeof setUp>, id: string, action: Action) {
  const nowMs = deps.clock.nowMs;
  return deps.ledger.claim({
    triggerId: id,
    target: pool,
    action,
    nowMs,
    deadlineMs: nowMs + 3_600_000,
    leaseMs: LEASE_MS,
  });
}

/** Runs the queued check messages whose delay has come, one pass. */
async function runDueChecks(deps: ReturnType<typeof setUp>) {
  const due = deps.checks.sent.splice(0);
  for (const { message } of due) await checkOperation(deps, message, budget).catch(() => undefined);
}

const callsOf = (toloka: ScriptedToloka) =>
  toloka.calls.map((call) => call.call).filter((call) => call === 'open' || call === 'close');

describe('one action at a time, after failures', () => {
  it('gives a close trigger that was taken over from a record of its own when its message comes back', async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }, { kind: 'already-done' }]);
    const deps = setUp(toloka);
    await claimAndDie(deps, 'close-1', 'close');
    deps.clock.nowMs += LEASE_MS + REDELIVERY_MS + 1_000;
    await runAction(deps, { id: 'close-2', target: pool, action: 'close' }, budget);
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    const answered = deps.outcomes.records.flatMap((record) => record.triggers ?? []);
    expect(answered.sort()).toEqual(['close-1', 'close-2']);
  });

  it("never lets an open whose step died open the pool again after the close asked later: the close waits for the open's message to come back", async () => {
    const toloka = new ScriptedToloka(
      [
        { kind: 'operation', operation: operation('open', 'SUCCESS') },
        { kind: 'operation', operation: operation('close', 'SUCCESS') },
      ],
      [],
    );
    const deps = setUp(toloka);
    await claimAndDie(deps, 'open-1', 'open');
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    // The open's lease runs out: the waiting close looks again and again, and does not take over.
    for (let t = 0; t < 5; t++) {
      deps.clock.nowMs += 60_000;
      await runDueChecks(deps);
    }
    expect(callsOf(toloka)).toEqual([]);
    // The open's message comes back (its visibility time-out): it goes on with its own run.
    await runAction(deps, { id: 'open-1', target: pool, action: 'open' }, budget);
    deps.clock.nowMs += 5_000;
    await runDueChecks(deps);
    expect(callsOf(toloka)).toEqual(['open', 'close']);
    expect(deps.outcomes.records.map((record) => [record.action, record.outcome])).toEqual([
      ['open', 'OPENED'],
      ['close', 'CLOSED'],
    ]);
  });

  it('carries on an open that is abandoned for good (its message never came back) once the redelivery time has passed', async () => {
    const toloka = new ScriptedToloka(
      [
        { kind: 'operation', operation: operation('open', 'SUCCESS') },
        { kind: 'operation', operation: operation('close', 'SUCCESS') },
      ],
      [],
    );
    const deps = setUp(toloka);
    await claimAndDie(deps, 'open-1', 'open');
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    for (let t = 0; t < 12 && callsOf(toloka).length < 2; t++) {
      deps.clock.nowMs += 60_000;
      await runDueChecks(deps);
    }
    expect(callsOf(toloka)).toEqual(['open', 'close']);
    // The open's only trigger was dropped (its message is in a dead-letter queue): no record for it.
    expect(deps.outcomes.records.map((record) => [record.action, record.outcome])).toEqual([
      ['close', 'CLOSED'],
    ]);
  });

  it("writes a decided open's record, which its decider never wrote, before the waiting close acts", async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }], []);
    const deps = setUp(toloka);
    const claim = await claimAndDie(deps, 'open-1', 'open');
    await runAction(deps, { id: 'open-2', target: pool, action: 'open' }, budget); // joins
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    // The open is decided, and its decider dies before writing the record.
    await deps.ledger.decide(
      claim.opening.openingId,
      { outcome: 'ALREADY_OPEN', action: 'open', poolId: '41' },
      deps.clock.nowMs,
      LEASE_MS,
    );
    deps.clock.nowMs += LEASE_MS + 1_000;
    await runDueChecks(deps);
    expect(deps.outcomes.records.map((record) => [record.action, record.outcome, record.triggers])).toEqual([
      ['open', 'ALREADY_OPEN', ['open-1', 'open-2']],
      ['close', 'ALREADY_CLOSED', ['close-1']],
    ]);
  });

  it('meets an open left undecided behind a close that timed out waiting: the next trigger ends it first', async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }], []);
    const deps = fakeDependencies(toloka, {
      poll: { ...DEFAULT_POLL, fastPathSeconds: 0, deadlineSeconds: 600 },
      reportLeaseMs: LEASE_MS,
      redeliveryMs: REDELIVERY_MS,
    });
    const claim = await deps.ledger.claim({
      triggerId: 'open-1',
      target: pool,
      action: 'open',
      nowMs: deps.clock.nowMs,
      deadlineMs: deps.clock.nowMs + 600_000,
      leaseMs: LEASE_MS,
    });
    await runAction(deps, { id: 'open-2', target: pool, action: 'open' }, budget); // joins
    deps.clock.nowMs += 60_000;
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    // The open stays carried (a check of it keeps failing and coming back) past the close's deadline.
    const passed = await deps.ledger.passCheck(
      claim.opening.openingId,
      claim.kind === 'started' ? claim.token : '',
      'check-x',
      0,
      deps.clock.nowMs + 700_000,
    );
    expect(passed).toBe(true);
    deps.clock.nowMs += 610_000;
    await runDueChecks(deps);
    expect(deps.outcomes.records.map((record) => [record.action, record.outcome])).toEqual([
      ['close', 'TIMED_OUT'],
    ]);
    // Later, the open is abandoned for good; a new trigger ends it before anything else.
    deps.clock.nowMs += 700_000;
    await runAction(deps, { id: 'close-2', target: pool, action: 'close' }, budget);
    const records = deps.outcomes.records.map((record) => [record.action, record.outcome, record.triggers]);
    expect(records).toContainEqual(['open', 'TIMED_OUT', ['open-1', 'open-2']]);
    expect(records.at(-1)).toEqual(['close', 'ALREADY_CLOSED', ['close-2']]);
  });

  it("waits, instead of failing, when Toloka says the other action's operation still holds the pool", async () => {
    const locked = new TolokaApiError(409, { code: 'POOL_LOCKED_BY_ANOTHER_OPERATION', request_id: 'r' });
    const toloka = new ScriptedToloka([locked, { kind: 'already-done' }], []);
    toloka.lookups.push(undefined, operation('open', 'RUNNING'));
    const deps = setUp(toloka);
    await runAction(deps, { id: 'close-1', target: pool, action: 'close' }, budget);
    expect(deps.outcomes.records).toEqual([]);
    expect(deps.checks.sent[0]?.message.notBefore).toBeDefined();
    deps.clock.nowMs += 15_000;
    await runDueChecks(deps);
    expect(deps.outcomes.records.map((record) => [record.action, record.outcome])).toEqual([
      ['close', 'ALREADY_CLOSED'],
    ]);
  });
});
