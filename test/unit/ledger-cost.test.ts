import { describe, expect, it } from 'vitest';
import type { AwsCall } from '../../bench/infra.ts';
import { callUnits, itemBytes, ledgerUsage } from '../../bench/ledger-cost.ts';

// The bench's ledger cost follows DynamoDB's on-demand rules; these pin the rules it applies.

const call = (action: string, body: Record<string, unknown>, status = 200): AwsCall => ({
  at: 0,
  action,
  service: 'DynamoDB_20120810',
  driver: false,
  body,
  status,
});

describe('the ledger cost of the bench', () => {
  it('sizes an item as its attribute names and values in UTF-8 bytes', () => {
    expect(itemBytes({ id: { S: 'opening#ab' }, kind: { S: 'é' } })).toBe(2 + 10 + 4 + 2);
    expect(itemBytes({ checks: { N: '12345' } })).toBe(6 + 4);
    expect(itemBytes({ triggers: { L: [{ S: 'abc' }] } })).toBe(8 + 3 + 1 + 3);
  });

  it('counts a strongly consistent read 1 unit per 4 KB and a missing item as 1', () => {
    const sizes = new Map([['big', 9_000]]);
    expect(callUnits(call('GetItem', { Key: { id: { S: 'big' } }, ConsistentRead: true }), sizes)).toEqual({
      read: 3,
      write: 0,
    });
    expect(callUnits(call('GetItem', { Key: { id: { S: 'gone' } }, ConsistentRead: true }), sizes).read).toBe(
      1,
    );
    expect(callUnits(call('GetItem', { Key: { id: { S: 'big' } } }), sizes).read).toBe(1.5);
  });

  it('counts each key of a BatchGetItem as a read of its own, a missing one as 1', () => {
    const sizes = new Map([['big', 9_000]]);
    const batch = (consistent: boolean) =>
      call('BatchGetItem', {
        RequestItems: {
          openings: { Keys: [{ id: { S: 'big' } }, { id: { S: 'gone' } }], ConsistentRead: consistent },
        },
      });
    expect(callUnits(batch(true), sizes)).toEqual({ read: 3 + 1, write: 0 });
    expect(callUnits(batch(false), sizes).read).toBe(1.5 + 0.5);
    expect(ledgerUsage([batch(true)], new Set(['gone']), sizes).calls).toEqual({ BatchGetItem: 1 });
  });

  it('counts a write 1 unit per KB and each write of a transaction 2', () => {
    const sizes = new Map([
      ['a', 300],
      ['b', 2_100],
    ]);
    expect(callUnits(call('UpdateItem', { Key: { id: { S: 'b' } } }), sizes)).toEqual({ read: 0, write: 3 });
    const transaction = call('TransactWriteItems', {
      TransactItems: [{ Put: { Item: { id: { S: 'a' } } } }, { Update: { Key: { id: { S: 'b' } } } }],
    });
    expect(callUnits(transaction, sizes)).toEqual({ read: 0, write: 2 + 6 });
  });

  it('gives an opening the calls on its items, refused ones included, and no one else’s', () => {
    const sizes = new Map<string, number>();
    const calls = [
      call('UpdateItem', { Key: { id: { S: 'opening#1' } } }),
      call('UpdateItem', { Key: { id: { S: 'opening#1' } } }, 400),
      call('UpdateItem', { Key: { id: { S: 'opening#2' } } }),
    ];
    expect(ledgerUsage(calls, new Set(['opening#1']), sizes)).toEqual({
      calls: { UpdateItem: 2 },
      refused: 1,
      readUnits: 0,
      writeUnits: 2,
    });
  });

  it('refuses to price a DynamoDB call it has no rule for', () => {
    expect(() => callUnits(call('BatchWriteItem', {}), new Map())).toThrow(
      /no rule for DynamoDB BatchWriteItem/,
    );
  });
});
