import { describe, expect, it } from 'vitest';
import { InvalidMessageError } from '../../lambda/runtime/errors.ts';
import { encodeCheckMessage, parseCheckMessage, parseTriggerBody } from '../../lambda/runtime/messages.ts';
import { isOperationId } from '../../lambda/runtime/model.ts';
import { fixtureJson } from '../support/fixtures.ts';

interface BadTrigger {
  name: string;
  body: string;
  field: string;
}

const badTriggers = [
  ...fixtureJson<BadTrigger[]>('messages/bad-triggers.json'),
  { name: '10 kB of digits', body: JSON.stringify({ poolId: '1'.repeat(10_240) }), field: 'poolId' },
  {
    name: '256 kB body',
    body: JSON.stringify({ poolId: '1', padding: 'x'.repeat(256 * 1024) }),
    field: 'padding',
  },
];

describe('trigger messages', () => {
  it('accepts a poolId given as a string of digits', () => {
    expect(parseTriggerBody('{"poolId": "123"}')).toEqual({ kind: 'pool', id: '123' });
  });

  it('accepts a poolId given as a JSON number', () => {
    expect(parseTriggerBody('{"poolId": 123}')).toEqual({ kind: 'pool', id: '123' });
  });

  it('accepts the largest 64-bit pool ID as a string', () => {
    expect(parseTriggerBody('{"poolId": "9223372036854775807"}').id).toBe('9223372036854775807');
  });

  it('accepts a trainingId for a training pool', () => {
    expect(parseTriggerBody('{"trainingId": "77"}')).toEqual({ kind: 'training', id: '77' });
  });

  it.each(badTriggers)('refuses $name, naming the field $field', ({ body, field }) => {
    let caught: unknown;
    try {
      parseTriggerBody(body);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidMessageError);
    const error = caught as InvalidMessageError;
    expect(error.field).toBe(field);
    expect(error.reason.length).toBeGreaterThan(5);
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('check messages', () => {
  const message = {
    version: 1 as const,
    target: { kind: 'pool' as const, id: '21' },
    operationId: 'op-1',
    requestedAt: '2026-11-28T12:00:00.000Z',
    deadline: '2026-11-28T13:00:00.000Z',
    attempt: 3,
  };

  it('reads back what it writes', () => {
    expect(parseCheckMessage(encodeCheckMessage(message))).toEqual(message);
  });

  it('writes a flat body with the pool ID at the top level', () => {
    expect(JSON.parse(encodeCheckMessage(message))).toEqual({
      version: 1,
      poolId: '21',
      operationId: 'op-1',
      requestedAt: '2026-11-28T12:00:00.000Z',
      deadline: '2026-11-28T13:00:00.000Z',
      attempt: 3,
    });
  });

  it('keeps a training target', () => {
    const training = { ...message, target: { kind: 'training' as const, id: '5' } };
    expect(parseCheckMessage(encodeCheckMessage(training)).target).toEqual({ kind: 'training', id: '5' });
  });

  it.each([
    ['{"version":2}', 'version'],
    [
      '{"version":1,"poolId":"1","operationId":"../x","requestedAt":"2026-01-01T00:00:00Z","deadline":"2026-01-01T00:00:00Z","attempt":1}',
      'operationId',
    ],
    [
      '{"version":1,"poolId":"1","operationId":"a","requestedAt":"2026-01-01T00:00:00Z","deadline":"later","attempt":1}',
      'deadline',
    ],
    [
      '{"version":1,"poolId":"1","operationId":"a","requestedAt":"2026-01-01T00:00:00Z","deadline":"2026-01-01T00:00:00Z","attempt":0}',
      'attempt',
    ],
    ['not json', 'body'],
    ...['.', '..', 'a/b', '', 'x.y'].map((operationId) => [
      JSON.stringify({
        version: 1,
        poolId: '1',
        operationId,
        requestedAt: '2026-01-01T00:00:00Z',
        deadline: '2026-01-01T00:00:00Z',
        attempt: 1,
      }),
      'operationId',
    ]),
  ])('refuses %s naming %s', (body, field) => {
    expect(() => parseCheckMessage(body)).toThrow(expect.objectContaining({ field }));
  });
});

describe('one rule for an operation ID, in the client and the check-message parser', () => {
  it.each(['019587fd-b536-49f8-b6dc-01ffc25f8594', '57068577e4b0bf7b07a0256f', 'op_1'])(
    'accepts %s',
    (id) => {
      expect(isOperationId(id)).toBe(true);
      const body = JSON.stringify({
        version: 1,
        poolId: '1',
        operationId: id,
        requestedAt: '2026-01-01T00:00:00Z',
        deadline: '2026-01-01T01:00:00Z',
        attempt: 1,
      });
      expect(parseCheckMessage(body).operationId).toBe(id);
    },
  );

  it.each(['.', '..', '-a', 'a/b', 'a.b', 'a?b', 'a%2F', 'x'.repeat(129), ''])('refuses %j', (id) => {
    expect(isOperationId(id)).toBe(false);
  });
});
