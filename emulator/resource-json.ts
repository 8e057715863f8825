/** A pool or training as Toloka's `GET /pools/{id}` and `/trainings/{id}` show it, and as tests see it. */
import type { ResourceState } from './model.ts';
import type { Resource } from './resources.ts';

const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

export function snapshot(resource: Resource): ResourceState {
  const state: ResourceState = {
    kind: resource.kind,
    id: resource.id,
    status: resource.status,
    createdAt: resource.createdAt,
    tasks: resource.behaviour.tasks ?? 1,
  };
  if (resource.lastStartedAt !== undefined) state.lastStartedAt = resource.lastStartedAt;
  if (resource.lastStoppedAt !== undefined) state.lastStoppedAt = resource.lastStoppedAt;
  if (resource.lastCloseReason !== undefined) state.lastCloseReason = resource.lastCloseReason;
  if (resource.activeOperation) state.activeOperationId = resource.activeOperation.id;
  return state;
}

/** Fields shared by pools and trainings, in the shape toloka-kit's `Pool` and `Training` classes parse. */
function readOnlyFields(resource: Resource, date: (ms: number) => string): Record<string, unknown> {
  const fields: Record<string, unknown> = { status: resource.status };
  if (resource.status === 'CLOSED' && resource.lastCloseReason !== undefined) {
    fields.last_close_reason = resource.lastCloseReason;
  }
  fields.created = date(resource.createdAt);
  if (resource.lastStartedAt !== undefined) fields.last_started = date(resource.lastStartedAt);
  if (resource.lastStoppedAt !== undefined) fields.last_stopped = date(resource.lastStoppedAt);
  return fields;
}

export function poolJson(resource: Resource, date: (ms: number) => string): Record<string, unknown> {
  return {
    id: resource.id,
    project_id: '1',
    private_name: `Emulated pool ${resource.id}`,
    may_contain_adult_content: false,
    reward_per_assignment: 0.01,
    assignment_max_duration_seconds: 600,
    defaults: { default_overlap_for_new_task_suites: 1, default_overlap_for_new_tasks: 1 },
    will_expire: date(resource.createdAt + YEAR_MS),
    auto_accept_solutions: true,
    priority: 0,
    quality_control: { configs: [] },
    mixer_config: { real_tasks_count: 1, golden_tasks_count: 0, training_tasks_count: 0 },
    type: 'REGULAR',
    ...readOnlyFields(resource, date),
  };
}

export function trainingJson(resource: Resource, date: (ms: number) => string): Record<string, unknown> {
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
    ...readOnlyFields(resource, date),
  };
}
