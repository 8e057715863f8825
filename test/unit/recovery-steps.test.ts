import { describe, expect, it } from 'vitest';
import { MemoryOutcomeSink } from '../../lambda/adapters/outcome-sinks.ts';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import { LedgerError, OpeningBusyError, TolokaApiError } from '../../lambda/runtime/errors.ts';
import type { OutcomeRecord, TolokaOperation } from '../../lambda/runtime/model.ts';
import { runAction } from '../../lambda/runtime/target-action.ts';
import { MemoryOpeningsLedger } from '../../local/memory-openings-ledger.ts';
import { fakeDependencies, ScriptedToloka } from '../support/fakes.ts';
import { datedFixtureJson } from '../support/fixtures.ts';

// Recovery at the level of the domain's steps, on the in-memory ledger and a manual clock: the
// interleavings an adversarial review found (an opening ended by a trigger that then fails, a
// trigger arriving while another ends the pool's opening, retries running into the deadline).

const pending = datedFixtureJson<TolokaOperation>('toloka/operation-pending.json');
const pool = { kind: 'pool' as const, id: '31' };
const budget = { budgetMs: 30_000 };
const unavailable = () => new TolokaApiError(503, { code: 'SERVICE_UNAVAILABLE' });
/** The queue path (no fast path), with a deadline a minute after the request. */
const poll = { ...DEFAULT_POLL, fastPathSeconds: 0, deadlineSeconds: 60 };

/** Outcome records that fail to go out the first `failures` times (EventBridge answering 500). */
class FlakyOutcomes extends MemoryOutcomeSink {
  constructor(public failures: number) {
    super();
  }
  override async report(record: OutcomeRecord): Promise<void> {
    if (this.failures-- > 0) throw new Error('PutEvents: InternalFailure');
    await super.report(record);
  }
}

/** A ledger whose decisions fail the first `failures` times (DynamoDB unavailable). */
class FlakyDecisions extends MemoryOpeningsLedger {
  constructor(public failures: number) {
    super();
  }
  override async decide(...args: Parameters<MemoryOpeningsLedger['decide']>) {
    if (this.failures-- > 0) throw new LedgerError('DynamoDB unavailable');
    return super.decide(...args);
  }
}

/**
 * Trigger A's opening dead-letters (Toloka answers 503 all along), B joins it while A's message
 * is due back; then the clock passes the opening's deadline and A's redelivery window.
 */
async function abandonedWithAJoiner(deps: ReturnType<typeof fakeDependencies>): Promise<void> {
  await expect(runAction(deps, { id: 'A', target: pool }, budget)).rejects.toThrow();
  expect(await runAction(deps, { id: 'B', target: pool }, budget)).toMatchObject({ kind: 'nothing-new' });
  deps.clock.nowMs += 600_000;
}

describe('an abandoned opening ended by the next trigger', () => {
  it('gets its record before the pool opens again, though the trigger that ended it failed to write it', async () => {
    const outcomes = new FlakyOutcomes(0);
    const toloka = new ScriptedToloka([
      ...Array(4).fill(unavailable()),
      { kind: 'operation', operation: pending },
    ]);
    const deps = fakeDependencies(toloka, { outcomes, poll });
    await abandonedWithAJoiner(deps);

    outcomes.failures = 1;
    await expect(runAction(deps, { id: 'T', target: pool }, budget)).rejects.toThrow('PutEvents');
    expect(deps.outcomes.records).toEqual([]);
    // T's message comes back after the report lease: the record first, then the new opening.
    deps.clock.nowMs += 130_000;
    expect(await runAction(deps, { id: 'T', target: pool }, budget)).toMatchObject({ kind: 'following' });

    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'TIMED_OUT', triggers: ['B'], code: 'DEADLINE_EXCEEDED' }),
    ]);
  });

  it('is ended by the next trigger when the one ending it failed, and the pool opens once', async () => {
    const ledger = new FlakyDecisions(0);
    const toloka = new ScriptedToloka([
      ...Array(4).fill(unavailable()),
      { kind: 'operation', operation: pending },
    ]);
    const deps = fakeDependencies(toloka, { ledger, poll });
    await abandonedWithAJoiner(deps);

    ledger.failures = 1;
    await expect(runAction(deps, { id: 'T', target: pool }, budget)).rejects.toThrow('DynamoDB unavailable');
    // U meets the opening T failed to end: it ends it itself (the pool's pointer never moves past
    // an opening that has no end), then opens the pool; T, back, joins U's opening.
    expect(await runAction(deps, { id: 'U', target: pool }, budget)).toMatchObject({ kind: 'following' });
    expect(await runAction(deps, { id: 'T', target: pool }, budget)).toMatchObject({ kind: 'nothing-new' });

    expect(deps.outcomes.records).toEqual([
      expect.objectContaining({ outcome: 'TIMED_OUT', triggers: ['B'] }),
    ]);
    expect(toloka.calls.filter((call) => call.call === 'open')).toHaveLength(5);
  });
});

describe('past the deadline', () => {
  it('makes the ending trigger come back while another step still holds the opening', async () => {
    const toloka = new ScriptedToloka([...Array(4).fill(unavailable())]);
    const deps = fakeDependencies(toloka, { poll });
    await abandonedWithAJoiner(deps);
    // A's message is redelivered after the deadline and holds the opening while it ends it.
    const held = await deps.ledger.acquire(
      (await deps.ledger.list({}))[0]?.openingId ?? '',
      '',
      deps.clock.nowMs,
      120_000,
      'A',
    );
    expect(held.kind).toBe('acquired');
    await expect(runAction(deps, { id: 'U', target: pool }, budget)).rejects.toThrow(OpeningBusyError);
    expect(toloka.calls.filter((call) => call.call === 'open')).toHaveLength(4);
  });

  it('makes no POST after the deadline, even when Toloka asks to wait past it', async () => {
    const toloka = new ScriptedToloka([
      new TolokaApiError(503, { code: 'SERVICE_UNAVAILABLE' }, 5_000),
      { kind: 'operation', operation: pending },
    ]);
    const deps = fakeDependencies(toloka, { poll: { ...poll, deadlineSeconds: 2 } });
    const startedAt = deps.clock.nowMs;

    const result = await runAction(deps, { id: 'late', target: pool }, budget);

    expect(toloka.calls.filter((call) => call.call === 'open')).toHaveLength(1);
    expect(deps.clock.nowMs - startedAt).toBeLessThan(2_000);
    // Toloka's wait goes to the check queue; past the deadline, it ends TIMED_OUT without a call.
    expect(result).toMatchObject({ kind: 'following' });
  });
});
