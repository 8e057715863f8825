import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import type { OutcomeRecord } from '../../lambda/runtime/model.ts';
import {
  LEDGER_RETENTION_MS,
  MAX_LISTED_TRIGGERS,
  type OpeningsLedger,
  startToken,
} from '../../lambda/runtime/openings-ledger.ts';
import { MemoryOpeningsLedger } from '../../local/memory-openings-ledger.ts';
import { createOpeningsTable, useMoto } from '../support/moto.ts';

// The ledger's contract, for both implementations: DynamoDB over the real wire (moto) and the
// in-memory one of the local run. Concurrent calls race for real on DynamoDB's conditions.

let moto: ReturnType<typeof useMoto>;
let tableName = '';

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  tableName = await createOpeningsTable('ledger');
});

afterAll(() => {
  moto.restore();
});

const NOW = Date.now();
/** Until when a queued check carries an opening in these tests: an hour, past every `nowMs` used. */
const CARRIED = NOW + 3_600_000;
const pool = (id: string) => ({ kind: 'pool' as const, id });
const opened: OutcomeRecord = { outcome: 'OPENED', poolId: '1' };
let unique = 0;
const fresh = (prefix: string) => `${prefix}-${++unique}-${Math.random().toString(36).slice(2, 8)}`;

const ledgers: ReadonlyArray<[string, () => OpeningsLedger]> = [
  ['DynamoDB (moto)', () => new DynamoDbOpeningsLedger(tableName)],
  ['memory', () => new MemoryOpeningsLedger()],
];

describe.each(ledgers)('the openings ledger on %s', (_name, make) => {
  const claim = (ledger: OpeningsLedger, triggerId: string, target: string) =>
    ledger.claim({
      triggerId,
      target: pool(target),
      nowMs: NOW,
      deadlineMs: NOW + 3_600_000,
      leaseMs: 60_000,
    });

  it('starts an opening for a new trigger, and finds it again for the same trigger', async () => {
    const ledger = make();
    const [trigger, target] = [fresh('t'), fresh('p').replace(/\D/g, '') || '1'];
    const first = await claim(ledger, trigger, target);
    expect(first).toMatchObject({ kind: 'started', opening: { state: 'STARTING', triggers: [trigger] } });
    const again = await claim(ledger, trigger, target);
    expect(again).toMatchObject({ kind: 'seen', opening: { openingId: first.opening.openingId } });
  });

  it('lets a second trigger join the opening in flight, and starts a new one once it is decided', async () => {
    const ledger = make();
    const target = String(100 + unique++);
    const first = await claim(ledger, fresh('a'), target);
    const second = fresh('b');
    const joined = await claim(ledger, second, target);
    expect(joined).toMatchObject({ kind: 'joined', opening: { openingId: first.opening.openingId } });
    const decided = await ledger.decide(first.opening.openingId, opened, NOW, 60_000);
    expect(decided?.triggers).toEqual([first.opening.triggers[0], second]);
    // Decided, but its record not written yet: the pointer stays until it is.
    expect((await claim(ledger, fresh('c'), target)).kind).toBe('ending');
    await ledger.markReported(first.opening.openingId, NOW);
    const next = await claim(ledger, fresh('c'), target);
    expect(next.kind).toBe('started');
    expect(next.opening.openingId).not.toBe(first.opening.openingId);
  });

  it('makes one opening of the same trigger claimed twice at once', async () => {
    const ledger = make();
    const trigger = fresh('dup');
    const target = String(200 + unique++);
    const claims = await Promise.all([claim(ledger, trigger, target), claim(ledger, trigger, target)]);
    expect(claims.map((c) => c.kind).sort()).toEqual(['seen', 'started']);
    expect(new Set(claims.map((c) => c.opening.openingId)).size).toBe(1);
  });

  it('makes one opening of two triggers for one pool claimed at once, listing both', async () => {
    const ledger = make();
    const target = String(300 + unique++);
    const [a, b] = [fresh('x'), fresh('y')];
    const claims = await Promise.all([claim(ledger, a, target), claim(ledger, b, target)]);
    expect(claims.map((c) => c.kind).sort()).toEqual(['joined', 'started']);
    const [opening] = new Set(claims.map((c) => c.opening.openingId));
    const stored = await ledger.get(opening ?? '');
    expect([...(stored?.triggers ?? [])].sort()).toEqual([a, b].sort());
  });

  it('decides once: of two decisions at once, one wins and the other gets nothing', async () => {
    const ledger = make();
    // Many rounds: a race that is lost one time in ten (as moto's unserialised writes were) shows.
    for (let round = 0; round < 30; round++) {
      const { opening } = await claim(ledger, fresh('d'), String(400 + unique++));
      const results = await Promise.all([
        ledger.decide(opening.openingId, opened, NOW, 60_000),
        ledger.decide(opening.openingId, { outcome: 'FAILED' }, NOW, 60_000),
      ]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect(await ledger.follow(opening.openingId, 'op', startToken(opening.openingId), 1)).toBe(false);
    }
  });

  it('moves the live check from one token to the next only once, so a duplicate check is stale', async () => {
    const ledger = make();
    const started = await claim(ledger, fresh('e'), String(500 + unique++));
    if (started.kind !== 'started') throw new Error(started.kind);
    const { opening } = started;
    expect(await ledger.follow(opening.openingId, 'op-1', started.token, 0)).toBe(true);
    expect(await ledger.passCheck(opening.openingId, started.token, 'token-1', 0, CARRIED)).toBe(true);
    const moves = await Promise.all([
      ledger.passCheck(opening.openingId, 'token-1', 'token-2a', 1, CARRIED),
      ledger.passCheck(opening.openingId, 'token-1', 'token-2b', 1, CARRIED),
    ]);
    expect(moves.filter(Boolean)).toHaveLength(1);
    const stored = await ledger.get(opening.openingId);
    expect(['token-2a', 'token-2b']).toContain(stored?.checkToken);
    expect(await ledger.passCheck(opening.openingId, 'token-1', 'token-3', 2, CARRIED)).toBe(false);
  });

  it('lets another step write a decided record only after the lease of the one that decided ran out', async () => {
    const ledger = make();
    const { opening } = await claim(ledger, fresh('f'), String(600 + unique++));
    await ledger.decide(opening.openingId, opened, NOW, 60_000);
    expect(await ledger.takeReport(opening.openingId, NOW + 30_000, 60_000)).toBe(false);
    expect(await ledger.takeReport(opening.openingId, NOW + 61_000, 60_000)).toBe(true);
    // Taken: the next one waits for this lease too.
    expect(await ledger.takeReport(opening.openingId, NOW + 62_000, 60_000)).toBe(false);
    await ledger.markReported(opening.openingId, NOW + 62_000);
    expect(await ledger.takeReport(opening.openingId, NOW + 500_000, 60_000)).toBe(false);
  });

  it('lists openings newest first, by pool and since an instant', async () => {
    const ledger = make();
    const target = String(700 + unique++);
    const older = await ledger.claim({
      triggerId: fresh('o'),
      target: pool(target),
      nowMs: NOW - 7_200_000,
      deadlineMs: NOW,
      leaseMs: 60_000,
    });
    await ledger.decide(older.opening.openingId, opened, NOW - 7_000_000, 60_000);
    await ledger.markReported(older.opening.openingId, NOW - 7_000_000);
    const newer = await claim(ledger, fresh('n'), target);
    const listed = await ledger.list({ target: pool(target) });
    expect(listed.map((o) => o.openingId)).toEqual([newer.opening.openingId, older.opening.openingId]);
    expect(listed[1]?.outcome).toEqual(opened);
    const recent = await ledger.list({ target: pool(target), sinceMs: NOW - 3_600_000 });
    expect(recent.map((o) => o.openingId)).toEqual([newer.opening.openingId]);
  });
});

describe('the openings ledger on DynamoDB, when TTL removed an opening before its trigger', () => {
  it('claims the trigger anew instead of losing every race', async () => {
    const ledger = new DynamoDbOpeningsLedger(tableName);
    const trigger = fresh('ttl');
    const target = String(800 + unique++);
    const first = await ledger.claim({
      triggerId: trigger,
      target: pool(target),
      nowMs: NOW,
      deadlineMs: NOW + 60_000,
      leaseMs: 60_000,
    });
    const dynamodb = new DynamoDBClient({});
    await dynamodb.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { id: { S: `opening#${first.opening.openingId}` } },
      }),
    );
    dynamodb.destroy();
    // Past the entries' expiration, as when TTL has removed the opening but not yet the trigger.
    const later = NOW + 60_000 + LEDGER_RETENTION_MS + 1_000;
    const again = await ledger.claim({
      triggerId: trigger,
      target: pool(target),
      nowMs: later,
      deadlineMs: later + 60_000,
      leaseMs: 60_000,
    });
    expect(again.kind).toBe('started');
    expect(again.opening.openingId).not.toBe(first.opening.openingId);
  });
});

describe.each(ledgers)('the steps of an opening on %s', (_name, make) => {
  it('gives the start step to the claim; a copy of the trigger is busy until its lease runs out', async () => {
    const ledger = make();
    const triggerId = fresh('s');
    const request = {
      triggerId,
      target: pool(String(900 + unique++)),
      nowMs: NOW,
      deadlineMs: NOW + 3_600_000,
      leaseMs: 60_000,
    };
    const claimed = await ledger.claim(request);
    if (claimed.kind !== 'started') throw new Error(claimed.kind);
    const { opening } = claimed;
    expect(opening).toMatchObject({ checkToken: claimed.token, leaseUntilMs: NOW + 60_000 });
    const copy = await ledger.claim({ ...request, nowMs: NOW + 1_000 });
    expect(copy.kind).toBe('seen');
    const start = startToken(opening.openingId);
    expect((await ledger.acquire(opening.openingId, start, NOW + 30_000, 60_000)).kind).toBe('busy');
    // The holder died: after its lease, a copy of the same step takes over, and only one of two at once.
    const copies = await Promise.all([
      ledger.acquire(opening.openingId, start, NOW + 61_000, 60_000),
      ledger.acquire(opening.openingId, start, NOW + 61_000, 60_000),
    ]);
    expect(copies.map((c) => c.kind).sort()).toEqual(['acquired', 'busy']);
    expect(await ledger.follow(opening.openingId, 'op', claimed.token, 0)).toBe(false);
  });

  it('makes an older step stale once the opening has moved on to a queued check', async () => {
    const ledger = make();
    const { opening } = await ledger.claim({
      triggerId: fresh('m'),
      target: pool(String(950 + unique++)),
      nowMs: NOW,
      deadlineMs: NOW + 3_600_000,
      leaseMs: 60_000,
    });
    const held = await ledger.get(opening.openingId);
    await ledger.passCheck(opening.openingId, held?.checkToken ?? '', 'queued-1', 1, CARRIED);
    expect(
      (await ledger.acquire(opening.openingId, startToken(opening.openingId), NOW + 500_000, 60_000)).kind,
    ).toBe('stale');
    expect((await ledger.acquire(opening.openingId, 'queued-1', NOW, 60_000)).kind).toBe('acquired');
  });

  it('answers firstTime once per key', async () => {
    const ledger = make();
    const key = fresh('bad-message');
    expect(await ledger.firstTime(key, NOW)).toBe(true);
    expect(await ledger.firstTime(key, NOW)).toBe(false);
  });
});

describe.each(ledgers)('recovery in the openings ledger on %s', (_name, make) => {
  const request = (triggerId: string, target: string, nowMs: number) => ({
    triggerId,
    target: pool(target),
    nowMs,
    deadlineMs: nowMs + 3_600_000,
    leaseMs: 60_000,
  });

  /** A trigger's step failed and its message went on to the dead-letter queue: carried for 5 minutes, then nothing. */
  async function deadLettered(ledger: OpeningsLedger, triggerId: string, target: string) {
    const started = await ledger.claim(request(triggerId, target, NOW));
    if (started.kind !== 'started') throw new Error(started.kind);
    await ledger.release(started.opening.openingId, started.token, NOW + 1_000, NOW + 300_000);
    return started.opening;
  }

  it('lets a trigger join an opening whose failed step is due back, and take over one nothing carries', async () => {
    const ledger = make();
    const target = String(1_100 + unique++);
    const carrier = fresh('carrier');
    const opening = await deadLettered(ledger, carrier, target);
    const joiner = fresh('joiner');
    expect(await ledger.claim(request(joiner, target, NOW + 200_000))).toMatchObject({
      kind: 'joined',
      opening: { openingId: opening.openingId },
    });
    const taker = fresh('taker');
    const taken = await ledger.claim(request(taker, target, NOW + 301_000));
    expect(taken).toMatchObject({
      kind: 'took-over',
      opening: { openingId: opening.openingId, carrier: taker },
    });
    // The dead-lettered carrier is no longer answered by this opening: its redrive is a trigger of its own.
    const stored = await ledger.get(opening.openingId);
    expect(stored?.triggers).toEqual([joiner, taker]);
    expect(stored?.triggerCount).toBe(2);
    const redriven = await ledger.claim(request(carrier, target, NOW + 302_000));
    expect(redriven).toMatchObject({ kind: 'joined', opening: { openingId: opening.openingId } });
    expect((await ledger.get(opening.openingId))?.triggers).toEqual([joiner, taker, carrier]);
  });

  it('never joins an opening past its deadline: hands it back to be ended, and starts anew once it is', async () => {
    const ledger = make();
    const target = String(1_200 + unique++);
    const opening = await deadLettered(ledger, fresh('late'), target);
    const afterDeadline = NOW + 3_700_000;
    const ending = await ledger.claim(request(fresh('next-day'), target, afterDeadline));
    expect(ending).toMatchObject({ kind: 'ending', opening: { openingId: opening.openingId } });
    // Held by the step that ends it: still handed back, the pointer does not move on.
    const held = await ledger.acquire(opening.openingId, '', afterDeadline, 60_000, 'ender');
    if (held.kind !== 'acquired') throw new Error(held.kind);
    expect((await ledger.claim(request(fresh('another'), target, afterDeadline + 1_000))).kind).toBe(
      'ending',
    );
    // A step taken over from decides nothing: only the holder's token does.
    expect(
      await ledger.decide(opening.openingId, opened, afterDeadline, 60_000, 'not-the-holder'),
    ).toBeUndefined();
    expect(await ledger.decide(opening.openingId, opened, afterDeadline, 60_000, held.token)).toBeDefined();
    await ledger.markReported(opening.openingId, afterDeadline);
    const next = await ledger.claim(request(fresh('another'), target, afterDeadline + 2_000));
    expect(next.kind).toBe('started');
    expect(next.opening.openingId).not.toBe(opening.openingId);
  });

  it('takes over an opening whose queued check stopped coming, once its due time and a redelivery passed', async () => {
    const ledger = make();
    const started = await ledger.claim(request(fresh('t'), String(1_300 + unique++), NOW));
    if (started.kind !== 'started') throw new Error(started.kind);
    const { openingId } = started.opening;
    await ledger.follow(openingId, 'op-1', started.token, 0);
    await ledger.passCheck(openingId, started.token, 'check-1', 0, NOW + 120_000);
    // An unrelated token is stale while the check is due, and takes the opening over after.
    expect((await ledger.acquire(openingId, 'someone-else', NOW + 60_000, 60_000)).kind).toBe('stale');
    const taken = await ledger.acquire(openingId, 'someone-else', NOW + 121_000, 60_000);
    expect(taken).toMatchObject({ kind: 'acquired', opening: { operationId: 'op-1', state: 'FOLLOWING' } });
    // The check, should it come back after all, is stale now.
    expect((await ledger.acquire(openingId, 'check-1', NOW + 122_000, 60_000)).kind).toBe('busy');
  });

  it('keeps a trigger identity to its target: the same triggerId for two pools starts two openings', async () => {
    const ledger = make();
    const shared = fresh('shared');
    const first = await ledger.claim(request(shared, String(1_400 + unique++), NOW));
    const second = await ledger.claim(request(shared, String(1_500 + unique++), NOW));
    expect([first.kind, second.kind]).toEqual(['started', 'started']);
    expect(first.opening.openingId).not.toBe(second.opening.openingId);
  });

  it(`lists at most ${MAX_LISTED_TRIGGERS} triggers and counts them all`, async () => {
    const ledger = make();
    const target = String(1_600 + unique++);
    const started = await ledger.claim(request(fresh('first'), target, NOW));
    for (let index = 1; index < MAX_LISTED_TRIGGERS + 5; index++) {
      await ledger.claim(request(fresh('more'), target, NOW + 1_000));
    }
    const stored = await ledger.get(started.opening.openingId);
    expect(stored?.triggers).toHaveLength(MAX_LISTED_TRIGGERS);
    expect(stored?.triggerCount).toBe(MAX_LISTED_TRIGGERS + 5);
  });
});

describe.each(ledgers)('actions in the openings ledger on %s', (_name, make) => {
  const ask = (
    triggerId: string,
    target: string,
    action: 'open' | 'close',
    nowMs = NOW,
    skip?: OutcomeRecord,
  ) => ({
    triggerId,
    target: pool(target),
    action,
    nowMs,
    deadlineMs: nowMs + 3_600_000,
    leaseMs: 60_000,
    ...(skip === undefined ? {} : { skip }),
  });

  it('queues the other action behind an undecided run, joins the same one, and keeps trigger identities apart by action', async () => {
    const ledger = make();
    const target = String(2_100 + unique++);
    const shared = fresh('job');
    const open = await ledger.claim(ask(shared, target, 'open'));
    const close = await ledger.claim(ask(shared, target, 'close'));
    expect(open).toMatchObject({ kind: 'started', opening: { action: 'open', state: 'STARTING' } });
    expect(close).toMatchObject({
      kind: 'started',
      opening: { action: 'close', state: 'WAITING', predecessorId: open.opening.openingId },
    });
    const another = await ledger.claim(ask(fresh('close'), target, 'close'));
    expect(another).toMatchObject({ kind: 'joined', opening: { openingId: close.opening.openingId } });
    expect((await ledger.get(close.opening.openingId))?.action).toBe('close');
  });

  it('meets a run still undecided behind a decided pointer before starting anything new', async () => {
    const ledger = make();
    const target = String(2_200 + unique++);
    const open = await ledger.claim(ask(fresh('open'), target, 'open'));
    const close = await ledger.claim(ask(fresh('close'), target, 'close'));
    if (close.kind !== 'started') throw new Error(close.kind);
    // The waiting close ends (TIMED_OUT waiting) and is reported; the open is still undecided.
    await ledger.decide(
      close.opening.openingId,
      { outcome: 'TIMED_OUT', action: 'close' },
      NOW + 1_000,
      60_000,
      close.token,
    );
    await ledger.markReported(close.opening.openingId, NOW + 1_000);
    const next = await ledger.claim(ask(fresh('open'), target, 'open', NOW + 2_000));
    expect(next).toMatchObject({ kind: 'joined', opening: { openingId: open.opening.openingId } });
  });

  it("releases a close carrier's own entry when its run is taken over: its message comes back as a trigger anew", async () => {
    const ledger = make();
    const target = String(2_300 + unique++);
    const carrier = fresh('close');
    const first = await ledger.claim(ask(carrier, target, 'close'));
    // Its step died: after the lease, the next close trigger takes the run over and drops it.
    const taker = await ledger.claim(ask(fresh('close'), target, 'close', NOW + 61_000));
    expect(taker).toMatchObject({ kind: 'took-over', opening: { openingId: first.opening.openingId } });
    const back = await ledger.claim(ask(carrier, target, 'close', NOW + 62_000));
    expect(back.kind).not.toBe('seen');
    expect(back).toMatchObject({ kind: 'joined', opening: { openingId: first.opening.openingId } });
  });

  it('writes a skipped trigger decided, leaves the pool to its runs, and finds it again on a retry', async () => {
    const ledger = make();
    const target = String(2_400 + unique++);
    const trigger = fresh('late');
    const record: OutcomeRecord = { outcome: 'SKIPPED', action: 'open', reason: 'LATE', poolId: target };
    const skipped = await ledger.claim(ask(trigger, target, 'open', NOW, record));
    expect(skipped).toMatchObject({ kind: 'skipped', opening: { state: 'DECIDED', outcome: record } });
    expect((await ledger.claim(ask(trigger, target, 'open', NOW + 1_000, record))).kind).toBe('seen');
    expect((await ledger.get(skipped.opening.openingId))?.outcome).toEqual(record);
    // Another trigger of the pool starts a run of its own: the skipped one is no pool's run.
    expect((await ledger.claim(ask(fresh('open'), target, 'open', NOW + 2_000))).kind).toBe('started');
  });
});
