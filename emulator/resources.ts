/** A pool or training as the emulator holds it, and the operation in progress on it. */
import type { OperationType, ResourceKind, ResourceStatus } from './model.ts';
import type { PoolBehaviour } from './pool-behaviour.ts';

export interface Resource {
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

export interface Operation {
  readonly id: string;
  readonly type: OperationType;
  /** The record it acts on; if `setPool` replaced that record, the effect lands on the orphan, harmlessly. */
  readonly resource: Resource;
  readonly submittedAt: number;
  readonly pendingMs: number;
  readonly durationMs: number;
  readonly result: 'SUCCESS' | 'FAIL';
}
