import { randomUUID } from 'node:crypto';
import { EmulatorConfigError, TolokaError } from './errors.ts';

export type ResourceStatus = 'OPEN' | 'CLOSED' | 'ARCHIVED' | 'LOCKED';
export type ResourceKind = 'pool' | 'training';
export type OperationStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAIL';
export type OperationType = 'POOL.OPEN' | 'POOL.CLOSE' | 'TRAINING.OPEN' | 'TRAINING.CLOSE';

/** How one pool (or training) reacts to being opened. Everything is optional. */
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
  /** Shown as `last_close_reason` while the pool is closed. */
  lastCloseReason?: string;
}

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
}

/** The operation exactly as `GET /operations/{id}` renders it. */
export interface OperationJson {
  id: string;
  type: OperationType;
  status: OperationStatus;
  submitted: string;
  started?: string;
  finished?: string;
  progress: number;
  parameters: Record<string, string>;
  details: Record<string, unknown>;
}

export type TransitionResult = { status: 202; operation: OperationJson } | { status: 204 };

const DEFAULT_OPEN_DURATION_MS = 3000;
const MAX_DEFAULT_PENDING_MS = 500;
// Closing has no behaviour knobs: it only has to be an operation a client can follow.
const CLOSE_DURATION_MS = 100;
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
// Only IDs that look like Toloka's are auto-created, so a client that builds paths from garbage gets 404.
const AUTO_CREATE_ID = /^[1-9][0-9]{0,18}$/;
const RESOURCE_STATUSES: ReadonlySet<string> = new Set<ResourceStatus>([
  'OPEN',
  'CLOSED',
  'ARCHIVED',
  'LOCKED',
]);

/** Toloka's date format: UTC, ISO 8601, no zone suffix. */
export function tolokaDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, -1);
}

interface Resource {
  readonly kind: ResourceKind;
  readonly id: string;
  readonly behaviour: PoolBehaviour;
  readonly createdAt: number;
  status: ResourceStatus;
  lastStartedAt?: number;
  lastStoppedAt?: number;
  lastCloseReason?: string;
  activeOperation?: Operation;
}

interface Operation {
  readonly id: string;
  readonly type: OperationType;
  /** The record it acts on; if `setPool` replaced that record, the effect lands on the orphan, harmlessly. */
  readonly resource: Resource;
  readonly submittedAt: number;
  readonly pendingMs: number;
  readonly durationMs: number;
  readonly result: 'SUCCESS' | 'FAIL';
}

export interface StateSeed {
  pools?: Record<string, PoolBehaviour>;
  trainings?: Record<string, PoolBehaviour>;
}

/**
 * Pools, trainings and their operations. Nothing runs in the background: every status is derived from the
 * clock when it is read, so an injected clock moves operations forward deterministically.
 */
export class EmulatorState {
  private readonly resources: Record<ResourceKind, Map<string, Resource>> = {
    pool: new Map(),
    training: new Map(),
  };
  private readonly operations = new Map<string, Operation>();
  private readonly unsettled = new Set<Operation>();

  constructor(
    private readonly now: () => number,
    private readonly autoCreate: boolean,
    private readonly seed: StateSeed = {},
  ) {
    this.reset();
  }

  reset(): void {
    this.resources.pool.clear();
    this.resources.training.clear();
    this.operations.clear();
    this.unsettled.clear();
    for (const [id, behaviour] of Object.entries(this.seed.pools ?? {}))
      this.setResource('pool', id, behaviour);
    for (const [id, behaviour] of Object.entries(this.seed.trainings ?? {})) {
      this.setResource('training', id, behaviour);
    }
  }

  /** Replaces the record wholesale: a test that reconfigures a pool wants a clean start, not a merge. */
  setResource(kind: ResourceKind, id: string, behaviour: PoolBehaviour): ResourceState {
    const checked = parsePoolBehaviour(behaviour);
    const resource: Resource = {
      kind,
      id,
      behaviour: checked,
      createdAt: this.now(),
      status: checked.status ?? 'CLOSED',
    };
    if (checked.lastCloseReason !== undefined) resource.lastCloseReason = checked.lastCloseReason;
    this.resources[kind].set(id, resource);
    return snapshot(resource);
  }

  resourceState(kind: ResourceKind, id: string): ResourceState | undefined {
    this.settle();
    const resource = this.resources[kind].get(id);
    return resource && snapshot(resource);
  }

  resourceJson(kind: ResourceKind, id: string): Record<string, unknown> {
    this.settle();
    const resource = this.find(kind, id);
    return kind === 'pool' ? poolJson(resource) : trainingJson(resource);
  }

  open(kind: ResourceKind, id: string): TransitionResult {
    this.settle();
    const resource = this.find(kind, id);
    const { refuse } = resource.behaviour;
    // `refuse` wins over everything: a test that configures a refusal wants exactly that answer.
    if (refuse) {
      throw new TolokaError(
        409,
        refuse.code,
        refuse.message ?? `Pool cannot be opened: ${refuse.code}`,
        refuse.payload,
      );
    }
    const active = resource.activeOperation;
    if (active) {
      // Toloka does not document a second open during a running one. Answering with the same operation is
      // the safe emulation: a client that retries a timed-out open must converge on one operation.
      if (active.type.endsWith('.OPEN')) return { status: 202, operation: this.render(active) };
      throw lockedByAnother(active);
    }
    if (resource.status === 'OPEN') return { status: 204 };
    if (resource.status !== 'CLOSED') throw inappropriateStatus(resource, ['CLOSED']);

    const durationMs = resource.behaviour.openDurationMs ?? DEFAULT_OPEN_DURATION_MS;
    const pendingMs = Math.min(
      resource.behaviour.pendingMs ?? Math.min(MAX_DEFAULT_PENDING_MS, durationMs / 4),
      durationMs,
    );
    const operation = this.submit(resource, kind === 'pool' ? 'POOL.OPEN' : 'TRAINING.OPEN', {
      pendingMs,
      durationMs,
      result: resource.behaviour.result ?? 'SUCCESS',
    });
    return { status: 202, operation: this.render(operation) };
  }

  close(kind: ResourceKind, id: string): TransitionResult {
    this.settle();
    const resource = this.find(kind, id);
    const active = resource.activeOperation;
    if (active) {
      if (active.type.endsWith('.CLOSE')) return { status: 202, operation: this.render(active) };
      throw lockedByAnother(active);
    }
    if (resource.status === 'CLOSED') return { status: 204 };
    if (resource.status !== 'OPEN') throw inappropriateStatus(resource, ['OPEN']);

    const durationMs = resource.behaviour.openDurationMs === 0 ? 0 : CLOSE_DURATION_MS;
    const operation = this.submit(resource, kind === 'pool' ? 'POOL.CLOSE' : 'TRAINING.CLOSE', {
      pendingMs: 0,
      durationMs,
      result: 'SUCCESS',
    });
    return { status: 202, operation: this.render(operation) };
  }

  getOperation(id: string): OperationJson | undefined {
    this.settle();
    const operation = this.operations.get(id);
    return operation && this.render(operation);
  }

  /** A small log in the shape toloka-kit's `OperationLogItem` parses; empty until the operation ends. */
  operationLog(id: string): Array<Record<string, unknown>> | undefined {
    const rendered = this.getOperation(id);
    if (!rendered) return undefined;
    if (rendered.status !== 'SUCCESS' && rendered.status !== 'FAIL') return [];
    const success = rendered.status === 'SUCCESS';
    return [
      {
        type: rendered.type.replace('.', '_'),
        success,
        input: rendered.parameters,
        output: success
          ? {}
          : { code: 'EMULATED_FAILURE', message: 'The emulator was configured to fail this operation' },
      },
    ];
  }

  private find(kind: ResourceKind, id: string): Resource {
    const existing = this.resources[kind].get(id);
    if (existing) return existing;
    if (!this.autoCreate || !AUTO_CREATE_ID.test(id)) {
      throw new TolokaError(
        404,
        'DOES_NOT_EXIST',
        `${kind === 'pool' ? 'Pool' : 'Training'} ${id} does not exist`,
      );
    }
    const created: Resource = { kind, id, behaviour: {}, createdAt: this.now(), status: 'CLOSED' };
    this.resources[kind].set(id, created);
    return created;
  }

  private submit(
    resource: Resource,
    type: OperationType,
    timing: Pick<Operation, 'pendingMs' | 'durationMs' | 'result'>,
  ): Operation {
    const operation: Operation = {
      id: randomUUID(),
      type,
      resource,
      submittedAt: this.now(),
      ...timing,
    };
    this.operations.set(operation.id, operation);
    this.unsettled.add(operation);
    resource.activeOperation = operation;
    this.settle();
    return operation;
  }

  /** Applies the effect of every operation whose finish time has passed. */
  private settle(): void {
    const now = this.now();
    for (const operation of this.unsettled) {
      const finishedAt = operation.submittedAt + operation.durationMs;
      if (now < finishedAt) continue;
      this.unsettled.delete(operation);
      const { resource } = operation;
      if (resource.activeOperation === operation) resource.activeOperation = undefined;
      if (operation.result !== 'SUCCESS') continue;
      if (operation.type.endsWith('.OPEN')) {
        resource.status = 'OPEN';
        resource.lastStartedAt = finishedAt;
      } else {
        resource.status = 'CLOSED';
        resource.lastStoppedAt = finishedAt;
        resource.lastCloseReason = 'MANUAL';
      }
    }
  }

  private render(operation: Operation): OperationJson {
    const elapsed = this.now() - operation.submittedAt;
    const startedAt = operation.submittedAt + operation.pendingMs;
    let status: OperationStatus = 'PENDING';
    let progress = 0;
    if (elapsed >= operation.durationMs) {
      status = operation.result;
      // A failed operation is finished too, so 100 for both: progress measures processing, not success.
      progress = 100;
    } else if (elapsed >= operation.pendingMs) {
      status = 'RUNNING';
      const runningMs = operation.durationMs - operation.pendingMs;
      progress = Math.min(99, Math.floor((99 * (elapsed - operation.pendingMs)) / runningMs));
    }
    const idKey = operation.resource.kind === 'pool' ? 'pool_id' : 'training_id';
    // Key order follows Toloka's documented example, which keeps captured bodies easy to diff.
    return {
      id: operation.id,
      type: operation.type,
      status,
      submitted: tolokaDate(operation.submittedAt),
      ...(status === 'PENDING' ? {} : { started: tolokaDate(startedAt) }),
      ...(status === 'SUCCESS' || status === 'FAIL'
        ? { finished: tolokaDate(operation.submittedAt + operation.durationMs) }
        : {}),
      progress,
      parameters: { [idKey]: operation.resource.id },
      details: {},
    };
  }
}

function lockedByAnother(active: Operation): TolokaError {
  return new TolokaError(
    409,
    'POOL_LOCKED_BY_ANOTHER_OPERATION',
    `Pool is locked by another operation (${active.type} ${active.id})`,
    { operation_id: active.id },
  );
}

function inappropriateStatus(resource: Resource, appropriate: ResourceStatus[]): TolokaError {
  return new TolokaError(
    409,
    'INAPPROPRIATE_STATUS',
    'This or related resource is in inappropriate status, operation is not allowed',
    { appropriate_statuses: appropriate, current_status: resource.status },
  );
}

function snapshot(resource: Resource): ResourceState {
  const state: ResourceState = {
    kind: resource.kind,
    id: resource.id,
    status: resource.status,
    createdAt: resource.createdAt,
  };
  if (resource.lastStartedAt !== undefined) state.lastStartedAt = resource.lastStartedAt;
  if (resource.lastStoppedAt !== undefined) state.lastStoppedAt = resource.lastStoppedAt;
  if (resource.lastCloseReason !== undefined) state.lastCloseReason = resource.lastCloseReason;
  if (resource.activeOperation) state.activeOperationId = resource.activeOperation.id;
  return state;
}

/** Fields shared by pools and trainings, in the shape toloka-kit's `Pool` and `Training` classes parse. */
function readOnlyFields(resource: Resource): Record<string, unknown> {
  const fields: Record<string, unknown> = { status: resource.status };
  if (resource.status === 'CLOSED' && resource.lastCloseReason !== undefined) {
    fields.last_close_reason = resource.lastCloseReason;
  }
  fields.created = tolokaDate(resource.createdAt);
  if (resource.lastStartedAt !== undefined) fields.last_started = tolokaDate(resource.lastStartedAt);
  if (resource.lastStoppedAt !== undefined) fields.last_stopped = tolokaDate(resource.lastStoppedAt);
  return fields;
}

function poolJson(resource: Resource): Record<string, unknown> {
  return {
    id: resource.id,
    project_id: '1',
    private_name: `Emulated pool ${resource.id}`,
    may_contain_adult_content: false,
    reward_per_assignment: 0.01,
    assignment_max_duration_seconds: 600,
    defaults: { default_overlap_for_new_task_suites: 1, default_overlap_for_new_tasks: 1 },
    will_expire: tolokaDate(resource.createdAt + YEAR_MS),
    auto_accept_solutions: true,
    priority: 0,
    quality_control: { configs: [] },
    mixer_config: { real_tasks_count: 1, golden_tasks_count: 0, training_tasks_count: 0 },
    type: 'REGULAR',
    ...readOnlyFields(resource),
  };
}

function trainingJson(resource: Resource): Record<string, unknown> {
  return {
    id: resource.id,
    project_id: '1',
    private_name: `Emulated training ${resource.id}`,
    may_contain_adult_content: false,
    assignment_max_duration_seconds: 600,
    mix_tasks_in_creation_order: true,
    shuffle_tasks_in_task_suite: false,
    training_tasks_in_task_suite_count: 1,
    task_suites_required_to_pass: 1,
    retry_training_after_days: 1,
    inherited_instructions: true,
    ...readOnlyFields(resource),
  };
}

const BEHAVIOUR_KEYS: ReadonlySet<string> = new Set([
  'status',
  'openDurationMs',
  'pendingMs',
  'result',
  'refuse',
  'lastCloseReason',
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
  if (raw.refuse !== undefined) behaviour.refuse = parseRefusal(raw.refuse);
  if (raw.lastCloseReason !== undefined) {
    if (typeof raw.lastCloseReason !== 'string')
      throw new EmulatorConfigError('lastCloseReason must be a string');
    behaviour.lastCloseReason = raw.lastCloseReason;
  }
  return behaviour;
}

function duration(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new EmulatorConfigError(`${name} must be a finite number >= 0`);
  }
  return value;
}

function parseRefusal(value: unknown): NonNullable<PoolBehaviour['refuse']> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EmulatorConfigError('refuse must be an object with a code');
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.code !== 'string' || raw.code === '')
    throw new EmulatorConfigError('refuse.code must be a string');
  if (raw.message !== undefined && typeof raw.message !== 'string') {
    throw new EmulatorConfigError('refuse.message must be a string');
  }
  const refusal: NonNullable<PoolBehaviour['refuse']> = { code: raw.code };
  if (typeof raw.message === 'string') refusal.message = raw.message;
  if (raw.payload !== undefined) refusal.payload = raw.payload;
  return refusal;
}
