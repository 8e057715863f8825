import { InvalidMessageError } from './errors.ts';
import { ACTIONS, type Action, isOperationId, type TolokaTarget, targetFields } from './model.ts';
import { isTimeZone, type ScheduledOccurrence } from './schedule-rules.ts';

/** Toloka IDs are 64-bit integers; 19 digits hold every positive one. */
const ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const MAX_ID = 9_223_372_036_854_775_807n;
const TRIGGER_FIELDS = [
  'poolId',
  'trainingId',
  'action',
  'triggerId',
  'scheduledTime',
  'maxLatenessMinutes',
  'timeZone',
  'skip',
] as const;
/** The fields that describe a schedule's occurrence: only with `scheduledTime`. */
const OCCURRENCE_FIELDS = ['maxLatenessMinutes', 'timeZone', 'skip'] as const;
/** At most a week late on purpose; a calendar name and its dates as the configuration allows them. */
const MAX_LATENESS_MINUTES = 10_080;
const CALENDAR_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CALENDAR_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/** What a trigger message or direct payload asks, parsed. */
export interface ParsedTrigger {
  readonly target: TolokaTarget;
  /** `open` when the message names none. */
  readonly action: Action;
  readonly triggerId?: string;
  /** Present when the message has a `scheduledTime` (a schedule's trigger). */
  readonly occurrence?: ScheduledOccurrence;
}

/**
 * A trigger: `{"poolId": "123"}` or `{"trainingId": "123"}` (a JSON number is accepted too).
 * Anything else is refused with the field and the reason, so it is never sent on to Toloka.
 */
export function parseTriggerBody(body: string): TolokaTarget {
  return parseTrigger(parseJsonBody(body));
}

export function parseTrigger(value: unknown): TolokaTarget {
  return parseTriggerFields(value).target;
}

/**
 * A trigger with its identity: `{"poolId": "123"}` or `{"trainingId": "123"}`, with an optional
 * `action` (`open`, the default, or `close`) and `triggerId`, on the trigger queue and in a direct
 * invocation alike. The schedules send `<schedule ARN>@<scheduled time>`, so that Scheduler's and
 * Lambda's retries of one occurrence are one trigger, and a redrive of its dead letter to the
 * trigger queue keeps that identity; and the occurrence itself: `scheduledTime`, with
 * `maxLatenessMinutes`, `timeZone` and the calendars it skips (`skip`: name → dates).
 */
export function parseTriggerMessage(body: string): ParsedTrigger {
  return parseTriggerFields(parseJsonBody(body));
}

/** A direct invocation's payload: the same fields as a trigger message. */
export function parseDirectTrigger(value: unknown): ParsedTrigger {
  return parseTriggerFields(value);
}

/** The action a message asks for, when it names a valid one (for the record of a bad message). */
export function actionOf(value: unknown): Action | undefined {
  if (typeof value === 'string') {
    try {
      return actionOf(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const action = (value as Record<string, unknown>).action;
  if (action === undefined) return 'open';
  return ACTIONS.find((known) => known === action);
}

function parseJsonBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new InvalidMessageError('body', body.trim() === '' ? 'is empty' : 'is not valid JSON');
  }
}

const TRIGGER_ID = /^[\x21-\x7e]{1,256}$/;

function parseTriggerFields(value: unknown): ParsedTrigger {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError(
      'body',
      `must be a JSON object such as {"poolId": "123"}, got ${describe(value)}`,
    );
  }
  const record = value as Record<string, unknown>;
  const allowed: readonly string[] = TRIGGER_FIELDS;
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new InvalidMessageError(
      unknown[0] ?? 'body',
      `is not a known field (expected "poolId" or "trainingId", and optionally ${TRIGGER_FIELDS.slice(2)
        .map((field) => `"${field}"`)
        .join(', ')})`,
    );
  }
  const hasPool = 'poolId' in record;
  const hasTraining = 'trainingId' in record;
  if (hasPool && hasTraining)
    throw new InvalidMessageError('trainingId', 'give either poolId or trainingId, not both');
  if (!hasPool && !hasTraining) throw new InvalidMessageError('poolId', 'is required');
  const target: TolokaTarget = hasPool
    ? { kind: 'pool', id: parseId('poolId', record.poolId) }
    : { kind: 'training', id: parseId('trainingId', record.trainingId) };
  const action = parseAction(record.action);
  if (
    record.triggerId !== undefined &&
    (typeof record.triggerId !== 'string' || !TRIGGER_ID.test(record.triggerId))
  ) {
    throw new InvalidMessageError(
      'triggerId',
      `must be 1-256 printable ASCII characters without spaces, got ${describe(record.triggerId)}`,
    );
  }
  const occurrence = parseOccurrence(record);
  return {
    target,
    action,
    ...(record.triggerId === undefined ? {} : { triggerId: record.triggerId as string }),
    ...(occurrence === undefined ? {} : { occurrence }),
  };
}

function parseAction(value: unknown): Action {
  if (value === undefined) return 'open';
  const action = ACTIONS.find((known) => known === value);
  if (action === undefined) {
    throw new InvalidMessageError('action', `must be "open" or "close", got ${describe(value)}`);
  }
  return action;
}

/** `scheduledTime` and what goes with it: a schedule's occurrence. */
function parseOccurrence(record: Record<string, unknown>): ScheduledOccurrence | undefined {
  if (record.scheduledTime === undefined) {
    const orphan = OCCURRENCE_FIELDS.find((field) => record[field] !== undefined);
    if (orphan !== undefined) {
      throw new InvalidMessageError(orphan, 'describes a schedule occurrence: give it with "scheduledTime"');
    }
    return undefined;
  }
  const scheduledAtMs = parseInstant('scheduledTime', record.scheduledTime);
  const { maxLatenessMinutes, timeZone, skip } = record;
  if (
    maxLatenessMinutes !== undefined &&
    (typeof maxLatenessMinutes !== 'number' ||
      !Number.isInteger(maxLatenessMinutes) ||
      maxLatenessMinutes < 1 ||
      maxLatenessMinutes > MAX_LATENESS_MINUTES)
  ) {
    throw new InvalidMessageError(
      'maxLatenessMinutes',
      `must be a whole number of minutes from 1 to ${MAX_LATENESS_MINUTES}, got ${describe(maxLatenessMinutes)}`,
    );
  }
  if (timeZone !== undefined && (typeof timeZone !== 'string' || !isTimeZone(timeZone))) {
    throw new InvalidMessageError('timeZone', `must be an IANA time zone, got ${describe(timeZone)}`);
  }
  return {
    scheduledAtMs,
    ...(maxLatenessMinutes === undefined ? {} : { maxLatenessMinutes: maxLatenessMinutes as number }),
    ...(timeZone === undefined ? {} : { timeZone: timeZone as string }),
    ...(skip === undefined ? {} : { skip: parseCalendars(skip) }),
  };
}

/** `skip`: `{"<calendar name>": ["YYYY-MM-DD", …]}`. */
function parseCalendars(value: unknown): Record<string, readonly string[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError(
      'skip',
      `must be an object of calendar names to dates, got ${describe(value)}`,
    );
  }
  const calendars: Record<string, readonly string[]> = {};
  for (const [name, dates] of Object.entries(value as Record<string, unknown>)) {
    if (!CALENDAR_NAME.test(name)) {
      throw new InvalidMessageError(
        'skip',
        `has a calendar name that is not 1-64 of A-Z a-z 0-9 _ -: ${describe(name)}`,
      );
    }
    if (
      !Array.isArray(dates) ||
      dates.some((date) => typeof date !== 'string' || !CALENDAR_DATE.test(date))
    ) {
      throw new InvalidMessageError(`skip.${name}`, 'must be an array of dates written YYYY-MM-DD');
    }
    calendars[name] = dates as string[];
  }
  return calendars;
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

/** The longest deadline the construct allows (12 h). */
export const MAX_DEADLINE_SECONDS = 43_200;
/** Clocks differ between functions: a `requestedAt` this far in the future is still accepted. */
const CLOCK_SKEW_MS = 60_000;
/** More checks than this cannot happen before the longest deadline, whatever the settings. */
export const MAX_CHECK_ATTEMPT = 50_000;
/** The ledger's opening IDs and check tokens: UUIDs (letters, digits and dashes). */
const LEDGER_ID = /^[A-Za-z0-9-]{1,64}$/;
/** ISO 8601 in UTC, as `Date.prototype.toISOString` writes it (milliseconds optional). */
const ISO_INSTANT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z$/;

/**
 * What the opener and the checker put on the check queue: the next step of one opening, which
 * the ledger knows by `openingId`. Only the message holding the opening's live `checkToken` may
 * act; a duplicate or an older one is dropped. Without `operationId` the step is to ask Toloka to
 * open (again): a trigger that met a long `Retry-After` waits here rather than in its queue.
 */
export interface CheckMessage {
  readonly version: 2;
  readonly target: TolokaTarget;
  readonly openingId: string;
  readonly checkToken: string;
  readonly operationId?: string;
  /** When the opening was requested (ISO 8601 UTC); the deadline counts from here. */
  readonly requestedAt: string;
  /** After this instant (ISO 8601 UTC) an unfinished operation is reported TIMED_OUT. */
  readonly deadline: string;
  /** How many checks this one is (1 for the first). */
  readonly attempt: number;
  /** Nothing is asked of Toloka before this instant (a `Retry-After` longer than SQS's 900 s). */
  readonly notBefore?: string;
}

/** The wire form, flat and readable in the console: `{"version":2,"poolId":"1","openingId":…}`. */
export function encodeCheckMessage(message: CheckMessage): string {
  const { version, target, openingId, checkToken, operationId, requestedAt, deadline, attempt, notBefore } =
    message;
  return JSON.stringify({
    version,
    ...targetFields(target),
    openingId,
    checkToken,
    ...(operationId === undefined ? {} : { operationId }),
    requestedAt,
    deadline,
    attempt,
    ...(notBefore === undefined ? {} : { notBefore }),
  });
}

/** What a check message is checked against: the clock and the deadline the functions apply. */
export interface CheckMessageRules {
  readonly nowMs: number;
  /** `CHECK_DEADLINE_SECONDS`: the deadline in force is never later than `requestedAt` plus this. */
  readonly deadlineSeconds: number;
}

/**
 * A check message, checked strictly: ISO 8601 instants only; `requestedAt` not in the future;
 * the deadline in force is the earlier of the message's and `requestedAt` + `deadlineSeconds`;
 * `attempt` bounded. A message that fails any of these can never be right, so it is refused
 * with the field and the reason. An old one is not wrong: a check redriven from its dead-letter
 * queue days later (it keeps 14 days) ends its opening TIMED_OUT (operation-check.ts).
 */
export function parseCheckMessage(body: string, rules: CheckMessageRules): CheckMessage {
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
  if (record.version !== 2)
    throw new InvalidMessageError('version', `must be 2, got ${describe(record.version)}`);
  const target: TolokaTarget =
    record.trainingId !== undefined
      ? { kind: 'training', id: parseId('trainingId', record.trainingId) }
      : { kind: 'pool', id: parseId('poolId', record.poolId) };
  const { openingId, checkToken, operationId, attempt } = record;
  for (const [field, value] of [
    ['openingId', openingId],
    ['checkToken', checkToken],
  ] as const) {
    if (typeof value !== 'string' || !LEDGER_ID.test(value)) {
      throw new InvalidMessageError(field, `must be an ID of the openings ledger, got ${describe(value)}`);
    }
  }
  if (operationId !== undefined && !isOperationId(operationId)) {
    throw new InvalidMessageError(
      'operationId',
      `must be a Toloka operation ID, got ${describe(operationId)}`,
    );
  }
  if (
    typeof attempt !== 'number' ||
    !Number.isInteger(attempt) ||
    attempt < 1 ||
    attempt > MAX_CHECK_ATTEMPT
  ) {
    throw new InvalidMessageError(
      'attempt',
      `must be a whole number from 1 to ${MAX_CHECK_ATTEMPT}, got ${describe(attempt)}`,
    );
  }
  const requestedAtMs = parseInstant('requestedAt', record.requestedAt);
  if (requestedAtMs > rules.nowMs + CLOCK_SKEW_MS) {
    throw new InvalidMessageError('requestedAt', `is in the future: ${String(record.requestedAt)}`);
  }
  const deadlineMs = Math.min(
    parseInstant('deadline', record.deadline),
    requestedAtMs + rules.deadlineSeconds * 1000,
  );
  const notBefore = record.notBefore === undefined ? undefined : parseInstant('notBefore', record.notBefore);
  return {
    version: 2,
    target,
    openingId: openingId as string,
    checkToken: checkToken as string,
    ...(operationId === undefined ? {} : { operationId }),
    requestedAt: new Date(requestedAtMs).toISOString(),
    deadline: new Date(deadlineMs).toISOString(),
    attempt,
    ...(notBefore === undefined ? {} : { notBefore: new Date(notBefore).toISOString() }),
  };
}

function parseInstant(field: string, value: unknown): number {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidMessageError(
      field,
      `must be an ISO 8601 instant in UTC (2026-11-28T12:00:00.000Z), got ${describe(value)}`,
    );
  }
  return Date.parse(value);
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
