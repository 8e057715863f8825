import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutcomeRecord } from '../../lambda/runtime/model.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { Harness } from '../support/harness.ts';

interface BadTrigger {
  name: string;
  body: string;
  field: string;
}
interface BadPayload {
  name: string;
  payload: unknown;
  field: string;
}

const badBodies: BadTrigger[] = [
  ...fixtureJson<BadTrigger[]>('messages/bad-triggers.json'),
  { name: '10 kB of digits', body: JSON.stringify({ poolId: '7'.repeat(10_240) }), field: 'poolId' },
  {
    name: 'a 256 kB body',
    body: JSON.stringify({ poolId: '1', padding: 'x'.repeat(256 * 1024 - 40) }),
    field: 'padding',
  },
];
const badPayloads = fixtureJson<BadPayload[]>('messages/bad-payloads.json');
const GOOD_POOLS = ['6001', '6002', '6003'];

let harness: Harness;
let outcomes: OutcomeRecord[];

beforeAll(async () => {
  harness = await new Harness().start();
  for (const id of GOOD_POOLS) harness.emulator.setPool(id, { openDurationMs: 0 });
  // One batch-like stream: the good messages among the bad ones.
  const bodies = [...badBodies.map((bad) => bad.body)];
  bodies.splice(5, 0, `{"poolId": "${GOOD_POOLS[0]}"}`);
  bodies.splice(20, 0, `{"poolId": ${GOOD_POOLS[1]}}`);
  bodies.push(`{"poolId": "${GOOD_POOLS[2]}"}`);
  outcomes = await harness.trigger(...bodies);
});

afterAll(async () => {
  await harness.stop();
});

describe(`a corpus of ${badBodies.length} bad trigger messages and ${badPayloads.length} bad invocation payloads`, () => {
  it.each(badBodies)('reports "$name" once, naming $field, without retrying it', ({ body, field }) => {
    const [sent, ...more] = harness.app.triggerQueue.sent.filter((message) => message.body === body);
    expect(more).toEqual([]);
    const records = outcomes.filter((record) => record.messageId === sent?.messageId);
    expect(records).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        code: 'INVALID_MESSAGE',
        field,
        reason: expect.any(String),
      }),
    ]);
  });

  it('gives every bad message exactly one record, and each good one its outcome', () => {
    expect(outcomes.filter((record) => record.code === 'INVALID_MESSAGE')).toHaveLength(badBodies.length);
    expect(
      outcomes
        .filter((record) => record.outcome === 'OPENED')
        .map((record) => record.poolId)
        .sort(),
    ).toEqual(GOOD_POOLS);
    expect(outcomes).toHaveLength(badBodies.length + GOOD_POOLS.length);
  });

  it('keeps every record short, whatever the size of the message', () => {
    for (const record of outcomes) expect(JSON.stringify(record).length).toBeLessThan(600);
  });

  it('sends nothing to Toloka but the good pools, and retries nothing', () => {
    expect(harness.emulator.requests.map((request) => request.path).sort()).toEqual(
      GOOD_POOLS.map((id) => `/pools/${id}/open`),
    );
    expect(harness.app.triggerQueue.deadLetters).toEqual([]);
  });

  it.each(badPayloads)(
    'answers the direct payload "$name" with a FAILED record naming $field',
    async ({ payload, field }) => {
      const before = harness.emulator.requests.length;
      const result = await harness.app.opener(payload);
      expect(result).toMatchObject({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field });
      expect(harness.emulator.requests.length).toBe(before);
    },
  );
});
