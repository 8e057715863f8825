/** How an emulated pool or training behaves when opened or closed, and how that is read from a request. */
import { EmulatorConfigError } from './errors.ts';
import type { ResourceStatus } from './model.ts';

/** How one pool (or training) reacts to being opened and closed. Everything is optional. */
export interface PoolBehaviour {
  /** Status before anything happens. Default `CLOSED`. */
  status?: ResourceStatus;
  /** Time from submission to the terminal status. Default 3000; 0 makes the 202 body already `SUCCESS`. */
  openDurationMs?: number;
  /** Time spent `PENDING` before `RUNNING`. Default `min(500, openDurationMs / 4)`. */
  pendingMs?: number;
  /** How the open operation ends. Default `SUCCESS`. */
  result?: 'SUCCESS' | 'FAIL';
  /** When set, every open answers 409 with this error. */
  refuse?: { code: string; message?: string; payload?: unknown };
  /** Time from a close's submission to its terminal status. Default 100 (0 if `openDurationMs` is 0). */
  closeDurationMs?: number;
  /** How the close operation ends. Default `SUCCESS` (the pool is `CLOSED`, `last_close_reason` `MANUAL`). */
  closeResult?: 'SUCCESS' | 'FAIL';
  /** When set, every close answers 409 with this error. */
  refuseClose?: { code: string; message?: string; payload?: unknown };
  /** Shown as `last_close_reason` while the pool is closed. */
  lastCloseReason?: string;
  /** How many tasks `GET /tasks?pool_id=` finds in it. Default 1. */
  tasks?: number;
}

const RESOURCE_STATUSES: ReadonlySet<string> = new Set<ResourceStatus>([
  'OPEN',
  'CLOSED',
  'ARCHIVED',
  'LOCKED',
]);

const BEHAVIOUR_KEYS: ReadonlySet<string> = new Set([
  'status',
  'openDurationMs',
  'pendingMs',
  'result',
  'refuse',
  'closeDurationMs',
  'closeResult',
  'refuseClose',
  'lastCloseReason',
  'tasks',
]);

/** Checks a behaviour that may have come over HTTP; unknown keys are rejected so typos do not pass silently. */
export function parsePoolBehaviour(input: unknown): PoolBehaviour {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new EmulatorConfigError('pool behaviour must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!BEHAVIOUR_KEYS.has(key)) throw new EmulatorConfigError(`unknown pool behaviour field "${key}"`);
  }
  const behaviour: PoolBehaviour = {};
  if (raw.status !== undefined) {
    if (typeof raw.status !== 'string' || !RESOURCE_STATUSES.has(raw.status)) {
      throw new EmulatorConfigError('status must be one of OPEN, CLOSED, ARCHIVED, LOCKED');
    }
    behaviour.status = raw.status as ResourceStatus;
  }
  if (raw.openDurationMs !== undefined)
    behaviour.openDurationMs = duration('openDurationMs', raw.openDurationMs);
  if (raw.pendingMs !== undefined) behaviour.pendingMs = duration('pendingMs', raw.pendingMs);
  if (raw.result !== undefined) {
    if (raw.result !== 'SUCCESS' && raw.result !== 'FAIL') {
      throw new EmulatorConfigError('result must be SUCCESS or FAIL');
    }
    behaviour.result = raw.result;
  }
  if (raw.refuse !== undefined) behaviour.refuse = parseRefusal(raw.refuse, 'refuse');
  if (raw.closeDurationMs !== undefined)
    behaviour.closeDurationMs = duration('closeDurationMs', raw.closeDurationMs);
  if (raw.closeResult !== undefined) {
    if (raw.closeResult !== 'SUCCESS' && raw.closeResult !== 'FAIL') {
      throw new EmulatorConfigError('closeResult must be SUCCESS or FAIL');
    }
    behaviour.closeResult = raw.closeResult;
  }
  if (raw.refuseClose !== undefined) behaviour.refuseClose = parseRefusal(raw.refuseClose, 'refuseClose');
  if (raw.lastCloseReason !== undefined) {
    if (typeof raw.lastCloseReason !== 'string')
      throw new EmulatorConfigError('lastCloseReason must be a string');
    behaviour.lastCloseReason = raw.lastCloseReason;
  }
  if (raw.tasks !== undefined) {
    if (typeof raw.tasks !== 'number' || !Number.isInteger(raw.tasks) || raw.tasks < 0) {
      throw new EmulatorConfigError('tasks must be a whole number >= 0');
    }
    behaviour.tasks = raw.tasks;
  }
  return behaviour;
}

function duration(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new EmulatorConfigError(`${name} must be a finite number >= 0`);
  }
  return value;
}

function parseRefusal(value: unknown, name: 'refuse' | 'refuseClose'): NonNullable<PoolBehaviour['refuse']> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EmulatorConfigError(`${name} must be an object with a code`);
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.code !== 'string' || raw.code === '')
    throw new EmulatorConfigError(`${name}.code must be a string`);
  if (raw.message !== undefined && typeof raw.message !== 'string') {
    throw new EmulatorConfigError(`${name}.message must be a string`);
  }
  const refusal: NonNullable<PoolBehaviour['refuse']> = { code: raw.code };
  if (typeof raw.message === 'string') refusal.message = raw.message;
  if (raw.payload !== undefined) refusal.payload = raw.payload;
  return refusal;
}
