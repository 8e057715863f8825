/**
 * The emulator's vocabulary: statuses, kinds, the JSON shapes it answers with and Toloka's date
 * format. No imports, so every other module of the emulator can use it and imports run one way.
 */
export type ResourceStatus = 'OPEN' | 'CLOSED' | 'ARCHIVED' | 'LOCKED';
export type ResourceKind = 'pool' | 'training';
export type OperationStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAIL';
/** What an operation shows: one of Toloka's four, or the `unknownStatus` switch's. */
export type RenderedStatus = OperationStatus | (string & {});
export type OperationType = 'POOL.OPEN' | 'POOL.CLOSE' | 'TRAINING.OPEN' | 'TRAINING.CLOSE';

/** A snapshot for tests: what the emulator believes about one pool or training. */
export interface ResourceState {
  kind: ResourceKind;
  id: string;
  status: ResourceStatus;
  createdAt: number;
  lastStartedAt?: number;
  lastStoppedAt?: number;
  lastCloseReason?: string;
  /** The open or close operation still in progress, if any. */
  activeOperationId?: string;
  /** How many tasks it has (`GET /tasks?pool_id=`). */
  tasks: number;
}

/** The operation exactly as `GET /operations/{id}` renders it. */
export interface OperationJson {
  id: string;
  type: OperationType;
  status: RenderedStatus;
  submitted: string;
  started?: string;
  finished?: string;
  /** Absent with the `operationProgress: false` switch. */
  progress?: number;
  parameters: Record<string, string>;
  /** Absent with the `operationDetails: false` switch. */
  details?: Record<string, unknown>;
}

/** `GET /operations`: the specification's list shape. */
export interface OperationListJson {
  items: OperationJson[];
  has_more: boolean;
}

/** The filters of `GET /operations` the emulator understands, already checked. */
export interface OperationFilter {
  readonly types?: readonly string[];
  readonly statuses?: readonly string[];
  readonly submittedGte?: number;
  readonly submittedLte?: number;
  readonly submittedGt?: number;
  readonly submittedLt?: number;
  readonly limit: number;
  /** Sort keys, `-` for descending: `id`, `submitted`, `finished`. */
  readonly sort: readonly string[];
}

export type TransitionResult = { status: 202; operation: OperationJson } | { status: 204 };

/** Toloka's date format: UTC, ISO 8601, no zone suffix, with 0, 3 or 6 fraction digits. */
export function tolokaDate(ms: number, fractionDigits: 0 | 3 | 6 = 3): string {
  const iso = new Date(ms).toISOString().slice(0, -1);
  if (fractionDigits === 0) return iso.slice(0, 19);
  // Microseconds the millisecond clock cannot tell: a fixed, non-zero tail, so a client that
  // drops or mis-pads digits reads another instant.
  return fractionDigits === 6 ? `${iso}417` : iso;
}
