/**
 * The openings ledger on DynamoDB (the construct's table: partition key `id`, TTL `expiration`,
 * on demand). Every guarantee rests on conditional writes: a trigger is claimed by a `Put` that
 * fails if it exists, an opening is started, joined or taken over in the same transaction
 * (dynamodb-ledger-claim.ts), the live step moves by an `Update` conditioned on the previous
 * token, and the outcome is decided by an `Update` conditioned on not being decided yet. Each
 * conditional write knows its own earlier attempt (dynamodb-ledger-table.ts), so a write DynamoDB
 * applied whose answer was lost still counts as the caller's.
 */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { LedgerError } from '../runtime/errors.ts';
import type { OutcomeRecord } from '../runtime/model.ts';
import {
  type Acquired,
  type Claim,
  type ClaimRequest,
  IN_PROCESS_PREFIX,
  isCarried,
  LEDGER_RETENTION_MS,
  type Opening,
  type OpeningFilter,
  type OpeningsLedger,
  targetKey,
} from '../runtime/openings-ledger.ts';
import { claimOnTable, takeOverWrites } from './dynamodb-ledger-claim.ts';
import { type Item, N, S, toOpening } from './dynamodb-ledger-items.ts';
import { LedgerTable, TransactionRefused } from './dynamodb-ledger-table.ts';

export class DynamoDbOpeningsLedger implements OpeningsLedger {
  private readonly table: LedgerTable;

  constructor(
    tableName: string,
    clientConfig: DynamoDBClientConfig = {},
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {
    this.table = new LedgerTable(tableName, clientConfig);
  }

  claim(request: ClaimRequest): Promise<Claim> {
    return claimOnTable(this.table, request, (id) => this.get(id), this.newId);
  }

  async get(openingId: string): Promise<Opening | undefined> {
    if (openingId === '') return undefined;
    const item = await this.table.getItem(`opening#${openingId}`);
    return item === undefined ? undefined : toOpening(openingId, item);
  }

  async acquire(
    openingId: string,
    fromToken: string,
    nowMs: number,
    leaseMs: number,
    carrier?: string,
  ): Promise<Acquired> {
    const opening = await this.get(openingId);
    if (opening === undefined) return { kind: 'stale' };
    if (opening.state === 'DECIDED') return { kind: 'decided', opening };
    const running = opening.checkToken?.startsWith(IN_PROCESS_PREFIX) === true;
    const token = `${IN_PROCESS_PREFIX}${this.newId()}`;
    const held = { ...opening, checkToken: token, leaseUntilMs: nowMs + leaseMs };
    // A trigger's step names its trigger as the carrier; a check's step carries no trigger.
    const carrierSet = carrier === undefined ? [] : ['carrier = :carrier'];
    const carrierRemove = carrier === undefined ? ['carrier'] : [];
    const carrierValue: Item = carrier === undefined ? {} : { ':carrier': S(carrier) };
    const acquired = (): Acquired => ({
      kind: 'acquired',
      token,
      opening: carrier === undefined ? withoutCarrier(held) : { ...held, carrier },
    });
    if (opening.checkToken === fromToken) {
      const taken = await this.table.update(
        `opening#${openingId}`,
        {
          set: ['checkToken = :token', 'previousToken = :from', 'leaseUntil = :lease', ...carrierSet],
          remove: carrierRemove,
        },
        'checkToken = :from AND #state <> :decided',
        {
          ':token': S(token),
          ':from': S(fromToken),
          ':lease': N(nowMs + leaseMs),
          ':decided': S('DECIDED'),
          ...carrierValue,
        },
      );
      // Lost to a copy of this step that got there first: it runs now.
      return taken.applied ? acquired() : { kind: 'busy', opening };
    }
    if (running && opening.previousToken === fromToken) {
      if ((opening.leaseUntilMs ?? 0) > nowMs) return { kind: 'busy', opening };
      // The step that held it died (its lease ran out): this copy of the same step takes over.
      const taken = await this.table.update(
        `opening#${openingId}`,
        {
          set: ['checkToken = :token', 'leaseUntil = :lease', ...carrierSet],
          remove: carrierRemove,
        },
        'checkToken = :held AND leaseUntil <= :now AND #state <> :decided',
        {
          ':token': S(token),
          ':held': S(opening.checkToken ?? ''),
          ':lease': N(nowMs + leaseMs),
          ':now': N(nowMs),
          ':decided': S('DECIDED'),
          ...carrierValue,
        },
      );
      return taken.applied ? acquired() : { kind: 'busy', opening };
    }
    // A step holds it (running, or released with its message due back): a message meeting it may
    // be the next check, sent before the step passed it the token, so it comes back (busy).
    if (isCarried(opening, nowMs)) return running ? { kind: 'busy', opening } : { kind: 'stale', opening };
    // Nothing carries it any more (its message is in a dead-letter queue, or was deleted): taken over.
    try {
      await this.table.transact(
        takeOverWrites(this.table, opening, {
          token,
          from: fromToken,
          ...(carrier === undefined ? {} : { carrier }),
          nowMs,
          leaseMs,
          joining: false,
        }),
      );
    } catch (error) {
      if (error instanceof TransactionRefused) return { kind: 'busy', opening };
      throw error;
    }
    const after = await this.get(openingId);
    return after === undefined || after.checkToken !== token
      ? { kind: 'busy', opening }
      : { kind: 'acquired', token, opening: after };
  }

  async release(openingId: string, token: string, nowMs: number, carriedUntilMs: number): Promise<void> {
    await this.table.update(
      `opening#${openingId}`,
      { set: ['leaseUntil = :now', 'carriedUntil = :carried'] },
      'checkToken = :token',
      { ':now': N(nowMs), ':carried': N(carriedUntilMs), ':token': S(token) },
    );
  }

  async follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean> {
    const result = await this.table.update(
      `opening#${openingId}`,
      { set: ['#state = :following', 'operationId = :operation', 'checks = :checks'] },
      'checkToken = :token AND #state <> :decided',
      {
        ':following': S('FOLLOWING'),
        ':operation': S(operationId),
        ':token': S(token),
        ':checks': N(checks),
        ':decided': S('DECIDED'),
      },
    );
    return result.applied;
  }

  async firstTime(key: string, nowMs: number): Promise<boolean> {
    const result = await this.table.put(
      {
        id: S(`once#${key}`),
        kind: S('once'),
        expiration: N(Math.ceil((nowMs + LEDGER_RETENTION_MS) / 1000)),
      },
      'attribute_not_exists(id)',
    );
    return result.applied;
  }

  async passCheck(
    openingId: string,
    from: string,
    to: string,
    checks: number,
    carriedUntilMs: number,
  ): Promise<boolean> {
    const result = await this.table.update(
      `opening#${openingId}`,
      { set: ['checkToken = :to', 'checks = :checks', 'carriedUntil = :carried'], remove: ['carrier'] },
      'checkToken = :from AND #state <> :decided',
      {
        ':to': S(to),
        ':from': S(from),
        ':checks': N(checks),
        ':carried': N(carriedUntilMs),
        ':decided': S('DECIDED'),
      },
    );
    return result.applied;
  }

  async decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
    token?: string,
  ): Promise<Opening | undefined> {
    // ALL_NEW: the triggers as they stood when the decision was written, which no join can follow.
    // A retry that meets its own decision gets the item back (ALL_OLD of the refusal): it decided.
    const result = await this.table.update(
      `opening#${openingId}`,
      { set: ['#state = :decided', 'outcome = :outcome', 'decidedAt = :now', 'reportLeaseUntil = :lease'] },
      `attribute_exists(id) AND #state <> :decided${token === undefined ? '' : ' AND checkToken = :token'}`,
      {
        ':decided': S('DECIDED'),
        ':outcome': S(JSON.stringify(outcome)),
        ':now': N(nowMs),
        ':lease': N(nowMs + leaseMs),
        ...(token === undefined ? {} : { ':token': S(token) }),
      },
      { returnNew: true },
    );
    return result.applied && result.item !== undefined ? toOpening(openingId, result.item) : undefined;
  }

  async takeReport(openingId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    const result = await this.table.update(
      `opening#${openingId}`,
      { set: ['reportLeaseUntil = :lease'] },
      '#state = :decided AND attribute_not_exists(reportedAt) AND reportLeaseUntil <= :now',
      { ':decided': S('DECIDED'), ':now': N(nowMs), ':lease': N(nowMs + leaseMs) },
    );
    return result.applied;
  }

  async markReported(openingId: string, nowMs: number): Promise<void> {
    await this.table.update(`opening#${openingId}`, { set: ['reportedAt = :now'] }, 'attribute_exists(id)', {
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

function withoutCarrier(opening: Opening): Opening {
  const { carrier: _carrier, ...rest } = opening;
  return rest;
}
