import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import { isTransient, LedgerError } from '../../lambda/runtime/errors.ts';

// The claim reads its trigger and its pool's pointer in one BatchGetItem. DynamoDB may leave keys
// unprocessed when it throttles; moto never does, so these run the real SDK client over a
// transport that answers as DynamoDB would.

interface Seen {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

function scriptedDynamoDb(answers: ((body: Record<string, unknown>) => unknown)[]) {
  const seen: Seen[] = [];
  const requestHandler = {
    async handle(request: { headers: Record<string, string>; body?: string }) {
      const body = JSON.parse(request.body ?? '{}') as Record<string, unknown>;
      seen.push({ target: request.headers['x-amz-target'] ?? '', body });
      const answer = answers.shift();
      if (answer === undefined) throw new Error(`no answer scripted for ${request.headers['x-amz-target']}`);
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from(JSON.stringify(answer(body)))]),
        },
      };
    },
  };
  const ledger = new DynamoDbOpeningsLedger('openings', {
    region: 'eu-west-1',
    endpoint: 'http://dynamodb.invalid',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler,
    maxAttempts: 1,
  });
  return { ledger, seen };
}

const keysOf = (body: Record<string, unknown>) =>
  (
    (body.RequestItems as Record<string, { Keys: { id: { S: string } }[] }> | undefined)?.openings?.Keys ?? []
  ).map((key) => key.id.S);

const claimRequest = () => {
  const nowMs = Date.now();
  return {
    triggerId: 'trigger-1',
    target: { kind: 'pool' as const, id: '42' },
    nowMs,
    deadlineMs: nowMs + 3_600_000,
    leaseMs: 60_000,
  };
};

describe('the DynamoDB ledger reads a claim in one BatchGetItem', () => {
  it('asks for the trigger and the pointer at once, strongly consistent, then starts the opening', async () => {
    const { ledger, seen } = scriptedDynamoDb([() => ({ Responses: { openings: [] } }), () => ({})]);
    const claim = await ledger.claim(claimRequest());
    expect(claim.kind).toBe('started');
    expect(seen.map((call) => call.target)).toEqual([
      'DynamoDB_20120810.BatchGetItem',
      'DynamoDB_20120810.TransactWriteItems',
    ]);
    expect(keysOf(seen[0]?.body ?? {})).toEqual(['trigger#pool:42#trigger-1', 'target#pool:42']);
    expect(seen[0]?.body.RequestItems).toMatchObject({ openings: { ConsistentRead: true } });
  });

  it('asks again for the keys DynamoDB left unprocessed, and only for those', async () => {
    const { ledger, seen } = scriptedDynamoDb([
      () => ({
        Responses: { openings: [] },
        UnprocessedKeys: { openings: { Keys: [{ id: { S: 'target#pool:42' } }], ConsistentRead: true } },
      }),
      () => ({ Responses: { openings: [] } }),
      () => ({}),
    ]);
    expect((await ledger.claim(claimRequest())).kind).toBe('started');
    expect(seen.map((call) => keysOf(call.body))).toEqual([
      ['trigger#pool:42#trigger-1', 'target#pool:42'],
      ['target#pool:42'],
      [],
    ]);
    expect(seen[1]?.body.RequestItems).toMatchObject({ openings: { ConsistentRead: true } });
  });

  it('finds each item by its id whatever order DynamoDB returns them in: a trigger seen before', async () => {
    const request = claimRequest();
    const future = String(Math.ceil((request.nowMs + 86_400_000) / 1000));
    const opening = {
      id: { S: 'opening#o-1' },
      kind: { S: 'opening' },
      target: { S: 'pool:42' },
      triggers: { L: [{ S: 'trigger-1' }] },
      state: { S: 'FOLLOWING' },
      requestedAt: { N: String(request.nowMs) },
      deadline: { N: String(request.deadlineMs) },
      checks: { N: '3' },
    };
    const { ledger, seen } = scriptedDynamoDb([
      () => ({
        Responses: {
          openings: [
            { id: { S: 'target#pool:42' }, kind: { S: 'target' }, openingId: { S: 'o-other' } },
            {
              id: { S: 'trigger#pool:42#trigger-1' },
              kind: { S: 'trigger' },
              openingId: { S: 'o-1' },
              expiration: { N: future },
            },
          ],
        },
      }),
      () => ({ Item: opening }),
    ]);
    const claim = await ledger.claim(request);
    expect(claim).toMatchObject({
      kind: 'seen',
      opening: { openingId: 'o-1', state: 'FOLLOWING', checks: 3 },
    });
    expect(seen.map((call) => call.target)).toEqual([
      'DynamoDB_20120810.BatchGetItem',
      'DynamoDB_20120810.GetItem',
    ]);
    expect(seen[1]?.body).toMatchObject({ Key: { id: { S: 'opening#o-1' } }, ConsistentRead: true });
  });

  it('joins the opening in flight the pointer names, read after the batch', async () => {
    const request = claimRequest();
    const { ledger, seen } = scriptedDynamoDb([
      () => ({
        Responses: {
          openings: [{ id: { S: 'target#pool:42' }, kind: { S: 'target' }, openingId: { S: 'o-2' } }],
        },
      }),
      () => ({
        Item: {
          id: { S: 'opening#o-2' },
          target: { S: 'pool:42' },
          triggers: { L: [{ S: 'trigger-0' }] },
          state: { S: 'FOLLOWING' },
          requestedAt: { N: String(request.nowMs) },
          deadline: { N: String(request.deadlineMs) },
          checks: { N: '0' },
          // Its queued check is due: the opening is carried on, so it is joined.
          carriedUntil: { N: String(request.nowMs + 60_000) },
        },
      }),
      () => ({}),
    ]);
    const claim = await ledger.claim(request);
    expect(claim).toMatchObject({
      kind: 'joined',
      opening: { openingId: 'o-2', triggers: ['trigger-0', 'trigger-1'] },
    });
    expect(seen[2]?.target).toBe('DynamoDB_20120810.TransactWriteItems');
    expect(JSON.stringify(seen[2]?.body)).toContain('"Key":{"id":{"S":"opening#o-2"}}');
  });

  it('gives up with a LedgerError, a transient one, when keys stay unprocessed', async () => {
    const unprocessed = () => ({
      Responses: { openings: [] },
      UnprocessedKeys: {
        openings: { Keys: [{ id: { S: 'trigger#pool:42#trigger-1' } }], ConsistentRead: true },
      },
    });
    const { ledger, seen } = scriptedDynamoDb(Array.from({ length: 5 }, () => unprocessed));
    const error = await ledger.claim(claimRequest()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LedgerError);
    expect(isTransient(error)).toBe(true);
    expect((error as LedgerError).message).toContain('cannot read trigger#pool:42#trigger-1, target#pool:42');
    expect(String((error as LedgerError).cause)).toContain('1 keys left unprocessed');
    expect(seen).toHaveLength(5);
  });
});
