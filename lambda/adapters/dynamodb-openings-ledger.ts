/**
 * The openings ledger on DynamoDB (the construct's table: partition key `id`, TTL `expiration`,
 * on demand). Every guarantee rests on conditional writes: a trigger is claimed by a `Put` that
 * fails if it exists, an opening is started or joined in the same transaction, the live check
 * moves by an `Update` conditioned on the previous token, and the outcome is decided by an
 * `Update` conditioned on not being decided yet. The SDK client is loaded on first use.
 */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
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
import { LedgerTable } from './dynamodb-ledger-table.ts';

export class DynamoDbOpeningsLedger implements OpeningsLedger {
  private readonly table: LedgerTable;

  constructor(
    tableName: string,
    clientConfig: DynamoDBClientConfig = {},
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {
    this.table = new LedgerTable(tableName, clientConfig);
  }

  async claim(request: ClaimRequest): Promise<Claim> {
    const expiration = N(Math.ceil((request.deadlineMs + LEDGER_RETENTION_MS) / 1000));
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      // Both reads in one round trip. The pointer matters only for a new trigger; a trigger seen
      // before (a redelivery) pays its read for nothing, the price of the round trip saved.
      const [seen, pointer] = await this.table.getItems([
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
          TableName: this.table.name,
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
          await this.table.transact([
            triggerPut,
            {
              Update: {
                TableName: this.table.name,
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
        await this.table.transact([
          triggerPut,
          {
            Put: {
              TableName: this.table.name,
              Item: openingItem(opening, expiration),
              ConditionExpression: 'attribute_not_exists(id)',
            },
          },
          {
            Put: {
              TableName: this.table.name,
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
    const item = await this.table.getItem(`opening#${openingId}`);
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
      const taken = await this.table.updateOpening(
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
    const taken = await this.table.updateOpening(
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
    await this.table.updateOpening(openingId, 'SET leaseUntil = :now', 'checkToken = :token', {
      ':now': N(nowMs),
      ':token': S(token),
    });
  }

  follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean> {
    return this.table.updateOpening(
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
    const sdk = await this.table.sdk();
    try {
      await sdk.client.send(
        new sdk.Put({
          TableName: this.table.name,
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
      throw new LedgerError(`cannot note ${key} in ${this.table.name}`, { cause: error });
    }
  }

  passCheck(openingId: string, from: string, to: string, checks: number): Promise<boolean> {
    return this.table.updateOpening(
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
    const sdk = await this.table.sdk();
    try {
      // ALL_NEW: the triggers as they stood when the decision was written, which no join can follow.
      const { Attributes } = await sdk.client.send(
        new sdk.Update({
          TableName: this.table.name,
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
      throw new LedgerError(`cannot decide opening ${openingId} in ${this.table.name}`, { cause: error });
    }
  }

  takeReport(openingId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    return this.table.updateOpening(
      openingId,
      'SET reportLeaseUntil = :lease',
      '#state = :decided AND attribute_not_exists(reportedAt) AND reportLeaseUntil <= :now',
      { ':decided': S('DECIDED'), ':now': N(nowMs), ':lease': N(nowMs + leaseMs) },
    );
  }

  async markReported(openingId: string, nowMs: number): Promise<void> {
    await this.table.updateOpening(openingId, 'SET reportedAt = :now', 'attribute_exists(id)', {
      ':now': N(nowMs),
    });
  }

  async list(filter: OpeningFilter): Promise<Opening[]> {
    const sdk = await this.table.sdk();
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
            TableName: this.table.name,
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
      throw new LedgerError(`cannot read the openings in ${this.table.name}`, { cause: error });
    }
    return openings.sort((a, b) => b.requestedAtMs - a.requestedAtMs).slice(0, filter.limit ?? 100);
  }
}
