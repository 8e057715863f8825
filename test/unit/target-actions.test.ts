/**
 * The domain's second action and its rules, with fakes: a close is a run like an open (202
 * followed, 204, 409), one action on a pool at a time in the order asked, and a schedule's trigger
 * that falls on a calendar date or comes too late ends in one SKIPPED record without a call.
 */
import { describe, expect, it } from 'vitest';
import { TolokaApiError } from '../../lambda/runtime/errors.ts';
import type { Action, TolokaOperation } from '../../lambda/runtime/model.ts';
import { checkOperation } from '../../lambda/runtime/operation-check.ts';
import { runAction } from '../../lambda/runtime/target-action.ts';
import { fakeDependencies, ScriptedToloka } from '../support/fakes.ts';

const pool = { kind: 'pool' as const, id: '21' };
const training = { kind: 'training' as const, id: '7' };
const budget = { budgetMs: 30_000 };

function operation(action: Action, status: string, target = pool): TolokaOperation {
  const kind = target.kind.toUpperCase();
  return {
    id: `${action}-op`,
    type: `${kind}.${action.toUpperCase()}`,
    status,
    // A minute ago, in Toloka's form (UTC, no zone): no fixed date.
    submitted: new Date(Date.now() - 60_000).toISOString().slice(0, 19),
  };
}

let counter = 0;
const trigger = (action: Action, extra: object = {}) => ({
  id: `t-${++counter}`,
  target: pool,
  action,
  ...extra,
});

/** Delivers the queued checks, oldest first, until none is due (the clock jumps to each). */
async function drainChecks(deps: ReturnType<typeof fakeDependencies>) {
  for (let round = 0; round < 50 && deps.checks.sent.length > 0; round++) {
    const next = deps.checks.sent.shift();
    if (next === undefined) break;
    deps.clock.nowMs += next.delaySeconds * 1000;
    await checkOperation(deps, next.message, budget);
  }
}

describe('a close, like an open', () => {
  it('POSTs …/close and reports CLOSED with action close when the operation succeeds', async () => {
    const toloka = new ScriptedToloka(
      [{ kind: 'operation', operation: operation('close', 'RUNNING') }],
      [operation('close', 'SUCCESS')],
    );
    const deps = fakeDependencies(toloka);
    await runAction(deps, trigger('close'), budget);
    await drainChecks(deps);
    expect(toloka.calls.map((call) => call.call)).toEqual(['close', 'getOperation']);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'CLOSED',
        action: 'close',
        poolId: '21',
        operationId: 'close-op',
      }),
    ]);
  });

  it('reports ALREADY_CLOSED on a 204', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'already-done' }]));
    await runAction(deps, { id: 't-training', target: training, action: 'close' as const }, budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_CLOSED', action: 'close', trainingId: '7' }),
    ]);
  });

  it("reports Toloka's 409 as FAILED, with the action", async () => {
    const refusal = new TolokaApiError(409, {
      code: 'CONFLICT_STATE',
      message: 'Inappropriate status',
      request_id: 'r-1',
    });
    const deps = fakeDependencies(new ScriptedToloka([refusal]));
    await runAction(deps, trigger('close'), budget);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        action: 'close',
        code: 'CONFLICT_STATE',
        httpStatus: 409,
      }),
    ]);
  });

  it('keeps opens as they were: OPENED, with action open', async () => {
    const toloka = new ScriptedToloka([{ kind: 'operation', operation: operation('open', 'SUCCESS') }]);
    const deps = fakeDependencies(toloka);
    await runAction(deps, { id: 't-plain', target: pool }, budget);
    expect(deps.outcomes.records).toEqual([expect.objectContaining({ outcome: 'OPENED', action: 'open' })]);
  });
});

describe('one action on a pool at a time, in the order asked', () => {
  it.each([
    ['open', 'close'],
    ['close', 'open'],
  ] as const)(
    'a %s in flight, then a %s asked (each twice): the second waits, then runs once',
    async (first, second) => {
      const toloka = new ScriptedToloka(
        [
          { kind: 'operation', operation: operation(first, 'RUNNING') },
          { kind: 'operation', operation: operation(second, 'RUNNING') },
        ],
        [operation(first, 'SUCCESS'), operation(second, 'SUCCESS')],
      );
      const deps = fakeDependencies(toloka);
      const firstTrigger = trigger(first);
      const secondTrigger = trigger(second);
      await runAction(deps, firstTrigger, budget);
      await runAction(deps, firstTrigger, budget);
      await runAction(deps, secondTrigger, budget);
      await runAction(deps, secondTrigger, budget);
      await runAction(deps, trigger(second), budget); // the same action asked again joins the waiting one
      // The second action has not been asked of Toloka while the first runs.
      expect(toloka.calls.map((call) => call.call)).toEqual([first]);
      await drainChecks(deps);
      expect(toloka.calls.map((call) => call.call)).toEqual([first, 'getOperation', second, 'getOperation']);
      const done = { open: 'OPENED', close: 'CLOSED' } as const;
      expect(deps.outcomes.records.map((r) => [r.action, r.outcome, r.triggers?.length])).toEqual([
        [first, done[first], 1],
        [second, done[second], 2],
      ]);
    },
  );

  it('a waiting run whose predecessor outlives its own deadline ends TIMED_OUT without a call', async () => {
    const toloka = new ScriptedToloka(
      [{ kind: 'operation', operation: operation('open', 'RUNNING') }],
      Array.from({ length: 200 }, () => operation('open', 'RUNNING')),
    );
    const deps = fakeDependencies(toloka, {
      poll: { ...fakeDependencies(toloka).poll, deadlineSeconds: 600 },
    });
    await runAction(deps, trigger('open'), budget);
    deps.clock.nowMs += 60_000;
    await runAction(deps, trigger('close'), budget);
    await drainChecks(deps);
    const outcomes = deps.outcomes.records.map((r) => [r.action, r.outcome]);
    expect(outcomes).toContainEqual(['close', 'TIMED_OUT']);
    expect(toloka.calls.filter((call) => call.call === 'close')).toEqual([]);
  });
});

describe("a schedule's trigger that must not act", () => {
  const scheduledAtMs = Date.parse('2026-11-28T08:00:00Z');

  it('ends SKIPPED (CALENDAR) on a date of a calendar it skips, read in its time zone, once however often delivered', async () => {
    const toloka = new ScriptedToloka();
    const deps = fakeDependencies(toloka);
    const occurrence = {
      scheduledAtMs: Date.parse('2026-11-27T23:30:00Z'), // 2026-11-28 00:30 in Berlin
      timeZone: 'Europe/Berlin',
      skip: { holidays: ['2026-11-28'] },
    };
    const skipped = trigger('open', { occurrence });
    for (let i = 0; i < 3; i++) await runAction(deps, skipped, budget);
    expect(toloka.calls).toEqual([]);
    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({
        outcome: 'SKIPPED',
        reason: 'CALENDAR',
        calendar: 'holidays',
        date: '2026-11-28',
        scheduledTime: '2026-11-27T23:30:00.000Z',
        action: 'open',
        poolId: '21',
      }),
    ]);
  });

  it('acts on a day the calendar does not list (the same instant is another date in UTC)', async () => {
    const toloka = new ScriptedToloka([{ kind: 'already-done' }]);
    const deps = fakeDependencies(toloka);
    const occurrence = {
      scheduledAtMs: Date.parse('2026-11-27T23:30:00Z'),
      skip: { holidays: ['2026-11-28'] },
    };
    deps.clock.nowMs = occurrence.scheduledAtMs + 60_000;
    await runAction(deps, trigger('close', { occurrence }), budget);
    expect(deps.outcomes.records).toEqual([expect.objectContaining({ outcome: 'ALREADY_CLOSED' })]);
  });

  it('ends SKIPPED (LATE) when it comes later than maxLatenessMinutes, with how late and the command that acts now', async () => {
    const toloka = new ScriptedToloka();
    const deps = fakeDependencies(toloka);
    deps.clock.nowMs = scheduledAtMs + 3 * 86_400_000 + 2 * 3_600_000; // a redrive 3 days later
    await runAction(
      deps,
      trigger('close', { occurrence: { scheduledAtMs, maxLatenessMinutes: 60 } }),
      budget,
    );
    expect(toloka.calls).toEqual([]);
    const [record] = deps.outcomes.records;
    expect(record).toMatchObject({
      outcome: 'SKIPPED',
      reason: 'LATE',
      action: 'close',
      lateSeconds: 3 * 86_400 + 2 * 3_600,
      maxLatenessMinutes: 60,
      command: 'npx toloka-pool close 21',
    });
    expect(record?.message).toContain('3 d 2 h');
  });

  it('acts when it comes within its lateness, and a copy that comes late after it carries on, not SKIPPED', async () => {
    const toloka = new ScriptedToloka(
      [{ kind: 'operation', operation: operation('open', 'RUNNING') }],
      [operation('open', 'SUCCESS')],
    );
    const deps = fakeDependencies(toloka);
    const onTime = trigger('open', { occurrence: { scheduledAtMs, maxLatenessMinutes: 60 } });
    deps.clock.nowMs = scheduledAtMs + 59 * 60_000;
    await runAction(deps, onTime, budget);
    // 90 min after its time: later than it may be, but its run (deadline 1 h after it began) goes on.
    deps.clock.nowMs = scheduledAtMs + 90 * 60_000;
    await runAction(deps, onTime, budget);
    await drainChecks(deps);
    expect(deps.outcomes.records.map((r) => r.outcome)).toEqual(['OPENED']);
  });

  it('is never late without a scheduled time (a pipeline message, the command line)', async () => {
    const deps = fakeDependencies(new ScriptedToloka([{ kind: 'already-done' }]));
    deps.clock.nowMs += 30 * 86_400_000;
    await runAction(deps, trigger('open'), budget);
    expect(deps.outcomes.records.map((r) => r.outcome)).toEqual(['ALREADY_OPEN']);
  });
});
