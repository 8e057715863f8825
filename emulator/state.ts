import { randomBytes, randomUUID } from 'node:crypto';
import { TolokaError } from './errors.ts';
import {
  type OperationFilter,
  type OperationJson,
  type OperationListJson,
  type OperationStatus,
  type OperationType,
  type RenderedStatus,
  type ResourceKind,
  type ResourceState,
  type ResourceStatus,
  type TransitionResult,
  tolokaDate,
} from './model.ts';
import { type PoolBehaviour, parsePoolBehaviour } from './pool-behaviour.ts';
import { poolJson, snapshot, trainingJson } from './resource-json.ts';
import type { Operation, Resource } from './resources.ts';
import { DEFAULT_SWITCHES, type EmulatorSwitches } from './switches.ts';

const DEFAULT_OPEN_DURATION_MS = 3000;
const MAX_DEFAULT_PENDING_MS = 500;
// A close is quick unless a test says otherwise (closeDurationMs).
const CLOSE_DURATION_MS = 100;
// Only IDs that look like Toloka's are auto-created, so a client that builds paths from garbage gets 404.
const AUTO_CREATE_ID = /^[1-9][0-9]{0,18}$/;

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
    private readonly switches: () => EmulatorSwitches = () => DEFAULT_SWITCHES,
    private readonly seed: StateSeed = {},
  ) {
    this.reset();
  }

  private date(ms: number): string {
    return tolokaDate(ms, this.switches().dateFractionDigits);
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
    const date = (ms: number) => this.date(ms);
    return kind === 'pool' ? poolJson(resource, date) : trainingJson(resource, date);
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
      // Toloka does not document a second open during a running one; ../shared/toloka-api.md assumes
      // 409 POOL_LOCKED_BY_ANOTHER_OPERATION, and the `same-operation` switch answers the running one.
      if (active.type.endsWith('.OPEN') && this.switches().secondOpen === 'same-operation') {
        return { status: 202, operation: this.render(active) };
      }
      throw lockedByAnother();
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
    const { refuseClose } = resource.behaviour;
    if (refuseClose) {
      throw new TolokaError(
        409,
        refuseClose.code,
        refuseClose.message ?? `Pool cannot be closed: ${refuseClose.code}`,
        refuseClose.payload,
      );
    }
    const active = resource.activeOperation;
    if (active) {
      if (active.type.endsWith('.CLOSE') && this.switches().secondOpen === 'same-operation') {
        return { status: 202, operation: this.render(active) };
      }
      throw lockedByAnother();
    }
    if (resource.status === 'CLOSED') return { status: 204 };
    if (resource.status !== 'OPEN') throw inappropriateStatus(resource, ['OPEN']);

    const durationMs =
      resource.behaviour.closeDurationMs ?? (resource.behaviour.openDurationMs === 0 ? 0 : CLOSE_DURATION_MS);
    const operation = this.submit(resource, kind === 'pool' ? 'POOL.CLOSE' : 'TRAINING.CLOSE', {
      pendingMs: Math.min(MAX_DEFAULT_PENDING_MS, durationMs / 4),
      durationMs,
      result: resource.behaviour.closeResult ?? 'SUCCESS',
    });
    return { status: 202, operation: this.render(operation) };
  }

  getOperation(id: string): OperationJson | undefined {
    this.settle();
    const operation = this.operations.get(id);
    return operation && this.render(operation);
  }

  /** `GET /operations`: the operations that pass every filter, sorted, at most `limit` of them. */
  listOperations(filter: OperationFilter): OperationListJson {
    this.settle();
    const matching = [...this.operations.values()]
      .map((operation) => ({ operation, json: this.render(operation) }))
      .filter(({ operation, json }) => {
        const submitted = operation.submittedAt;
        return (
          (filter.types === undefined || filter.types.includes(json.type)) &&
          (filter.statuses === undefined || filter.statuses.includes(json.status)) &&
          (filter.submittedGte === undefined || submitted >= filter.submittedGte) &&
          (filter.submittedLte === undefined || submitted <= filter.submittedLte) &&
          (filter.submittedGt === undefined || submitted > filter.submittedGt) &&
          (filter.submittedLt === undefined || submitted < filter.submittedLt)
        );
      });
    const keyOf = (entry: (typeof matching)[number], key: string): string | number => {
      if (key === 'submitted') return entry.operation.submittedAt;
      if (key === 'finished')
        return entry.json.finished === undefined
          ? Number.POSITIVE_INFINITY
          : entry.operation.submittedAt + entry.operation.durationMs;
      return entry.operation.id;
    };
    const sort = filter.sort.length === 0 ? ['id'] : filter.sort;
    matching.sort((a, b) => {
      for (const spec of sort) {
        const descending = spec.startsWith('-');
        const key = descending ? spec.slice(1) : spec;
        const [x, y] = [keyOf(a, key), keyOf(b, key)];
        if (x !== y) return (x < y ? -1 : 1) * (descending ? -1 : 1);
      }
      return 0;
    });
    return {
      items: matching.slice(0, filter.limit).map(({ json }) => json),
      has_more: matching.length > filter.limit,
    };
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
    if (!this.switches().autoCreatePools || !AUTO_CREATE_ID.test(id)) {
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
      id: this.switches().operationIds === 'hex24' ? randomBytes(12).toString('hex') : randomUUID(),
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
    const switches = this.switches();
    const shown: RenderedStatus =
      status === 'PENDING' && switches.unknownStatus !== null ? switches.unknownStatus : status;
    // Key order follows Toloka's documented example, which keeps captured bodies easy to diff.
    return {
      id: operation.id,
      type: operation.type,
      status: shown,
      submitted: this.date(operation.submittedAt),
      ...(status === 'PENDING' ? {} : { started: this.date(startedAt) }),
      ...(status === 'SUCCESS' || status === 'FAIL'
        ? { finished: this.date(operation.submittedAt + operation.durationMs) }
        : {}),
      ...(switches.operationProgress ? { progress } : {}),
      parameters: { [idKey]: operation.resource.id },
      ...(switches.operationDetails ? { details: {} } : {}),
    };
  }
}

/** Toloka's text for the code, as both SDKs know it; no payload, so a client must look the operation up. */
function lockedByAnother(): TolokaError {
  return new TolokaError(
    409,
    'POOL_LOCKED_BY_ANOTHER_OPERATION',
    'Operation forbidden while pool locked by another operation',
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
