import { describe, expect, it } from 'vitest';
import { InvalidMessageError } from '../../lambda/runtime/errors.ts';
import {
  type CheckMessage,
  encodeCheckMessage,
  parseCheckMessage,
  parseTriggerBody,
} from '../../lambda/runtime/messages.ts';
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
  const nowMs = Date.parse('2026-11-28T12:30:00.000Z');
  const rules = { nowMs, deadlineSeconds: 3600 };
  const message: CheckMessage = {
    version: 2,
    target: { kind: 'pool', id: '21' },
    openingId: '7d5c3a30-0000-4000-8000-000000000001',
    checkToken: 'token-1',
    operationId: 'op-1',
    requestedAt: '2026-11-28T12:00:00.000Z',
    deadline: '2026-11-28T13:00:00.000Z',
    attempt: 3,
  };
  const body = (change: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(encodeCheckMessage(message)), ...change });

  it('reads back what it writes', () => {
    expect(parseCheckMessage(encodeCheckMessage(message), rules)).toEqual(message);
  });

  it('writes a flat body with the pool ID at the top level', () => {
    expect(JSON.parse(encodeCheckMessage(message))).toEqual({
      version: 2,
      poolId: '21',
      openingId: message.openingId,
      checkToken: 'token-1',
      operationId: 'op-1',
      requestedAt: '2026-11-28T12:00:00.000Z',
      deadline: '2026-11-28T13:00:00.000Z',
      attempt: 3,
    });
  });

  it('names a training by trainingId', () => {
    const training = { ...message, target: { kind: 'training' as const, id: '5' } };
    expect(parseCheckMessage(encodeCheckMessage(training), rules).target).toEqual({
      kind: 'training',
      id: '5',
    });
  });

  it('keeps a step without an operation (an open that waits out a Retry-After) and its notBefore', () => {
    const { operationId: _op, ...waiting } = message;
    const parsed = parseCheckMessage(
      encodeCheckMessage({ ...waiting, notBefore: '2026-11-28T12:40:00.000Z' }),
      rules,
    );
    expect(parsed).not.toHaveProperty('operationId');
    expect(parsed.notBefore).toBe('2026-11-28T12:40:00.000Z');
  });

  it('holds the deadline to requestedAt + CHECK_DEADLINE_SECONDS, however far the message puts it', () => {
    const far = parseCheckMessage(body({ deadline: '2099-01-01T00:00:00.000Z' }), rules);
    expect(far.deadline).toBe('2026-11-28T13:00:00.000Z');
    const near = parseCheckMessage(body({ deadline: '2026-11-28T12:10:00.000Z' }), rules);
    expect(near.deadline).toBe('2026-11-28T12:10:00.000Z');
  });

  it('accepts a check redriven days after its deadline: its opening ends TIMED_OUT, it is not a bad message', () => {
    const late = parseCheckMessage(encodeCheckMessage(message), { ...rules, nowMs: nowMs + 5 * 86_400_000 });
    expect(late.requestedAt).toBe(message.requestedAt);
    expect(late.deadline).toBe(message.deadline);
  });

  it.each([
    ['{"version":1}', 'version'],
    [body({ operationId: '../x' }), 'operationId'],
    [body({ deadline: 'later' }), 'deadline'],
    [body({ deadline: '2026-11-28T13:00:00+01:00' }), 'deadline'],
    [body({ requestedAt: '2026-11-28 12:00:00' }), 'requestedAt'],
    [body({ requestedAt: 1_764_331_200_000 }), 'requestedAt'],
    // In the future, beyond a minute of clock skew.
    [body({ requestedAt: '2026-11-28T12:32:00.000Z' }), 'requestedAt'],
    [body({ attempt: 0 }), 'attempt'],
    [body({ attempt: 50_001 }), 'attempt'],
    [body({ attempt: 1.5 }), 'attempt'],
    [body({ openingId: 'a b' }), 'openingId'],
    [body({ checkToken: undefined }), 'checkToken'],
    [body({ notBefore: 'soon' }), 'notBefore'],
    ['not json', 'body'],
    ...['.', '..', 'a/b', '', 'x.y'].map((operationId) => [body({ operationId }), 'operationId']),
  ])('refuses %s naming %s', (text, field) => {
    expect(() => parseCheckMessage(text as string, rules)).toThrow(expect.objectContaining({ field }));
  });
});

describe('one rule for an operation ID, in the client and the check-message parser', () => {
  it.each(['019587fd-b536-49f8-b6dc-01ffc25f8594', '57068577e4b0bf7b07a0256f', 'op_1'])(
    'accepts %s',
    (id) => {
      expect(isOperationId(id)).toBe(true);
      const text = JSON.stringify({
        version: 2,
        poolId: '1',
        openingId: 'o-1',
        checkToken: 't-1',
        operationId: id,
        requestedAt: '2026-01-01T00:00:00.000Z',
        deadline: '2026-01-01T01:00:00.000Z',
        attempt: 1,
      });
      const rules = { nowMs: Date.parse('2026-01-01T00:10:00Z'), deadlineSeconds: 3600 };
      expect(parseCheckMessage(text, rules).operationId).toBe(id);
    },
  );

  it.each(['.', '..', '-a', 'a/b', 'a.b', 'a?b', 'a%2F', 'x'.repeat(129), ''])('refuses %j', (id) => {
    expect(isOperationId(id)).toBe(false);
  });
});
