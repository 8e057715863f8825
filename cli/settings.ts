import {
  parseApiOrigin as parseApiOriginRule,
  TOLOKA_HOSTS,
  type TolokaEnvironment,
} from '../lambda/runtime/config.ts';
import { InvalidMessageError } from '../lambda/runtime/errors.ts';
import { describe, parseId } from '../lambda/runtime/messages.ts';
import type { TolokaTarget } from '../lambda/runtime/model.ts';
import { isOperationId } from '../lambda/runtime/model.ts';

/** The longest `--timeout`: the deployed app's longest check deadline (CHECK_DEADLINE_SECONDS). */
export const MAX_TIMEOUT_SECONDS = 43_200;
export const DEFAULT_TIMEOUT_SECONDS = 3_600;

/** As the check messages accept them (lambda/runtime/messages.ts, parseCheckMessage). */

/** A value the user gave that can never work: `argument` names it as they typed it. */
export class BadInputError extends Error {
  constructor(
    readonly argument: string,
    readonly reason: string,
    readonly hint?: string,
  ) {
    super(`${argument}: ${reason}`);
  }
}

/** The pool (or, with `--training`, the training) to act on, validated as the trigger messages are. */
export function parseTarget(id: string, training: boolean): TolokaTarget {
  try {
    return training
      ? { kind: 'training', id: parseId('trainingId', id) }
      : { kind: 'pool', id: parseId('poolId', id) };
  } catch (error) {
    if (error instanceof InvalidMessageError) {
      const argument = training ? '<poolId> (a training ID, with --training)' : '<poolId>';
      throw new BadInputError(
        argument,
        error.reason,
        `Give the ${training ? "training's" : "pool's"} numeric Toloka ID, e.g. 123456.`,
      );
    }
    throw error;
  }
}

export function parseOperationId(value: string): string {
  if (!isOperationId(value)) {
    throw new BadInputError(
      '<operationId>',
      `must be a Toloka operation ID (letters, digits, "_" or "-", at most 128, starting with a letter or digit), got ${describe(value)}`,
      'Use the operationId that `toloka-pool open` printed.',
    );
  }
  return value;
}

/** `--timeout <seconds>`: a whole number of seconds, 1 to 43200. */
export function parseTimeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(seconds)) {
    throw new BadInputError('--timeout', `must be a whole number of seconds, got ${describe(value)}`);
  }
  if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new BadInputError(
      '--timeout',
      `must be between 1 and ${MAX_TIMEOUT_SECONDS} seconds, got ${seconds}`,
    );
  }
  return seconds;
}

/** `--api-url <origin>` (or TOLOKA_API_URL): the functions' rule (https, or http only to this machine). */
export function parseApiOrigin(value: string, argument = '--api-url'): string {
  const parsed = parseApiOriginRule(value);
  if ('problem' in parsed) {
    throw new BadInputError(argument, parsed.problem, 'Give an origin such as https://host:port.');
  }
  return parsed.origin;
}

/**
 * The line every command prints on stderr before its first request: where it goes, by name and
 * host (`→ sandbox (sandbox.toloka.dev)`, `→ 127.0.0.1:8080 (from TOLOKA_API_URL)`), so that a
 * real host is never a surprise.
 */
export function targetBanner(options: {
  env: TolokaEnvironment;
  apiUrl?: string | undefined;
  apiUrlFrom?: string | undefined;
}): string {
  if (options.apiUrl !== undefined) {
    return `→ ${new URL(options.apiUrl).host} (from ${options.apiUrlFrom ?? '--api-url'})`;
  }
  return `→ ${options.env} (${new URL(TOLOKA_HOSTS[options.env]).host})`;
}

/** Where requests go: `--api-url` when given, otherwise the host of `--env`. */
export function resolveOrigin(options: { env: TolokaEnvironment; apiUrl?: string | undefined }): string {
  return options.apiUrl ?? TOLOKA_HOSTS[options.env];
}

/** "pool 123" / "training 456", for messages. */
export function targetLabel(target: TolokaTarget): string {
  return `${target.kind} ${target.id}`;
}

/** `openings --since`: the longest look back (the table keeps an opening about 15 days anyway). */
export const MAX_SINCE_DAYS = 365;
export const DEFAULT_SINCE = '1d';
export const DEFAULT_OPENINGS_LIMIT = 50;
export const MAX_OPENINGS_LIMIT = 1_000;

const DAY_MS = 86_400_000;
const DURATION_UNITS: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: DAY_MS,
  w: 7 * DAY_MS,
};

/** `--since <duration>`: a whole number and a unit (`30m`, `12h`, `1d`, `2w`), in milliseconds. */
export function parseSince(value: string): number {
  const match = /^([0-9]+)([mhdw])$/.exec(value.trim());
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new BadInputError(
      '--since',
      `must be a whole number and a unit (m minutes, h hours, d days, w weeks), got ${describe(value)}`,
      'For example --since 30m, --since 12h or --since 7d.',
    );
  }
  const ms = Number(match[1]) * unit;
  if (ms <= 0) throw new BadInputError('--since', `must be longer than nothing, got ${describe(value)}`);
  if (ms > MAX_SINCE_DAYS * DAY_MS) {
    throw new BadInputError('--since', `must be at most ${MAX_SINCE_DAYS}d, got ${describe(value)}`);
  }
  return ms;
}

/** `--limit <n>`: how many openings to show, 1 to 1000. */
export function parseOpeningsLimit(value: string): number {
  const limit = Number(value);
  if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(limit)) {
    throw new BadInputError('--limit', `must be a whole number, got ${describe(value)}`);
  }
  if (limit < 1 || limit > MAX_OPENINGS_LIMIT) {
    throw new BadInputError('--limit', `must be between 1 and ${MAX_OPENINGS_LIMIT}, got ${limit}`);
  }
  return limit;
}

/** `--pool <id>` or `--training <id>` of `openings`: a Toloka ID, as the trigger messages take it. */
export function parseTargetOption(kind: TolokaTarget['kind'], value: string): TolokaTarget {
  try {
    return { kind, id: parseId(kind === 'pool' ? 'poolId' : 'trainingId', value) };
  } catch (error) {
    if (error instanceof InvalidMessageError) {
      throw new BadInputError(
        `--${kind}`,
        error.reason,
        `Give the ${kind}'s numeric Toloka ID, e.g. 123456.`,
      );
    }
    throw error;
  }
}

/** `--table <name>` (or OPENINGS_TABLE): a DynamoDB table name, 3-255 of `A-Z a-z 0-9 _ - .`. */
export function parseTableName(argument: string, value: string): string {
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(value)) {
    throw new BadInputError(
      argument,
      `must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .), got ${describe(value)}`,
      'Use the stack output OpeningsTableName.',
    );
  }
  return value;
}
