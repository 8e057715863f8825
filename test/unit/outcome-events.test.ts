import { describe, expect, it } from 'vitest';
import {
  EventBridgeOutcomeSink,
  outcomeEventDetail,
} from '../../lambda/adapters/eventbridge-outcome-sink.ts';
import { MemoryLog } from '../support/fakes.ts';

const finishedAt = new Date('2026-11-28T12:00:05Z');
const opened = {
  outcome: 'OPENED' as const,
  poolId: '21',
  operationId: 'op-1',
  requestedAt: '2026-11-28T12:00:00Z',
};

describe('outcomeEventDetail', () => {
  it('carries the outcome record, a version and when it finished', () => {
    expect(outcomeEventDetail(opened, finishedAt)).toMatchObject({
      version: 1,
      ...opened,
      finishedAt: '2026-11-28T12:00:05.000Z',
    });
  });

  it('gives every copy of one outcome the same dedupeKey, and other outcomes other keys', () => {
    const key = outcomeEventDetail(opened, finishedAt).dedupeKey;
    expect(outcomeEventDetail({ ...opened }, new Date()).dedupeKey).toBe(key);
    expect(outcomeEventDetail({ ...opened, operationId: 'op-2' }, finishedAt).dedupeKey).not.toBe(key);
    expect(outcomeEventDetail({ ...opened, poolId: '22' }, finishedAt).dedupeKey).not.toBe(key);
  });
});

describe('EventBridgeOutcomeSink', () => {
  it('logs a warning, and does not fail the opening, when the event cannot be published', async () => {
    const log = new MemoryLog();
    const sink = new EventBridgeOutcomeSink('default', log, {
      endpoint: 'http://127.0.0.1:9',
      region: 'eu-west-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await expect(sink.report(opened)).resolves.toBeUndefined();
    expect(log.entries).toEqual([
      expect.objectContaining({ level: 'warn', message: 'outcome event not published' }),
    ]);
  });
});
