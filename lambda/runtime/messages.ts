import { InvalidMessageError } from './errors.ts';
import { isOperationId, type OpenTarget, targetFields } from './model.ts';

/** Toloka IDs are 64-bit integers; 19 digits hold every positive one. */
const ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const MAX_ID = 9_223_372_036_854_775_807n;
const TRIGGER_FIELDS = ['poolId', 'trainingId'] as const;

/**
 * A trigger: `{"poolId": "123"}` or `{"trainingId": "123"}` (a JSON number is accepted too).
 * Anything else is refused with the field and the reason, so it is never sent on to Toloka.
 */
export function parseTriggerBody(body: string): OpenTarget {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidMessageError('body', body.trim() === '' ? 'is empty' : 'is not valid JSON');
  }
  return parseTrigger(parsed);
}

export function parseTrigger(value: unknown): OpenTarget {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError(
      'body',
      `must be a JSON object such as {"poolId": "123"}, got ${describe(value)}`,
    );
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(TRIGGER_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new InvalidMessageError(
      unknown[0] ?? 'body',
      'is not a known field (expected only "poolId" or "trainingId")',
    );
  }
  const hasPool = 'poolId' in record;
  const hasTraining = 'trainingId' in record;
  if (hasPool && hasTraining)
    throw new InvalidMessageError('trainingId', 'give either poolId or trainingId, not both');
  if (!hasPool && !hasTraining) throw new InvalidMessageError('poolId', 'is required');
  return hasPool
    ? { kind: 'pool', id: parseId('poolId', record.poolId) }
    : { kind: 'training', id: parseId('trainingId', record.trainingId) };
}

/** A Toloka ID as ASCII digits: a positive whole number below 2^63, as a string or a safe JSON number. */
export function parseId(field: string, value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) {
      throw new InvalidMessageError(field, `must be a positive whole number, got ${describe(value)}`);
    }
    if (!Number.isSafeInteger(value)) {
      throw new InvalidMessageError(field, 'is too large to be exact as a JSON number: send it as a string');
    }
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new InvalidMessageError(field, `must be a string of digits or a number, got ${describe(value)}`);
  }
  if (!/^[0-9]+$/.test(value)) {
    throw new InvalidMessageError(
      field,
      `must be a positive whole number in ASCII digits, got ${describe(value)}`,
    );
  }
  if (/^0+$/.test(value)) throw new InvalidMessageError(field, `must be positive, got ${describe(value)}`);
  if (value.startsWith('0'))
    throw new InvalidMessageError(field, `must not start with 0, got ${describe(value)}`);
  if (!ID_PATTERN.test(value) || BigInt(value) > MAX_ID) {
    throw new InvalidMessageError(field, `is larger than any Toloka ID (2^63 - 1), got ${describe(value)}`);
  }
  return value;
}

/** What the opener and the checker put on the check queue. Versioned so old messages stay readable. */
export interface CheckMessage {
  readonly version: 1;
  readonly target: OpenTarget;
  readonly operationId: string;
  /** When the opening was requested (ISO 8601 UTC); the deadline counts from here. */
  readonly requestedAt: string;
  /** After this instant (ISO 8601 UTC) an unfinished operation is reported TIMED_OUT. */
  readonly deadline: string;
  /** How many checks this one is (1 for the first). */
  readonly attempt: number;
}

/** The wire form, flat and readable in the console: `{"version":1,"poolId":"1","operationId":…}`. */
export function encodeCheckMessage(message: CheckMessage): string {
  const { version, target, operationId, requestedAt, deadline, attempt } = message;
  return JSON.stringify({ version, ...targetFields(target), operationId, requestedAt, deadline, attempt });
}

export function parseCheckMessage(body: string): CheckMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidMessageError('body', 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidMessageError('body', `must be a JSON object, got ${describe(parsed)}`);
  }
  const record = parsed as Record<string, unknown>;
  if (record.version !== 1)
    throw new InvalidMessageError('version', `must be 1, got ${describe(record.version)}`);
  const target: OpenTarget =
    record.trainingId !== undefined
      ? { kind: 'training', id: parseId('trainingId', record.trainingId) }
      : { kind: 'pool', id: parseId('poolId', record.poolId) };
  const { operationId, requestedAt, deadline, attempt } = record;
  if (!isOperationId(operationId)) {
    throw new InvalidMessageError(
      'operationId',
      `must be a Toloka operation ID, got ${describe(operationId)}`,
    );
  }
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidMessageError('attempt', `must be a whole number from 1, got ${describe(attempt)}`);
  }
  return {
    version: 1,
    target,
    operationId,
    requestedAt: parseInstant('requestedAt', requestedAt),
    deadline: parseInstant('deadline', deadline),
    attempt,
  };
}

function parseInstant(field: string, value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new InvalidMessageError(field, `must be an ISO 8601 instant, got ${describe(value)}`);
  }
  return value;
}

/** A short, bounded description of a bad value for an error record (never the whole 256 kB). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (text.length <= 40) return typeof value === 'string' ? `the string ${text}` : `${typeof value} ${text}`;
  const shown = `${text.slice(0, 37)}…`;
  return typeof value === 'string'
    ? `a string of ${value.length} characters (${shown})`
    : `${typeof value} ${shown}`;
}
