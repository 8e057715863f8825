import {
  parseApiOrigin as parseApiOriginRule,
  TOLOKA_HOSTS,
  type TolokaEnvironment,
} from '../lambda/runtime/config.ts';
import { InvalidMessageError } from '../lambda/runtime/errors.ts';
import { describe, parseId } from '../lambda/runtime/messages.ts';
import type { OpenTarget } from '../lambda/runtime/model.ts';
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
export function parseTarget(id: string, training: boolean): OpenTarget {
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

/** `--api-url <origin>`: the rule of TOLOKA_API_URL (https, or http only to this machine). */
export function parseApiOrigin(value: string): string {
  const parsed = parseApiOriginRule(value);
  if ('problem' in parsed) {
    throw new BadInputError('--api-url', parsed.problem, 'Give an origin such as https://host:port.');
  }
  return parsed.origin;
}

/** Where requests go: `--api-url` when given, otherwise the host of `--env`. */
export function resolveOrigin(options: { env: TolokaEnvironment; apiUrl?: string | undefined }): string {
  return options.apiUrl ?? TOLOKA_HOSTS[options.env];
}

/** "pool 123" / "training 456", for messages. */
export function targetLabel(target: OpenTarget): string {
  return `${target.kind} ${target.id}`;
}
