/**
 * The openings table as the DynamoDB ledger reads and writes it: the SDK loaded on first use,
 * strongly consistent reads (one item, or several in one `BatchGetItem`), conditional writes, and
 * transactions. Two things real DynamoDB does that the ledger must survive are handled here:
 *
 * - **A write applied whose answer was lost** (a reset, the client's time-out, a 500) is retried
 *   by the SDK; the retry then fails its own condition. Every conditional write therefore carries
 *   a nonce (`lastWrite`), and reads the item back with `ReturnValuesOnConditionCheckFailure:
 *   ALL_OLD`: a refusal that shows its own nonce is the earlier attempt, applied. A transaction
 *   carries a `ClientRequestToken`, which DynamoDB itself answers idempotently for 10 minutes.
 * - **Contention**: DynamoDB cancels a transaction that meets another one on an item
 *   (`TransactionConflict`) and fails a plain write that does (`TransactionConflictException`).
 *   Both are retried here with backoff and jitter; a cancellation on a condition is the caller's.
 *
 * A read or write that fails otherwise comes back as a `LedgerError` (transient).
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
import { type Item, S } from './dynamodb-ledger-items.ts';

interface DynamoSdk {
  readonly client: DynamoDBClient;
  readonly GetItem: typeof GetItemCommand;
  readonly BatchGet: typeof BatchGetItemCommand;
  readonly Put: typeof PutItemCommand;
  readonly Update: typeof UpdateItemCommand;
  readonly TransactWrite: typeof TransactWriteItemsCommand;
  readonly Scan: typeof ScanCommand;
}

export type TransactItems = NonNullable<
  ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']
>;

/** How often keys DynamoDB left unprocessed are asked for, and the base of the backoff between. */
const UNPROCESSED_READ_ATTEMPTS = 5;
const UNPROCESSED_BASE_DELAY_MS = 25;
/**
 * How often a write that met a transaction is tried, and the base of its backoff (full jitter).
 * A step's own write waits out a burst of joins on its opening (50 at once settle within seconds).
 */
export const CONFLICT_ATTEMPTS = 20;
export const CONFLICT_BASE_DELAY_MS = 20;
const CONFLICT_MAX_DELAY_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full jitter: a random wait up to the exponential backoff of `attempt` (0 for the first retry). */
export function conflictBackoffMs(attempt: number): number {
  return Math.random() * Math.min(CONFLICT_MAX_DELAY_MS, CONFLICT_BASE_DELAY_MS * 2 ** (attempt + 1));
}

/** What a conditional write found: applied (now or by an earlier attempt of the same call), or refused. */
export type WriteResult =
  | { readonly applied: true; readonly item?: Item }
  | { readonly applied: false; readonly item?: Item };

/** The transaction met another one on an item (and the caller asked to re-plan rather than retry it). */
export class TransactionConflicted extends Error {
  constructor() {
    super('transaction cancelled: TransactionConflict');
  }
}

/** The transaction was cancelled because a condition did not hold (not a conflict): a lost race. */
export class TransactionRefused extends Error {
  constructor(readonly reasons: readonly string[]) {
    super(`transaction refused: ${reasons.join(', ')}`);
  }
}

export class LedgerTable {
  private loaded: Promise<DynamoSdk> | undefined;

  constructor(
    readonly name: string,
    private readonly clientConfig: DynamoDBClientConfig = {},
    private readonly newNonce: () => string = () => crypto.randomUUID(),
  ) {}

  async getItem(id: string): Promise<Item | undefined> {
    const sdk = await this.sdk();
    try {
      const { Item } = await sdk.client.send(
        new sdk.GetItem({ TableName: this.name, Key: { id: S(id) }, ConsistentRead: true }),
      );
      return Item;
    } catch (error) {
      throw new LedgerError(`cannot read ${id} from ${this.name}`, { cause: error });
    }
  }

  /**
   * Strongly consistent reads of several items in one `BatchGetItem`, in the order asked. Keys
   * DynamoDB leaves unprocessed (throttling) are asked again, a few times, before giving up.
   */
  async getItems(ids: readonly string[]): Promise<(Item | undefined)[]> {
    const sdk = await this.sdk();
    const found = new Map<string, Item>();
    // DynamoDB refuses a batch that names a key twice.
    let keys: Item[] = [...new Set(ids)].map((id) => ({ id: S(id) }));
    try {
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt === UNPROCESSED_READ_ATTEMPTS) throw new Error(`${keys.length} keys left unprocessed`);
        if (attempt > 0) await sleep(UNPROCESSED_BASE_DELAY_MS * 2 ** attempt * Math.random());
        const { Responses, UnprocessedKeys } = await sdk.client.send(
          new sdk.BatchGet({ RequestItems: { [this.name]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of Responses?.[this.name] ?? []) found.set(item.id?.S ?? '', item);
        keys = UnprocessedKeys?.[this.name]?.Keys ?? [];
      }
    } catch (error) {
      throw new LedgerError(`cannot read ${ids.join(', ')} from ${this.name}`, { cause: error });
    }
    return ids.map((id) => found.get(id));
  }

  /**
   * A conditional `UpdateItem` of `id`. `set` are the `SET` clauses (`a = :a`); `add`, `remove`
   * and `del` the other clauses, if any. The nonce goes in with the `SET`s, so a retry that meets
   * its own earlier write counts as applied. `ALL_NEW` comes back when `returnNew` is asked for.
   */
  async update(
    id: string,
    clauses: { set: string[]; add?: string[]; remove?: string[]; del?: string[] },
    condition: string,
    values: Item,
    options: { returnNew?: boolean } = {},
  ): Promise<WriteResult> {
    const sdk = await this.sdk();
    const nonce = this.newNonce();
    const expression = [
      `SET ${[...clauses.set, 'lastWrite = :nonce'].join(', ')}`,
      clauses.add?.length ? `ADD ${clauses.add.join(', ')}` : '',
      clauses.remove?.length ? `REMOVE ${clauses.remove.join(', ')}` : '',
      clauses.del?.length ? `DELETE ${clauses.del.join(', ')}` : '',
    ]
      .filter((part) => part !== '')
      .join(' ');
    const text = `${expression} ${condition}`;
    const command = new sdk.Update({
      TableName: this.name,
      Key: { id: S(id) },
      UpdateExpression: expression,
      ConditionExpression: condition,
      ...(text.includes('#state') ? { ExpressionAttributeNames: { '#state': 'state' } } : {}),
      ExpressionAttributeValues: { ...values, ':nonce': S(nonce) },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ...(options.returnNew === true ? { ReturnValues: 'ALL_NEW' } : {}),
    });
    return this.writing(`cannot update ${id} in ${this.name}`, async () => {
      try {
        const { Attributes } = await sdk.client.send(command);
        return { applied: true, ...(Attributes === undefined ? {} : { item: Attributes }) };
      } catch (error) {
        const old = refusedItem(error);
        if (old === false) throw error;
        // Our own nonce in the refusing item: an earlier attempt of this very call was applied.
        if (old?.lastWrite?.S === nonce) return { applied: true, item: old };
        return { applied: false, ...(old === undefined ? {} : { item: old }) };
      }
    });
  }

  /** A conditional `PutItem`, with the same nonce rule as {@link update}. */
  async put(item: Item, condition: string): Promise<WriteResult> {
    const sdk = await this.sdk();
    const nonce = this.newNonce();
    const command = new sdk.Put({
      TableName: this.name,
      Item: { ...item, lastWrite: S(nonce) },
      ConditionExpression: condition,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return this.writing(`cannot write ${item.id?.S ?? 'an item'} in ${this.name}`, async () => {
      try {
        await sdk.client.send(command);
        return { applied: true };
      } catch (error) {
        const old = refusedItem(error);
        if (old === false) throw error;
        if (old?.lastWrite?.S === nonce) return { applied: true, item: old };
        return { applied: false, ...(old === undefined ? {} : { item: old }) };
      }
    });
  }

  /**
   * A transaction, idempotent by its `ClientRequestToken` (the SDK's own retries of it send the
   * same token, and DynamoDB answers a repeat of an applied one with success). Cancelled for a
   * conflict with another transaction: tried again, with a new token, after a backoff, or, with
   * `onConflict: 'throw'`, {@link TransactionConflicted} for a caller that reads again first (what
   * it meant to write may no longer be right). Cancelled on a condition: {@link TransactionRefused}.
   */
  async transact(items: TransactItems, options: { onConflict?: 'retry' | 'throw' } = {}): Promise<void> {
    const sdk = await this.sdk();
    for (let attempt = 0; ; attempt++) {
      try {
        await sdk.client.send(
          new sdk.TransactWrite({ TransactItems: items, ClientRequestToken: this.newNonce() }),
        );
        return;
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) {
          if (isConflict(error) && options.onConflict === 'throw') throw new TransactionConflicted();
          if (isConflict(error) && attempt + 1 < CONFLICT_ATTEMPTS) {
            await sleep(conflictBackoffMs(attempt));
            continue;
          }
          throw new LedgerError(`cannot write a transaction in ${this.name}`, { cause: error });
        }
        if (reasons.includes('ConditionalCheckFailed')) throw new TransactionRefused(reasons);
        if (reasons.includes('TransactionConflict') && options.onConflict === 'throw') {
          throw new TransactionConflicted();
        }
        if (reasons.includes('TransactionConflict') && attempt + 1 < CONFLICT_ATTEMPTS) {
          await sleep(conflictBackoffMs(attempt));
          continue;
        }
        throw new LedgerError(`transaction cancelled in ${this.name}: ${reasons.join(', ')}`, {
          cause: error,
        });
      }
    }
  }

  /** Runs a write, trying it again after a conflict with a transaction; other failures are a LedgerError. */
  private async writing<T>(what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (isConflict(error) && attempt + 1 < CONFLICT_ATTEMPTS) {
          await sleep(conflictBackoffMs(attempt));
          continue;
        }
        throw new LedgerError(what, { cause: error });
      }
    }
  }

  /** The client and commands, loaded on first use: a cold start that needs no ledger call skips them. */
  sdk(): Promise<DynamoSdk> {
    this.loaded ??= import('@aws-sdk/client-dynamodb').then((sdk) => ({
      client: new sdk.DynamoDBClient(this.clientConfig),
      GetItem: sdk.GetItemCommand,
      BatchGet: sdk.BatchGetItemCommand,
      Put: sdk.PutItemCommand,
      Update: sdk.UpdateItemCommand,
      TransactWrite: sdk.TransactWriteItemsCommand,
      Scan: sdk.ScanCommand,
    }));
    return this.loaded;
  }
}

/** A plain write that met a transaction on its item (DynamoDB's `TransactionConflictException`). */
function isConflict(error: unknown): boolean {
  return (error as { name?: string }).name === 'TransactionConflictException';
}

/**
 * The item a `ConditionalCheckFailedException` returned (undefined: none, the item does not
 * exist), or false for any other error.
 */
function refusedItem(error: unknown): Item | undefined | false {
  if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') return false;
  return (error as { Item?: Item }).Item;
}

/** The cancellation reasons' codes of a cancelled transaction (`None` for items that were fine), or undefined. */
function cancellationReasons(error: unknown): string[] | undefined {
  if ((error as { name?: string }).name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  if (reasons === undefined) {
    // Without reasons (moto sends none for some), the message lists them: "... [ConditionalCheckFailed, None]".
    const listed = /\[([^\]]*)\]/.exec((error as Error).message ?? '')?.[1];
    return listed === undefined ? ['ConditionalCheckFailed'] : listed.split(',').map((code) => code.trim());
  }
  return reasons.map((reason) => reason.Code ?? 'None');
}
