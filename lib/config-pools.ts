/**
 * The `pools` of the configuration file: one entry per pool or training, each with its
 * schedules; schedule names given or generated, valid and unique in the file.
 */
import type { PoolConfig, ScheduleConfig, WindowConfig } from './config-format.ts';
import { isObject, type Problems, present } from './config-problems.ts';
import { checkScheduleExpression, expressionKind } from './schedule-expression.ts';
import { nextOccurrences } from './schedule-occurrences.ts';
import { passedStartDate } from './schedule-settings.ts';
import {
  assignScheduleNames,
  checkScheduleName,
  checkTimeZone,
  checkTolokaId,
  duplicateNames,
  show,
} from './validation.ts';

const POOL_KEYS = ['poolId', 'trainingId', 'schedules'] as const;
const SCHEDULE_KEYS = [
  'name',
  'expression',
  'action',
  'window',
  'timeZone',
  'flexibleWindowMinutes',
  'startDate',
  'endDate',
  'enabled',
  'skip',
  'maxLatenessMinutes',
] as const;
const WINDOW_KEYS = ['open', 'close', 'timeZone'] as const;
/** How far ahead a window's open and close are compared, and how many firings of each at most. */
const WINDOW_CHECK_DAYS = 2 * 366;
const WINDOW_CHECK_FIRINGS = 5000;

const INSTANT =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$/;

export function parsePools(
  raw: readonly unknown[],
  p: Problems,
  nowMs: number,
  calendars: readonly string[] = [],
): PoolConfig[] {
  const pools: { poolId?: string; trainingId?: string; schedules: ParsedSchedule[] }[] = [];
  const firstListing = new Map<string, string>();
  raw.forEach((entry, i) => {
    const path = `pools[${i}]`;
    if (!isObject(entry)) {
      p.add(path, `must be an object (got ${show(entry)})`);
      return;
    }
    p.keys(entry, path, POOL_KEYS);
    const hasPool = present(entry.poolId);
    const hasTraining = present(entry.trainingId);
    if (hasPool === hasTraining) p.add(path, 'give exactly one of poolId and trainingId');
    const idKey = hasTraining && !hasPool ? 'trainingId' : 'poolId';
    let id: string | undefined;
    if (present(entry[idKey])) {
      const problem = checkTolokaId(entry[idKey]);
      p.add(`${path}.${idKey}`, problem);
      if (problem === undefined) id = entry[idKey] as string;
    }
    if (hasPool && hasTraining) {
      p.add(`${path}.trainingId`, checkTolokaId(entry.trainingId));
    }
    if (id !== undefined) {
      const key = `${idKey}:${id}`;
      const first = firstListing.get(key);
      if (first !== undefined) {
        p.add(`${path}.${idKey}`, `${show(id)} is already listed at ${first}; put all its schedules there`);
      } else firstListing.set(key, path);
    }

    const schedules: ParsedSchedule[] = [];
    if (!Array.isArray(entry.schedules)) {
      p.add(
        `${path}.schedules`,
        present(entry.schedules) ? `must be an array (got ${show(entry.schedules)})` : 'is required',
      );
    } else if (entry.schedules.length === 0) {
      p.add(`${path}.schedules`, 'must have at least one schedule');
    } else {
      entry.schedules.forEach((schedule: unknown, j: number) => {
        const at = p.list.length;
        const parsed = parseSchedule(schedule, `${path}.schedules[${j}]`, p, nowMs, calendars);
        if (parsed !== undefined) schedules.push({ ...parsed, at });
      });
    }
    pools.push({
      ...(id === undefined ? {} : idKey === 'poolId' ? { poolId: id } : { trainingId: id }),
      schedules,
    });
  });

  // Names: explicit ones as given, missing ones generated; all valid and unique in the file.
  // Their problems go before the other problems of their schedule (`name` is its first key).
  const flat = pools.flatMap((pool) =>
    pool.schedules.map((schedule) => ({
      schedule,
      idMissing: pool.trainingId === undefined && pool.poolId === undefined,
      ref: {
        name: schedule.name ?? undefined,
        kind: pool.trainingId === undefined ? ('pool' as const) : ('training' as const),
        id: pool.trainingId ?? pool.poolId ?? '?',
      },
    })),
  );
  const names = assignScheduleNames(flat.map((f) => f.ref));
  const paths = flat.map((f) => `${f.schedule.path}.name`);
  const duplicates = duplicateNames(names, (first) => paths[first] ?? '?');
  const nameProblems = flat.map((f, k): string[] => {
    const name = names[k] ?? '';
    const where = paths[k] ?? '?';
    const problem = checkScheduleName(name);
    const duplicate = duplicates.get(k);
    if (f.ref.name !== undefined) {
      return [problem, duplicate].flatMap((x) => (x === undefined ? [] : [`${where}: ${x}`]));
    }
    if (f.idMissing) return []; // already reported: no pool or training ID to name it after
    if (problem !== undefined)
      return [`${where}: the generated name ${show(name)} is not valid (${problem}); set one`];
    if (duplicate !== undefined) return [`${where}: the generated name ${duplicate}; set one`];
    return [];
  });
  for (let k = flat.length - 1; k >= 0; k--) {
    p.list.splice(flat[k]?.schedule.at ?? p.list.length, 0, ...(nameProblems[k] ?? []));
  }

  let k = 0;
  return pools.map((pool) => ({
    ...pool,
    schedules: pool.schedules.map(({ path: _path, at: _at, ...schedule }) => ({
      ...schedule,
      name: names[k++] ?? '',
    })),
  }));
}

type ParsedSchedule = ScheduleConfig & { readonly path: string; readonly at: number };

function parseSchedule(
  raw: unknown,
  path: string,
  p: Problems,
  nowMs: number,
  calendars: readonly string[],
): (ScheduleConfig & { path: string }) | undefined {
  if (!isObject(raw)) {
    p.add(path, `must be an object (got ${show(raw)})`);
    return undefined;
  }
  p.keys(raw, path, SCHEDULE_KEYS);
  const name = p.string(raw, 'name', path);
  // The schedule's own timeZone, read as given, for a window to compare its own with.
  const givenTimeZone = typeof raw.timeZone === 'string' && raw.timeZone !== '' ? raw.timeZone : undefined;
  const window = present(raw.window)
    ? parseWindow(raw.window, `${path}.window`, p, givenTimeZone, nowMs)
    : undefined;
  if (present(raw.window)) {
    for (const key of ['expression', 'action'] as const) {
      if (present(raw[key]))
        p.add(`${path}.${key}`, 'goes with a single schedule, not with window (which opens and closes)');
    }
  }
  const expression = present(raw.window) ? undefined : p.string(raw, 'expression', path, true);
  if (expression !== undefined) p.add(`${path}.expression`, checkScheduleExpression(expression));
  const timeZone = p.string(raw, 'timeZone', path);
  if (timeZone !== undefined) p.add(`${path}.timeZone`, checkTimeZone(timeZone));
  const kind = expression === undefined ? undefined : expressionKind(expression);
  let action: 'open' | 'close' | undefined;
  if (present(raw.action) && !present(raw.window)) {
    if (raw.action === 'open' || raw.action === 'close') action = raw.action;
    else p.add(`${path}.action`, `must be "open" or "close" (got ${show(raw.action)})`);
  }
  let skip: string[] | undefined;
  if (present(raw.skip)) {
    if (!Array.isArray(raw.skip))
      p.add(`${path}.skip`, `must be an array of calendar names (got ${show(raw.skip)})`);
    else {
      skip = [];
      raw.skip.forEach((calendar: unknown, i: number) => {
        if (typeof calendar === 'string' && calendars.includes(calendar)) skip?.push(calendar);
        else {
          const known =
            calendars.length === 0 ? 'none are defined in "calendars"' : `calendars: ${calendars.join(', ')}`;
          p.add(`${path}.skip[${i}]`, `${show(calendar)} is not a calendar (${known})`);
        }
      });
    }
  }
  const maxLatenessMinutes = p.number(raw, 'maxLatenessMinutes', path, { min: 10, max: 10_080, unit: 'min' });
  const flexibleWindowMinutes = p.number(raw, 'flexibleWindowMinutes', path, {
    min: 1,
    max: 1440,
    unit: 'min',
  });

  const instant = (key: 'startDate' | 'endDate'): string | undefined => {
    const value = p.string(raw, key, path);
    if (value === undefined) return undefined;
    if (!INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
      p.add(
        `${path}.${key}`,
        `${show(value)} must be an ISO 8601 instant with a zone, e.g. "2026-12-01T00:00:00Z"`,
      );
      return undefined;
    }
    if (kind === 'at') p.add(`${path}.${key}`, 'has no effect on a one-time at() schedule; remove it');
    return value;
  };
  const startDate = instant('startDate');
  // Against the clock here too, so that a start date that has passed is reported with every other
  // problem of the file, not in a second run once they are fixed.
  if (startDate !== undefined && kind !== 'at') {
    p.add(`${path}.startDate`, passedStartDate(new Date(startDate), nowMs));
  }
  const endDate = instant('endDate');
  if (startDate !== undefined && endDate !== undefined && Date.parse(endDate) <= Date.parse(startDate)) {
    p.add(`${path}.endDate`, `${show(endDate)} must be after startDate (${show(startDate)})`);
  }
  let enabled: boolean | undefined;
  if (present(raw.enabled)) {
    if (typeof raw.enabled === 'boolean') enabled = raw.enabled;
    else p.add(`${path}.enabled`, `must be true or false (got ${show(raw.enabled)})`);
  }
  return {
    path,
    ...(name === undefined ? {} : { name }),
    ...(window === undefined ? { expression: expression ?? '' } : { window }),
    ...(action === undefined ? {} : { action }),
    ...(skip === undefined ? {} : { skip }),
    ...(maxLatenessMinutes === undefined ? {} : { maxLatenessMinutes }),
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(flexibleWindowMinutes === undefined ? {} : { flexibleWindowMinutes }),
    ...(startDate === undefined ? {} : { startDate }),
    ...(endDate === undefined ? {} : { endDate }),
    ...(enabled === undefined ? {} : { enabled }),
  };
}

/**
 * `window`: an open and a close expression (and their time zone, or the schedule's), which must
 * never fire at the same minute: their firings over the next two years are compared, daylight
 * saving included.
 */
function parseWindow(
  raw: unknown,
  path: string,
  p: Problems,
  scheduleTimeZone: string | undefined,
  nowMs: number,
): WindowConfig | undefined {
  if (!isObject(raw)) {
    p.add(
      path,
      `must be an object such as {"open": "cron(0 9 ? * MON-FRI *)", "close": "cron(0 18 ? * MON-FRI *)"} (got ${show(raw)})`,
    );
    return undefined;
  }
  p.keys(raw, path, WINDOW_KEYS);
  const open = p.string(raw, 'open', path, true);
  const close = p.string(raw, 'close', path, true);
  const problems = p.list.length;
  if (open !== undefined) p.add(`${path}.open`, checkScheduleExpression(open));
  if (close !== undefined) p.add(`${path}.close`, checkScheduleExpression(close));
  const timeZone = p.string(raw, 'timeZone', path);
  if (timeZone !== undefined) {
    p.add(`${path}.timeZone`, checkTimeZone(timeZone));
    if (scheduleTimeZone !== undefined && scheduleTimeZone !== timeZone) {
      p.add(
        `${path}.timeZone`,
        `differs from the schedule's timeZone ${show(scheduleTimeZone)}: give it once`,
      );
    }
  }
  if (open === undefined || close === undefined || p.list.length > problems) return undefined;
  const zone = timeZone ?? scheduleTimeZone ?? 'UTC';
  const firings = (expression: string) =>
    nextOccurrences({ expression, timeZone: zone }, nowMs, WINDOW_CHECK_FIRINGS, WINDOW_CHECK_DAYS);
  const opens = new Set(firings(open));
  const both = firings(close).find((at) => opens.has(at));
  if (both !== undefined) {
    const local = new Date(both).toLocaleString('sv-SE', { timeZone: zone }).slice(0, 16);
    p.add(
      path,
      `open and close both fire at ${local} (${zone}): a pool cannot open and close at the same minute`,
    );
  }
  return { open, close, ...(timeZone === undefined ? {} : { timeZone }) };
}
