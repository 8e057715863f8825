/**
 * The DynamoDB fault proxy (test/support/dynamodb-fault-proxy.ts) in front of moto, driven by the
 * real AWS SDK: each DynamoDB behaviour it adds to moto, and each fault it injects, as the SDK sees it.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbFaultProxy, type DynamoDbFaultProxyOptions } from '../support/dynamodb-fault-proxy.ts';
import { createOpeningsTable, useMoto } from '../support/moto.ts';

let moto: ReturnType<typeof useMoto>;
let table = '';
/** Straight to moto, for reading back what a write through the proxy did. */
let direct: DynamoDBClient;
const started: Array<{ stop: () => Promise<void> }> = [];
const clients: Array<{ destroy: () => void }> = [];

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  table = await createOpeningsTable('fault-proxy');
  direct = new DynamoDBClient({});
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(started.splice(0).map((proxy) => proxy.stop()));
});

afterAll(() => {
  direct.destroy();
  moto.restore();
});

async function startProxy(options?: DynamoDbFaultProxyOptions): Promise<DynamoDbFaultProxy> {
  const proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), options);
  await proxy.start();
  started.push(proxy);
  return proxy;
}

/** The SDK pointed at the proxy; one attempt unless told, to see the proxy's raw answers. */
function through(proxy: DynamoDbFaultProxy, maxAttempts = 1): DynamoDBClient {
  const client = new DynamoDBClient({ endpoint: proxy.url, maxAttempts });
  clients.push(client);
  return client;
}

let unique = 0;
const fresh = (prefix: string) => `${prefix}-${++unique}-${Math.random().toString(36).slice(2, 8)}`;
const key = (id: string) => ({ id: { S: id } });

async function readBack(id: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await direct.send(
    new GetItemCommand({ TableName: table, Key: key(id), ConsistentRead: true }),
  );
  return Item;
}

/** Waits until `proxy` holds `count` writes in flight. */
async function untilInFlight(proxy: DynamoDbFaultProxy, count: number): Promise<void> {
  for (const giveUpAt = Date.now() + 5_000; proxy.writesInFlight !== count; ) {
    if (Date.now() > giveUpAt) throw new Error(`the proxy never had ${count} writes in flight`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What a rejected promise rejected with (fails the test if it resolved). */
async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Record<string, unknown>;
}

/** Adds one to `n` of each item, in one transaction. */
function increment(ids: string[], token?: string): TransactWriteItemsCommand {
  const input: TransactWriteItemsCommandInput = {
    TransactItems: ids.map((id) => ({
      Update: {
        TableName: table,
        Key: key(id),
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      },
    })),
  };
  if (token !== undefined) input.ClientRequestToken = token;
  return new TransactWriteItemsCommand(input);
}

describe('passing requests through to moto', () => {
  it('forwards a GetItem and answers with the item moto has', async () => {
    const proxy = await startProxy();
    const id = fresh('get');
    await direct.send(new PutItemCommand({ TableName: table, Item: { ...key(id), colour: { S: 'teal' } } }));

    const { Item } = await through(proxy).send(new GetItemCommand({ TableName: table, Key: key(id) }));

    expect(Item).toEqual({ ...key(id), colour: { S: 'teal' } });
    expect(proxy.log).toEqual([
      { operation: 'GetItem', keys: [`${table}/{"id":{"S":"${id}"}}`], action: 'forwarded', status: 200 },
    ]);
  });

  it('forwards other services unchanged: an SQS queue created through it is in moto', async () => {
    const proxy = await startProxy();
    const name = fresh('through-proxy');
    const viaProxy = new SQSClient({ endpoint: proxy.url });
    const viaMoto = new SQSClient({});
    clients.push(viaProxy, viaMoto);

    const { QueueUrl } = await viaProxy.send(new CreateQueueCommand({ QueueName: name }));
    const found = await viaMoto.send(new GetQueueUrlCommand({ QueueName: name }));

    expect(QueueUrl).toMatch(new RegExp(`/${name}$`));
    expect(found.QueueUrl).toMatch(new RegExp(`/${name}$`));
    expect(proxy.log).toEqual([]);
  });
});

describe('lost answers', () => {
  it('lets moto apply the write, then answers the SDK 500 InternalServerError', async () => {
    const proxy = await startProxy();
    proxy.loseAnswers({ operation: 'PutItem', times: 1 });
    const id = fresh('lost');

    const error = await rejection(
      through(proxy).send(
        new PutItemCommand({ TableName: table, Item: { ...key(id), v: { S: 'written' } } }),
      ),
    );

    expect(error.name).toBe('InternalServerError');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 500 });
    expect(await readBack(id)).toEqual({ ...key(id), v: { S: 'written' } });
    expect(proxy.count('lost-answer', 'PutItem')).toBe(1);
  });

  it("makes the SDK's retry of a conditional Put fail ConditionalCheckFailed, though its first attempt wrote the item", async () => {
    const proxy = await startProxy();
    proxy.loseAnswers({ operation: 'PutItem', times: 1 });
    const id = fresh('retried');

    const error = await rejection(
      through(proxy, 3).send(
        new PutItemCommand({
          TableName: table,
          Item: { ...key(id), v: { S: 'first' } },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      ),
    );

    expect(error.name).toBe('ConditionalCheckFailedException');
    expect(error.$metadata).toMatchObject({ attempts: 2 });
    expect(await readBack(id)).toEqual({ ...key(id), v: { S: 'first' } });
    expect(proxy.log.map((entry) => [entry.action, entry.status])).toEqual([
      ['lost-answer', 500],
      ['forwarded', 400],
    ]);
  });

  it('can reset the connection instead, after moto applied the write', async () => {
    const proxy = await startProxy();
    proxy.loseAnswers({ operation: 'UpdateItem', times: 1, how: 'reset' });
    const id = fresh('reset');

    const error = await rejection(
      through(proxy).send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(id),
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { S: 'applied' } },
        }),
      ),
    );

    expect(error.$metadata).not.toHaveProperty('httpStatusCode');
    expect(String(error.message)).toMatch(/socket hang up|ECONNRESET/);
    expect(await readBack(id)).toEqual({ ...key(id), v: { S: 'applied' } });
    expect(proxy.log).toEqual([expect.objectContaining({ action: 'lost-answer', status: 0 })]);
  });

  it('loses only the answers its rule matches, as many times as it says, until cleared', async () => {
    const proxy = await startProxy();
    const [spared, targeted] = [fresh('spared'), fresh('targeted')];
    proxy.loseAnswers({
      operation: 'PutItem',
      times: 2,
      when: (body) => JSON.stringify(body.Item).includes(targeted),
    });
    const client = through(proxy);
    const put = (id: string) => client.send(new PutItemCommand({ TableName: table, Item: key(id) }));

    await put(spared);
    await expect(put(targeted)).rejects.toMatchObject({ name: 'InternalServerError' });
    await expect(put(targeted)).rejects.toMatchObject({ name: 'InternalServerError' });
    await put(targeted);
    proxy.loseAnswers({ operation: 'PutItem', times: 1 });
    proxy.clearFaults();
    await put(spared);

    expect(proxy.log.map((entry) => entry.action)).toEqual([
      'forwarded',
      'lost-answer',
      'lost-answer',
      'forwarded',
      'forwarded',
    ]);
  });
});

describe('transaction idempotency by ClientRequestToken (moto ignores the token)', () => {
  it('answers a replay of an applied transaction with success, without applying it again', async () => {
    const proxy = await startProxy();
    const client = through(proxy);
    const [id, token] = [fresh('replay'), fresh('token')];

    await client.send(increment([id], token));
    const replay = await client.send(increment([id], token));

    expect(replay.$metadata.httpStatusCode).toBe(200);
    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '1' } });
    expect(proxy.count('idempotent-replay', 'TransactWriteItems')).toBe(1);
  });

  it('refuses the same token with other TransactItems: IdempotentParameterMismatchException', async () => {
    const proxy = await startProxy();
    const client = through(proxy);
    const token = fresh('token');
    const [first, other] = [fresh('first'), fresh('other')];

    await client.send(increment([first], token));
    const error = await rejection(client.send(increment([other], token)));

    expect(error.name).toBe('IdempotentParameterMismatchException');
    expect(await readBack(other)).toBeUndefined();
    expect(proxy.count('idempotent-mismatch')).toBe(1);
  });

  it("makes the SDK's retry of a transaction whose answer was lost succeed, applied once", async () => {
    const proxy = await startProxy();
    proxy.loseAnswers({ operation: 'TransactWriteItems', times: 1 });
    const id = fresh('retried-transaction');

    const result = await through(proxy, 3).send(increment([id]));

    expect(result.$metadata.attempts).toBe(2);
    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '1' } });
    expect(proxy.log.map((entry) => entry.action)).toEqual(['lost-answer', 'idempotent-replay']);
  });

  it('refuses the same token while the first transaction is still in flight: TransactionInProgressException', async () => {
    const proxy = await startProxy({ transactionHoldMs: 400 });
    const client = through(proxy);
    const [id, token] = [fresh('in-progress'), fresh('token')];

    const first = client.send(increment([id], token));
    await untilInFlight(proxy, 1);
    const error = await rejection(client.send(increment([id], token)));
    await first;

    expect(error.name).toBe('TransactionInProgressException');
    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '1' } });
  });
});

describe('contention, as DynamoDB answers it (moto serialises instead)', () => {
  it('cancels one of two transactions on one item at once, with TransactionConflict for that item', async () => {
    const proxy = await startProxy({ transactionHoldMs: 500 });
    const client = through(proxy);
    const [shared, ownA, ownB] = [fresh('shared'), fresh('own-a'), fresh('own-b')];

    const outcomes = await Promise.allSettled([
      client.send(increment([shared, ownA])),
      client.send(increment([shared, ownB])),
    ]);

    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(failures).toHaveLength(1);
    const [error] = failures as Array<Record<string, unknown>>;
    expect(error?.name).toBe('TransactionCanceledException');
    expect(error?.CancellationReasons).toEqual([
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
      { Code: 'None' },
    ]);
    expect(error?.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]',
    );
    expect(await readBack(shared)).toEqual({ ...key(shared), n: { N: '1' } });
    expect(proxy.count('conflict', 'TransactWriteItems')).toBe(1);
  });

  it('refuses a plain UpdateItem on an item a transaction holds: TransactionConflictException', async () => {
    const proxy = await startProxy({ transactionHoldMs: 400 });
    const client = through(proxy);
    const id = fresh('held');

    const transaction = client.send(increment([id]));
    await untilInFlight(proxy, 1);
    const error = await rejection(
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(id),
          UpdateExpression: 'SET plain = :v',
          ExpressionAttributeValues: { ':v': { S: 'write' } },
        }),
      ),
    );
    await transaction;

    expect(error.name).toBe('TransactionConflictException');
    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '1' } });
    expect(proxy.count('conflict', 'UpdateItem')).toBe(1);
  });

  it('lets plain writes to one item at once all through (moto applies them one after another)', async () => {
    const proxy = await startProxy();
    const client = through(proxy);
    const id = fresh('plain');
    const add = () =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(id),
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      );

    await Promise.all(Array.from({ length: 8 }, add));

    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '8' } });
    expect(proxy.count('conflict')).toBe(0);
  });

  it('lets overlapping transactions through when contention is off', async () => {
    const proxy = await startProxy({ transactionHoldMs: 300, contention: false });
    const client = through(proxy);
    const id = fresh('no-contention');

    await Promise.all([client.send(increment([id])), client.send(increment([id]))]);

    expect(await readBack(id)).toEqual({ ...key(id), n: { N: '2' } });
    expect(proxy.count('conflict')).toBe(0);
  });
});

describe('throttling', () => {
  it('answers ThrottlingException without forwarding, as many times as the rule says', async () => {
    const proxy = await startProxy();
    proxy.throttle({ operation: 'PutItem', times: 1 });
    const client = through(proxy);
    const id = fresh('throttled');
    const put = () => client.send(new PutItemCommand({ TableName: table, Item: key(id) }));

    const error = await rejection(put());
    expect(error.name).toBe('ThrottlingException');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400 });
    expect(await readBack(id)).toBeUndefined();

    await put();
    expect(await readBack(id)).toEqual(key(id));
    expect(proxy.log.map((entry) => entry.action)).toEqual(['throttled', 'forwarded']);
  });

  it('can answer ProvisionedThroughputExceededException instead, which the SDK retries', async () => {
    const proxy = await startProxy();
    proxy.throttle({ operation: 'UpdateItem', times: 2, code: 'ProvisionedThroughputExceededException' });
    const id = fresh('provisioned');
    const update = new UpdateItemCommand({
      TableName: table,
      Key: key(id),
      UpdateExpression: 'SET v = :v',
      ExpressionAttributeValues: { ':v': { S: 'eventually' } },
    });

    const error = await rejection(through(proxy).send(update));
    const result = await through(proxy, 3).send(update);

    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(result.$metadata.attempts).toBe(2);
    expect(await readBack(id)).toEqual({ ...key(id), v: { S: 'eventually' } });
    expect(proxy.count('throttled', 'UpdateItem')).toBe(2);
  });
});

describe('the 400 KB item size limit', () => {
  const kb = (size: number) => 'x'.repeat(size * 1024);

  it('refuses a 450 KB PutItem whole, with ValidationException', async () => {
    const proxy = await startProxy();
    const id = fresh('big-put');

    const error = await rejection(
      through(proxy).send(
        new PutItemCommand({ TableName: table, Item: { ...key(id), pad: { S: kb(450) } } }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe('Item size has exceeded the maximum allowed size');
    expect(await readBack(id)).toBeUndefined();
    expect(proxy.count('too-large', 'PutItem')).toBe(1);
  });

  it('refuses an UpdateItem that would grow an item past 400 KB, leaving the item unchanged', async () => {
    const proxy = await startProxy();
    const client = through(proxy);
    const id = fresh('big-update');
    const before = { ...key(id), pad: { S: kb(300) } };
    await client.send(new PutItemCommand({ TableName: table, Item: before }));

    const error = await rejection(
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(id),
          UpdateExpression: 'SET small = :small, pad2 = :pad',
          ExpressionAttributeValues: { ':small': { S: 'hello' }, ':pad': { S: kb(150) } },
        }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(await readBack(id)).toEqual(before);
    expect(proxy.count('too-large', 'UpdateItem')).toBe(1);
  });

  it('lets an UpdateItem that keeps the item under 400 KB through', async () => {
    const proxy = await startProxy();
    const client = through(proxy);
    const id = fresh('fits');
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key(id), pad: { S: kb(300) } } }));

    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key(id),
        UpdateExpression: 'SET pad2 = :pad',
        ExpressionAttributeValues: { ':pad': { S: kb(90) } },
      }),
    );

    expect(Object.keys((await readBack(id)) ?? {}).sort()).toEqual(['id', 'pad', 'pad2']);
  });

  it('cancels a transaction with an item over 400 KB, with ValidationError for that item', async () => {
    const proxy = await startProxy();
    const [small, big] = [fresh('small'), fresh('big')];

    const error = await rejection(
      through(proxy).send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: key(small) } },
            {
              Update: {
                TableName: table,
                Key: key(big),
                UpdateExpression: 'SET pad = :pad',
                ExpressionAttributeValues: { ':pad': { S: kb(410) } },
              },
            },
          ],
        }),
      ),
    );

    expect(error.name).toBe('TransactionCanceledException');
    expect(error.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ValidationError', Message: 'Item size has exceeded the maximum allowed size' },
    ]);
    expect(await readBack(small)).toBeUndefined();
    expect(await readBack(big)).toBeUndefined();
  });

  it('is needed: moto alone half-applies such an UpdateItem', async () => {
    const id = fresh('moto-alone');
    await direct.send(new PutItemCommand({ TableName: table, Item: { ...key(id), pad: { S: kb(300) } } }));

    const error = await rejection(
      direct.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(id),
          UpdateExpression: 'SET small = :small, pad2 = :pad',
          ExpressionAttributeValues: { ':small': { S: 'hello' }, ':pad': { S: kb(150) } },
        }),
      ),
    );

    expect(error.name).toBe('ValidationException');
    expect(Object.keys((await readBack(id)) ?? {}).sort()).toEqual(['id', 'pad', 'small']);
  });
});

describe('the request log', () => {
  it("records each DynamoDB request's operation, the keys it touches and what the proxy did", async () => {
    const proxy = await startProxy();
    proxy.throttle({ operation: 'TransactWriteItems', times: 1 });
    const client = through(proxy);
    const [a, b] = [fresh('log-a'), fresh('log-b')];

    await client.send(
      new PutItemCommand({ TableName: table, Item: { ...key(a), extra: { S: 'not a key' } } }),
    );
    await expect(client.send(increment([a, b]))).rejects.toMatchObject({ name: 'ThrottlingException' });

    const keyOf = (id: string) => `${table}/{"id":{"S":"${id}"}}`;
    expect(proxy.log).toEqual([
      { operation: 'PutItem', keys: [keyOf(a)], action: 'forwarded', status: 200 },
      { operation: 'TransactWriteItems', keys: [keyOf(a), keyOf(b)], action: 'throttled', status: 400 },
    ]);
    expect(proxy.count('forwarded')).toBe(1);
    expect(proxy.count('throttled', 'PutItem')).toBe(0);
  });
});
