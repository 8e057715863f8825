/**
 * The API's routes: which handler answers a method on a path under `/api/v1` (after
 * authentication, rate limit and faults, which the emulator applies first). Every handler reads
 * and changes the emulator's state only through `EmulatorState`.
 */
import { type Answer, ok, operationMissing, ownValue, transition } from './http-answers.ts';
import type { ResourceKind } from './model.ts';
import { operationFilter } from './operation-query.ts';
import { requesterJson, taskPageJson } from './requester-and-tasks.ts';
import type { EmulatorState } from './state.ts';

export type Handler = (id: string, query: URLSearchParams) => Answer;

export interface Route {
  readonly id: string;
  readonly handlers: Record<string, Handler>;
}

export function findRoute(
  segments: string[],
  emulator: { readonly state: EmulatorState; readonly balance: number },
): Route | undefined {
  const { state } = emulator;
  const [collection, id, action, ...rest] = segments;
  if (collection === 'requester' && id === undefined) {
    return { id: '', handlers: { GET: () => ok(requesterJson(emulator.balance)) } };
  }
  if (collection === 'tasks' && id === undefined) {
    const resourceOf = (poolId: string) =>
      state.resourceState('pool', poolId) ?? state.resourceState('training', poolId);
    return {
      id: '',
      handlers: { GET: (_key, query) => ok(taskPageJson(resourceOf(query.get('pool_id') ?? ''), query)) },
    };
  }
  if (collection === 'operations' && id === undefined) {
    return { id: '', handlers: { GET: (_key, query) => ok(state.listOperations(operationFilter(query))) } };
  }
  if (id === undefined || id === '' || rest.length > 0) return undefined;
  if (collection === 'pools' || collection === 'trainings') {
    const kind: ResourceKind = collection === 'pools' ? 'pool' : 'training';
    const handlers: Record<string, Record<string, Handler>> = {
      '': { GET: (key) => ok(state.resourceJson(kind, key)) },
      open: { POST: (key) => transition(state.open(kind, key)) },
      close: { POST: (key) => transition(state.close(kind, key)) },
    };
    const forAction = ownValue(handlers, action ?? '');
    return forAction && { id, handlers: forAction };
  }
  if (collection === 'operations') {
    if (action === undefined) {
      return { id, handlers: { GET: (key) => ok(state.getOperation(key) ?? operationMissing(key)) } };
    }
    if (action === 'log') {
      return { id, handlers: { GET: (key) => ok(state.operationLog(key) ?? operationMissing(key)) } };
    }
  }
  return undefined;
}
