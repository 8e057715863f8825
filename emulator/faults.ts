import { EmulatorConfigError } from './errors.ts';

export type FaultMethod = 'GET' | 'POST';

interface FaultBase {
  /** Only requests with this method; any method when absent. */
  method?: FaultMethod;
  /**
   * Only requests whose path after `/api/v1` (no query string) equals this string or matches this RegExp,
   * e.g. `'/pools/1/open'` or `/^\/operations\//`. Any path when absent.
   */
  path?: string | RegExp;
  /** How many matching requests the fault hits before it is used up. Default 1; `Infinity` allowed. */
  times?: number;
}

/** Answer with this status instead of handling the request. */
export interface StatusFault extends FaultBase {
  kind: 'status';
  status: number;
  /** `null` → empty body; a string is sent as is; absent → Toloka's error JSON for the status. */
  body?: string | object | null;
  headers?: Record<string, string>;
}

/** Handle the request normally, but answer only after `delayMs`: makes clients time out. */
export interface DelayFault extends FaultBase {
  kind: 'delay';
  delayMs: number;
}

/** Destroy the connection without answering. */
export interface ResetFault extends FaultBase {
  kind: 'reset';
}

/** Answer 2xx (default 200) with a body that is not valid JSON. */
export interface MalformedFault extends FaultBase {
  kind: 'malformed';
  status?: number;
}

export type Fault = StatusFault | DelayFault | ResetFault | MalformedFault;

interface Armed {
  readonly fault: Fault;
  remaining: number;
}

/** Faults in the order they were injected; each matching request consumes one use of the first match. */
export class FaultQueue {
  private armed: Armed[] = [];

  add(fault: Fault): void {
    checkFault(fault);
    this.armed.push({ fault, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.armed = [];
  }

  get size(): number {
    return this.armed.length;
  }

  take(method: string, path: string): Fault | undefined {
    const index = this.armed.findIndex(({ fault }) => matches(fault, method, path));
    const hit = this.armed[index];
    if (!hit) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.armed.splice(index, 1);
    return hit.fault;
  }
}

function matches(fault: Fault, method: string, path: string): boolean {
  if (fault.method !== undefined && fault.method !== method) return false;
  if (fault.path === undefined) return true;
  if (typeof fault.path === 'string') return fault.path === path;
  // A global or sticky RegExp would carry lastIndex between requests and match every other time.
  fault.path.lastIndex = 0;
  return fault.path.test(path);
}

function checkFault(fault: Fault): void {
  if (
    fault.times !== undefined &&
    !(fault.times === Number.POSITIVE_INFINITY || isPositiveInteger(fault.times))
  ) {
    throw new EmulatorConfigError('times must be a positive integer or Infinity');
  }
  switch (fault.kind) {
    case 'status':
      if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
        throw new EmulatorConfigError('status must be an integer from 200 to 599');
      }
      return;
    case 'delay':
      if (!Number.isFinite(fault.delayMs) || fault.delayMs < 0) {
        throw new EmulatorConfigError('delayMs must be a finite number >= 0');
      }
      return;
    case 'reset':
      return;
    case 'malformed':
      if (
        fault.status !== undefined &&
        (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 299)
      ) {
        throw new EmulatorConfigError('a malformed fault needs a 2xx status');
      }
      return;
    default:
      throw new EmulatorConfigError(`unknown fault kind "${(fault as { kind?: unknown }).kind}"`);
  }
}

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

const COMMON_KEYS = ['kind', 'method', 'path', 'times'];
const FAULT_KEYS: Readonly<Record<string, readonly string[]>> = {
  status: ['status', 'body', 'headers'],
  delay: ['delayMs'],
  reset: [],
  malformed: ['status'],
};

/**
 * Reads a fault sent as JSON to `POST /_emulator/faults`. JSON has no RegExp and no Infinity, so:
 * a `path` that starts and ends with `/` (e.g. `"/^\\/operations\\//"`) is a RegExp source without flags,
 * any other string is an exact path; `times` may be the string `"Infinity"`.
 */
export function parseFault(input: unknown): Fault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new EmulatorConfigError('fault must be a JSON object');
  }
  const raw = { ...(input as Record<string, unknown>) };
  const kind = String(raw.kind);
  const allowed = Object.hasOwn(FAULT_KEYS, kind) ? FAULT_KEYS[kind] : undefined;
  if (!allowed) throw new EmulatorConfigError('kind must be one of status, delay, reset, malformed');
  for (const key of Object.keys(raw)) {
    if (!COMMON_KEYS.includes(key) && !allowed.includes(key)) {
      throw new EmulatorConfigError(`unknown field "${key}" for a ${kind} fault`);
    }
  }
  if (raw.method !== undefined && raw.method !== 'GET' && raw.method !== 'POST') {
    throw new EmulatorConfigError('method must be GET or POST');
  }
  if (raw.path !== undefined) {
    if (typeof raw.path !== 'string') throw new EmulatorConfigError('path must be a string');
    if (raw.path.length >= 2 && raw.path.startsWith('/') && raw.path.endsWith('/')) {
      try {
        raw.path = new RegExp(raw.path.slice(1, -1));
      } catch (error) {
        throw new EmulatorConfigError(`path is not a valid RegExp: ${(error as Error).message}`);
      }
    }
  }
  if (raw.times === 'Infinity') raw.times = Number.POSITIVE_INFINITY;
  if (raw.times !== undefined && typeof raw.times !== 'number') {
    throw new EmulatorConfigError('times must be a number or "Infinity"');
  }
  switch (raw.kind) {
    case 'status':
      if (typeof raw.status !== 'number')
        throw new EmulatorConfigError('a status fault needs a numeric status');
      if (raw.body !== undefined && raw.body !== null && !['string', 'object'].includes(typeof raw.body)) {
        throw new EmulatorConfigError('body must be a string, an object or null');
      }
      if (raw.headers !== undefined && !isStringRecord(raw.headers)) {
        throw new EmulatorConfigError('headers must be an object of strings');
      }
      break;
    case 'delay':
      if (typeof raw.delayMs !== 'number')
        throw new EmulatorConfigError('a delay fault needs a numeric delayMs');
      break;
    case 'reset':
      break;
    case 'malformed':
      if (raw.status !== undefined && typeof raw.status !== 'number') {
        throw new EmulatorConfigError('status must be a number');
      }
      break;
    default:
      throw new EmulatorConfigError('kind must be one of status, delay, reset, malformed');
  }
  const fault = raw as unknown as Fault;
  checkFault(fault);
  return fault;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  );
}
