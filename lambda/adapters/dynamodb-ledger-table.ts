/**
 * The openings table as the DynamoDB ledger reads and writes it: the SDK loaded on first use,
 * strongly consistent reads (one item, or several in one `BatchGetItem`), conditional updates of
 * an opening, and transactions. A read or update that fails other than on its condition comes back
 * as a `LedgerError`; a transaction's failure is the caller's to read (a cancelled one is a lost race).
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

/** How often keys DynamoDB left unprocessed are asked for, and the base of the backoff between. */
const UNPROCESSED_READ_ATTEMPTS = 5;
const UNPROCESSED_BASE_DELAY_MS = 25;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LedgerTable {
  private loaded: Promise<DynamoSdk> | undefined;

  constructor(
    readonly name: string,
    private readonly clientConfig: DynamoDBClientConfig = {},
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

  /** A conditional update of an opening: false when the condition does not hold. */
  async updateOpening(
    openingId: string,
    expression: string,
    condition: string,
    values: Item,
  ): Promise<boolean> {
    const sdk = await this.sdk();
    try {
      await sdk.client.send(
        new sdk.Update({
          TableName: this.name,
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
      throw new LedgerError(`cannot update opening ${openingId} in ${this.name}`, { cause: error });
    }
  }

  async transact(
    items: NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']>,
  ) {
    const sdk = await this.sdk();
    await sdk.client.send(new sdk.TransactWrite({ TransactItems: items }));
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
