/** The query of `GET /operations`, read as Toloka's specification describes it. */
import { TolokaError } from './errors.ts';
import type { OperationFilter } from './model.ts';

const OPERATION_SORT_KEYS: ReadonlySet<string> = new Set(['id', 'submitted', 'finished']);
const DEFAULT_OPERATION_LIMIT = 50;
const MAX_OPERATION_LIMIT = 500;

/** The query of `GET /operations` as a filter; a bad value is 400 `VALIDATION_ERROR`, naming it. */
export function operationFilter(query: URLSearchParams): OperationFilter {
  const invalid = (name: string, why: string): never => {
    throw new TolokaError(400, 'VALIDATION_ERROR', `Invalid query parameter ${name}: ${why}`);
  };
  const list = (name: string) => {
    const value = query.get(name);
    return value === null ? undefined : value.split(',').filter((item) => item !== '');
  };
  const date = (name: string): number | undefined => {
    const value = query.get(name);
    if (value === null) return undefined;
    const match = /^([0-9]{4}-[0-9]{2}-[0-9]{2})(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?$/.exec(
      value,
    );
    const ms =
      match === null
        ? Number.NaN
        : Date.parse(`${match[1]}${match[2] ?? 'T00:00'}Z`.replace(/(\.[0-9]{3})[0-9]+Z$/, '$1Z'));
    return Number.isNaN(ms)
      ? invalid(name, `${JSON.stringify(value)} is not a UTC date (YYYY-MM-DD[Thh:mm[:ss[.ssssss]]])`)
      : ms;
  };
  let limit = DEFAULT_OPERATION_LIMIT;
  const rawLimit = query.get('limit');
  if (rawLimit !== null) {
    limit = Number(rawLimit);
    if (!/^[0-9]+$/.test(rawLimit) || limit < 1 || limit > MAX_OPERATION_LIMIT) {
      invalid('limit', `must be a whole number from 1 to ${MAX_OPERATION_LIMIT}`);
    }
  }
  const sort = list('sort') ?? [];
  for (const key of sort) {
    if (!OPERATION_SORT_KEYS.has(key.replace(/^-/, '')))
      invalid('sort', `unknown key ${JSON.stringify(key)}`);
  }
  const filter: { -readonly [K in keyof OperationFilter]: OperationFilter[K] } = { limit, sort };
  const types = list('type');
  if (types !== undefined) filter.types = types;
  const statuses = list('status');
  if (statuses !== undefined) filter.statuses = statuses;
  const bounds = [
    ['submitted_gte', 'submittedGte'],
    ['submitted_lte', 'submittedLte'],
    ['submitted_gt', 'submittedGt'],
    ['submitted_lt', 'submittedLt'],
  ] as const;
  for (const [name, key] of bounds) {
    const value = date(name);
    if (value !== undefined) filter[key] = value;
  }
  return filter;
}
