/**
 * The openings ledger on DynamoDB (the construct's table: partition key `id`, TTL `expiration`,
 * on demand). Every guarantee rests on conditional writes: a trigger is claimed by a `Put` that
 * fails if it exists, an opening is started or joined in the same transaction, the live check
 * moves by an `Update` conditioned on the previous token, and the outcome is decided by an
 * `Update` conditioned on not being decided yet. The SDK client is loaded on first use.
 */
import type {
  BatchGetItemCommand,
  DynamoDBClient,
  DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LedgerError } from '../runtime/errors.ts';
import type { OutcomeRecord } from '../runtime/model.ts';
import {
  type Acquired,
  type Claim,
  type ClaimRequest,
  IN_PROCESS_PREFIX,
  LEDGER_RETENTION_MS,
  MAX_CLAIM_ROUNDS,
  newOpening,
  type Opening,
  type OpeningFilter,
  type OpeningsLedger,
  targetKey,
} from '../runtime/openings-ledger.ts';
import { type Item, isCancelled, N, openingItem, S, toOpening } from './dynamodb-ledger-items.ts';

interface DynamoSdk {
  readonly client: DynamoDBClient;
  readonly GetItem: typeof GetItemCommand;
  readonly BatchGet: typeof BatchGetItemCommand;
  readonly Put: typeof PutItemCommand;
  readonly Update: typeof UpdateItemCommand;
  readonly TransactWrite: typeof TransactWriteItemsCommand;
  readonly Scan: typeof ScanCommand;
}

/** How often keys DynamoDB left unprocessed are asked for, and the base of the backoff between. */
const UNPROCESSED_READ_ATTEMPTS = 5;
const UNPROCESSED_BASE_DELAY_MS = 25;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DynamoDbOpeningsLedger implements OpeningsLedger {
  private sdk: Promise<DynamoSdk> | undefined;

  constructor(
    private readonly tableName: string,
    private readonly clientConfig: DynamoDBClientConfig = {},
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {}

  async claim(request: ClaimRequest): Promise<Claim> {
    const sdk = await this.loadSdk();
    const expiration = N(Math.ceil((request.deadlineMs + LEDGER_RETENTION_MS) / 1000));
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      // Both reads in one round trip. The pointer matters only for a new trigger; a trigger seen
      // before (a redelivery) pays its read for nothing, the price of the round trip saved.
      const [seen, pointer] = await this.getItems([
        `trigger#${request.triggerId}`,
        `target#${targetKey(request.target)}`,
      ]);
      // A trigger entry whose opening is gone (TTL removes entries one by one): claimed anew.
      let staleOpeningId: string | undefined;
      if (seen !== undefined) {
        const own = await this.get(seen.openingId?.S ?? '');
        if (own !== undefined) return { kind: 'seen', opening: own };
        // Only an entry past its expiration lost its opening to TTL; a fresh one is a claim
        // being written right now (read again next round).
        if (Number(seen.expiration?.N ?? 0) * 1000 <= request.nowMs) staleOpeningId = seen.openingId?.S ?? '';
        else continue;
      }
      const currentId = pointer?.openingId?.S;
      const current = currentId === undefined ? undefined : await this.get(currentId);
      const triggerPut = {
        Put: {
          TableName: this.tableName,
          Item: { id: S(`trigger#${request.triggerId}`), kind: S('trigger'), openingId: S(''), expiration },
          ...(staleOpeningId === undefined
            ? { ConditionExpression: 'attribute_not_exists(id)' }
            : {
                ConditionExpression: 'openingId = :stale',
                ExpressionAttributeValues: { ':stale': S(staleOpeningId) },
              }),
        },
      };
      try {
        if (current !== undefined && current.state !== 'DECIDED') {
          triggerPut.Put.Item.openingId = S(current.openingId);
          await this.transact(sdk, [
            triggerPut,
            {
              Update: {
                TableName: this.tableName,
                Key: { id: S(`opening#${current.openingId}`) },
                UpdateExpression: 'SET triggers = list_append(triggers, :trigger), updatedAt = :now',
                ConditionExpression: '#state <> :decided',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: {
                  ':trigger': { L: [S(request.triggerId)] },
                  ':now': N(request.nowMs),
                  ':decided': S('DECIDED'),
                },
              },
            },
          ]);
          return {
            kind: 'joined',
            opening: { ...current, triggers: [...current.triggers, request.triggerId] },
          };
        }
        const token = `${IN_PROCESS_PREFIX}${this.newId()}`;
        const opening = newOpening(request, this.newId(), token);
        triggerPut.Put.Item.openingId = S(opening.openingId);
        await this.transact(sdk, [
          triggerPut,
          {
            Put: {
              TableName: this.tableName,
              Item: openingItem(opening, expiration),
              ConditionExpression: 'attribute_not_exists(id)',
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: {
                id: S(`target#${targetKey(request.target)}`),
                kind: S('target'),
                openingId: S(opening.openingId),
                expiration,
              },
              // Only over the pointer this round read: two starters race, one wins, the other joins.
              ...(currentId === undefined
                ? { ConditionExpression: 'attribute_not_exists(id)' }
                : {
                    ConditionExpression: 'openingId = :current',
                    ExpressionAttributeValues: { ':current': S(currentId) },
                  }),
            },
          },
        ]);
        return { kind: 'started', opening, token };
      } catch (error) {
        if (!isCancelled(error))
          throw new LedgerError(`cannot claim trigger ${request.triggerId}`, { cause: error });
        // Someone else moved first (the same trigger, or another opening of the target): read again.
      }
    }
    throw new LedgerError(
      `trigger ${request.triggerId} lost ${MAX_CLAIM_ROUNDS} races in a row for ${targetKey(request.target)}`,
    );
  }

  async get(openingId: string): Promise<Opening | undefined> {
    if (openingId === '') return undefined;
    const item = await this.getItem(`opening#${openingId}`);
    return item === undefined ? undefined : toOpening(openingId, item);
  }

  async acquire(openingId: string, fromToken: string, nowMs: number, leaseMs: number): Promise<Acquired> {
    const opening = await this.get(openingId);
    if (opening === undefined) return { kind: 'stale' };
    if (opening.state === 'DECIDED') return { kind: 'decided', opening };
    const running = opening.checkToken?.startsWith(IN_PROCESS_PREFIX) === true;
    const token = `${IN_PROCESS_PREFIX}${this.newId()}`;
    const lease = N(nowMs + leaseMs);
    if (opening.checkToken === fromToken) {
      const taken = await this.update(
        openingId,
        'SET checkToken = :token, previousToken = :from, leaseUntil = :lease',
        'checkToken = :from AND #state <> :decided',
        { ':token': S(token), ':from': S(fromToken), ':lease': lease, ':decided': S('DECIDED') },
      );
      // Lost to a copy of this step that got there first: it runs now.
      return taken
        ? { kind: 'acquired', token, opening: { ...opening, checkToken: token } }
        : { kind: 'busy', opening };
    }
    if (!running || opening.previousToken !== fromToken) return { kind: 'stale', opening };
    if ((opening.leaseUntilMs ?? 0) > nowMs) return { kind: 'busy', opening };
    // The step that held it died (its lease ran out): this copy of the same step takes over.
    const taken = await this.update(
      openingId,
      'SET checkToken = :token, leaseUntil = :lease',
      'checkToken = :held AND leaseUntil <= :now AND #state <> :decided',
      {
        ':token': S(token),
        ':held': S(opening.checkToken ?? ''),
        ':lease': lease,
        ':now': N(nowMs),
        ':decided': S('DECIDED'),
      },
    );
    return taken
      ? { kind: 'acquired', token, opening: { ...opening, checkToken: token } }
      : { kind: 'busy', opening };
  }

  async release(openingId: string, token: string, nowMs: number): Promise<void> {
    await this.update(openingId, 'SET leaseUntil = :now', 'checkToken = :token', {
      ':now': N(nowMs),
      ':token': S(token),
    });
  }

  follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean> {
    return this.update(
      openingId,
      'SET #state = :following, operationId = :operation, checks = :checks',
      'checkToken = :token AND #state <> :decided',
      {
        ':following': S('FOLLOWING'),
        ':operation': S(operationId),
        ':token': S(token),
        ':checks': N(checks),
        ':decided': S('DECIDED'),
      },
    );
  }

  async firstTime(key: string, nowMs: number): Promise<boolean> {
    const sdk = await this.loadSdk();
    try {
      await sdk.client.send(
        new sdk.Put({
          TableName: this.tableName,
          Item: {
            id: S(`once#${key}`),
            kind: S('once'),
            expiration: N(Math.ceil((nowMs + LEDGER_RETENTION_MS) / 1000)),
          },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw new LedgerError(`cannot note ${key} in ${this.tableName}`, { cause: error });
    }
  }

  passCheck(openingId: string, from: string, to: string, checks: number): Promise<boolean> {
    return this.update(
      openingId,
      'SET checkToken = :to, checks = :checks',
      'checkToken = :from AND #state <> :decided',
      {
        ':to': S(to),
        ':from': S(from),
        ':checks': N(checks),
        ':decided': S('DECIDED'),
      },
    );
  }

  async decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
  ): Promise<Opening | undefined> {
    const sdk = await this.loadSdk();
    try {
      // ALL_NEW: the triggers as they stood when the decision was written, which no join can follow.
      const { Attributes } = await sdk.client.send(
        new sdk.Update({
          TableName: this.tableName,
          Key: { id: S(`opening#${openingId}`) },
          UpdateExpression:
            'SET #state = :decided, outcome = :outcome, decidedAt = :now, reportLeaseUntil = :lease',
          ConditionExpression: 'attribute_exists(id) AND #state <> :decided',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':decided': S('DECIDED'),
            ':outcome': S(JSON.stringify(outcome)),
            ':now': N(nowMs),
            ':lease': N(nowMs + leaseMs),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes === undefined ? undefined : toOpening(openingId, Attributes);
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return undefined;
      throw new LedgerError(`cannot decide opening ${openingId} in ${this.tableName}`, { cause: error });
    }
  }

  takeReport(openingId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    return this.update(
      openingId,
      'SET reportLeaseUntil = :lease',
      '#state = :decided AND attribute_not_exists(reportedAt) AND reportLeaseUntil <= :now',
      { ':decided': S('DECIDED'), ':now': N(nowMs), ':lease': N(nowMs + leaseMs) },
    );
  }

  async markReported(openingId: string, nowMs: number): Promise<void> {
    await this.update(openingId, 'SET reportedAt = :now', 'attribute_exists(id)', { ':now': N(nowMs) });
  }

  async list(filter: OpeningFilter): Promise<Opening[]> {
    const sdk = await this.loadSdk();
    const openings: Opening[] = [];
    let start: Item | undefined;
    const values: Item = { ':opening': S('opening') };
    const conditions = ['kind = :opening'];
    if (filter.sinceMs !== undefined) {
      conditions.push('requestedAt >= :since');
      values[':since'] = N(filter.sinceMs);
    }
    if (filter.target !== undefined) {
      conditions.push('target = :target');
      values[':target'] = S(targetKey(filter.target));
    }
    try {
      do {
        const page = await sdk.client.send(
          new sdk.Scan({
            TableName: this.tableName,
            FilterExpression: conditions.join(' AND '),
            ExpressionAttributeValues: values,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        );
        for (const item of page.Items ?? []) {
          const opening = toOpening((item.id?.S ?? '').replace(/^opening#/, ''), item);
          if (opening !== undefined) openings.push(opening);
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw new LedgerError(`cannot read the openings in ${this.tableName}`, { cause: error });
    }
    return openings.sort((a, b) => b.requestedAtMs - a.requestedAtMs).slice(0, filter.limit ?? 100);
  }

  private async getItem(id: string): Promise<Item | undefined> {
    const sdk = await this.loadSdk();
    try {
      const { Item } = await sdk.client.send(
        new sdk.GetItem({ TableName: this.tableName, Key: { id: S(id) }, ConsistentRead: true }),
      );
      return Item;
    } catch (error) {
      throw new LedgerError(`cannot read ${id} from ${this.tableName}`, { cause: error });
    }
  }

  /**
   * Strongly consistent reads of several items in one `BatchGetItem`, in the order asked. Keys
   * DynamoDB leaves unprocessed (throttling) are asked again, a few times, before giving up.
   */
  private async getItems(ids: readonly string[]): Promise<(Item | undefined)[]> {
    const sdk = await this.loadSdk();
    const found = new Map<string, Item>();
    // DynamoDB refuses a batch that names a key twice.
    let keys: Item[] = [...new Set(ids)].map((id) => ({ id: S(id) }));
    try {
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt === UNPROCESSED_READ_ATTEMPTS) throw new Error(`${keys.length} keys left unprocessed`);
        if (attempt > 0) await sleep(UNPROCESSED_BASE_DELAY_MS * 2 ** attempt * Math.random());
        const { Responses, UnprocessedKeys } = await sdk.client.send(
          new sdk.BatchGet({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of Responses?.[this.tableName] ?? []) found.set(item.id?.S ?? '', item);
        keys = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    } catch (error) {
      throw new LedgerError(`cannot read ${ids.join(', ')} from ${this.tableName}`, { cause: error });
    }
    return ids.map((id) => found.get(id));
  }

  /** A conditional update of an opening: false when the condition does not hold. */
  private async update(
    openingId: string,
    expression: string,
    condition: string,
    values: Item,
  ): Promise<boolean> {
    const sdk = await this.loadSdk();
    try {
      await sdk.client.send(
        new sdk.Update({
          TableName: this.tableName,
          Key: { id: S(`opening#${openingId}`) },
          UpdateExpression: expression,
          ConditionExpression: condition,
          ...(expression.includes('#state') || condition.includes('#state')
            ? { ExpressionAttributeNames: { '#state': 'state' } }
            : {}),
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw new LedgerError(`cannot update opening ${openingId} in ${this.tableName}`, { cause: error });
    }
  }

  private async transact(
    sdk: DynamoSdk,
    items: NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']>,
  ) {
    await sdk.client.send(new sdk.TransactWrite({ TransactItems: items }));
  }

  private loadSdk(): Promise<DynamoSdk> {
    this.sdk ??= import('@aws-sdk/client-dynamodb').then((sdk) => ({
      client: new sdk.DynamoDBClient(this.clientConfig),
      GetItem: sdk.GetItemCommand,
      BatchGet: sdk.BatchGetItemCommand,
      Put: sdk.PutItemCommand,
      Update: sdk.UpdateItemCommand,
      TransactWrite: sdk.TransactWriteItemsCommand,
      Scan: sdk.ScanCommand,
    }));
    return this.sdk;
  }
}
