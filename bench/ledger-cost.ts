/**
 * The openings ledger's DynamoDB request units, from the calls the app made (counted at the proxy)
 * and the sizes of the items they touched (read from the table afterwards).
 *
 * moto reports no real consumed capacity (a fixed 1 or 0.5 whatever the call), so the units are
 * worked out here by DynamoDB's documented rules for on-demand tables: a strongly consistent read
 * is 1 read unit per 4 KB of the item (a missing item still costs 1), each key of a BatchGetItem
 * as its own read; a write 1 write unit per 1 KB
 * of the item (PutItem, UpdateItem, DeleteItem), also when its condition fails; a write inside
 * TransactWriteItems 2 per 1 KB. A cancelled transaction is counted like one that went through:
 * an upper bound. The sizes are those of the items as they stand at the end of the run: each item
 * only gains attributes, so that is the largest it ever was.
 */
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type AwsCall, MOTO_CREDENTIALS, REGION } from './infra.ts';

export const DYNAMODB_SERVICE = 'DynamoDB_20120810';

/** What one opening cost in the ledger. */
export interface LedgerUsage {
  /** DynamoDB calls by action: `{ GetItem: 3, TransactWriteItems: 1, … }`. */
  readonly calls: Readonly<Record<string, number>>;
  /** Calls DynamoDB refused on a condition (a lost race, a duplicate): they are billed too. */
  readonly refused: number;
  readonly readUnits: number;
  readonly writeUnits: number;
}

type Item = Record<string, AttributeValue>;

/** An item's size as DynamoDB bills it: attribute names plus values, in UTF-8 bytes. */
export function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  // A number: about one byte per two significant digits, plus one.
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 0);
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.SS !== undefined) return value.SS.reduce((sum, element) => sum + Buffer.byteLength(element), 0);
  if (value.B !== undefined) return value.B.length;
  return 0;
}

/** Every item in the table, by `id`, with its size. */
export async function itemSizes(endpoint: string, tableName: string): Promise<Map<string, number>> {
  const dynamodb = new DynamoDBClient({ endpoint, region: REGION, credentials: MOTO_CREDENTIALS });
  const sizes = new Map<string, number>();
  try {
    let start: Item | undefined;
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const id = item.id?.S;
        if (id !== undefined) sizes.set(id, itemBytes(item));
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  } finally {
    dynamodb.destroy();
  }
  return sizes;
}

/** The `id`s of the items a DynamoDB call touches. */
export function touchedIds(call: AwsCall): string[] {
  const body = call.body ?? {};
  const idOf = (holder: unknown): string | undefined => {
    const record = holder as { Key?: Item; Item?: Item } | undefined;
    return record?.Key?.id?.S ?? record?.Item?.id?.S;
  };
  if (call.action === 'BatchGetItem') {
    const tables = Object.values((body.RequestItems ?? {}) as Record<string, { Keys?: Item[] }>);
    return tables
      .flatMap((table) => (table.Keys ?? []).map((key) => key.id?.S))
      .filter((id) => id !== undefined);
  }
  if (call.action === 'TransactWriteItems') {
    const items = (body.TransactItems ?? []) as Array<Record<string, unknown>>;
    return items.flatMap((entry) => Object.values(entry).map(idOf)).filter((id) => id !== undefined);
  }
  const id = idOf(body);
  return id === undefined ? [] : [id];
}

const KB = 1024;

/** Read and write units of one call, by the rules above. */
export function callUnits(
  call: AwsCall,
  sizes: ReadonlyMap<string, number>,
): { read: number; write: number } {
  const units = (id: string, per: number) => Math.max(1, Math.ceil((sizes.get(id) ?? 0) / per));
  const ids = touchedIds(call);
  switch (call.action) {
    case 'GetItem': {
      const consistent = call.body?.ConsistentRead === true;
      return { read: ids.reduce((sum, id) => sum + units(id, 4 * KB) * (consistent ? 1 : 0.5), 0), write: 0 };
    }
    case 'BatchGetItem': {
      // Each key is read as a GetItem of its own would be (a missing one costs the minimum too).
      const tables = Object.values(
        (call.body?.RequestItems ?? {}) as Record<string, { ConsistentRead?: boolean }>,
      );
      const consistent = tables.every((table) => table.ConsistentRead === true);
      return { read: ids.reduce((sum, id) => sum + units(id, 4 * KB) * (consistent ? 1 : 0.5), 0), write: 0 };
    }
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return { read: 0, write: ids.reduce((sum, id) => sum + units(id, KB), 0) };
    case 'TransactWriteItems':
      return { read: 0, write: ids.reduce((sum, id) => sum + 2 * units(id, KB), 0) };
    default:
      throw new Error(`the ledger cost has no rule for DynamoDB ${call.action}`);
  }
}

/** What the calls touching any of `ids` cost; the calls are the app's DynamoDB calls. */
export function ledgerUsage(
  calls: readonly AwsCall[],
  ids: ReadonlySet<string>,
  sizes: ReadonlyMap<string, number>,
): LedgerUsage {
  const mine = calls.filter((call) => touchedIds(call).some((id) => ids.has(id)));
  const counts: Record<string, number> = {};
  let readUnits = 0;
  let writeUnits = 0;
  for (const call of mine) {
    counts[call.action] = (counts[call.action] ?? 0) + 1;
    const units = callUnits(call, sizes);
    readUnits += units.read;
    writeUnits += units.write;
  }
  return {
    calls: counts,
    refused: mine.filter((call) => call.status !== undefined && call.status >= 400).length,
    readUnits,
    writeUnits,
  };
}
