/**
 * `GET /requester` (the account: its ID, balance and public name) and `GET /tasks?pool_id=` (a
 * pool's tasks, as many as its `tasks` behaviour says), in the shapes of Toloka's specification
 * (`RequesterViewV1`, `PageOfV1TaskViewV1`): what a preflight check reads.
 */
import { TolokaError } from './errors.ts';
import type { ResourceState } from './model.ts';

export function requesterJson(balance: number): Record<string, unknown> {
  return { id: 'emulated-requester', balance, public_name: { EN: 'Emulated requester' } };
}

/** At most `limit` (default 50, at most 100000 as Toloka allows) of the pool's tasks. */
export function taskPageJson(
  resource: ResourceState | undefined,
  query: URLSearchParams,
): Record<string, unknown> {
  const poolId = query.get('pool_id') ?? '';
  const limitText = query.get('limit');
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new TolokaError(
      400,
      'VALIDATION_ERROR',
      'Invalid query parameter limit: must be a whole number from 1',
    );
  }
  const total = resource?.tasks ?? 0;
  const items = Array.from({ length: Math.min(limit, total) }, (_, i) => ({
    id: `emulated-task-${poolId}-${i + 1}`,
    pool_id: poolId,
    input_values: {},
  }));
  return { items, has_more: total > items.length };
}
