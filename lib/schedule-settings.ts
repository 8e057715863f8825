/**
 * The schedules of {@link TolokaPoolOpenerProps}: each names one pool or training, a valid
 * expression, time zone and dates; names given or generated, unique in the stack.
 */
import type { PoolSchedule } from './opener-props.ts';
import { atExpressionInstant, checkScheduleExpression, expressionKind } from './schedule-expression.ts';
import {
  assignScheduleNames,
  checkScheduleName,
  checkTimeZone,
  checkTolokaId,
  duplicateNames,
  durationSeconds,
  isDate,
  show,
} from './validation.ts';

/** A schedule as the construct builds it: its name, time zone, action, lateness, calendars and label decided. */
export type ResolvedSchedule = PoolSchedule & {
  readonly name: string;
  readonly timeZone: string;
  readonly label: string;
  readonly action: 'open' | 'close';
  readonly maxLatenessMinutes: number;
  /** The calendars it skips, with their dates. */
  readonly skipDates: Readonly<Record<string, readonly string[]>>;
};

/** Scheduler's own retries end within an hour (the schedules' maximum event age). */
export const DEFAULT_MAX_LATENESS_MINUTES = 60;
const MAX_LATENESS_MINUTES = 10_080;
const CALENDAR_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Enough for decades of holidays; bounds what each schedule's input carries. */
const MAX_CALENDAR_DATES = 1000;

/** Each calendar's problems: its name, and each date a real `YYYY-MM-DD` one. */
export function checkCalendars(
  value: unknown,
  add: (where: string, problem: string | undefined) => void,
  where = 'calendars',
): Readonly<Record<string, readonly string[]>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    add(where, `must be an object of calendar names to lists of dates (got ${show(value)})`);
    return {};
  }
  const calendars: Record<string, readonly string[]> = {};
  for (const [name, dates] of Object.entries(value as Record<string, unknown>)) {
    if (!CALENDAR_NAME.test(name)) add(`${where}.${name}`, 'the name must be 1-64 of A-Z a-z 0-9 _ -');
    if (!Array.isArray(dates)) {
      add(`${where}.${name}`, `must be an array of dates written YYYY-MM-DD (got ${show(dates)})`);
      continue;
    }
    if (dates.length > MAX_CALENDAR_DATES)
      add(`${where}.${name}`, `has ${dates.length} dates, more than ${MAX_CALENDAR_DATES}`);
    dates.forEach((date: unknown, i) => {
      add(`${where}.${name}[${i}]`, checkCalendarDate(date));
    });
    calendars[name] = dates.filter((date): date is string => typeof date === 'string');
  }
  return calendars;
}

/** A calendar date: `YYYY-MM-DD`, a day that exists. */
export function checkCalendarDate(date: unknown): string | undefined {
  if (typeof date !== 'string' || !/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date)) {
    return `must be a date written YYYY-MM-DD (got ${show(date)})`;
  }
  const parsed = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date
    ? `${date} is not a day of the calendar`
    : undefined;
}

export function resolveSchedules(
  value: readonly PoolSchedule[] | undefined,
  add: (where: string, problem: string | undefined) => void,
  calendars: Readonly<Record<string, readonly string[]>> = {},
): readonly ResolvedSchedule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    add('schedules', `must be an array (got ${show(value)})`);
    return [];
  }
  const targets = value.map((schedule) => {
    const kind: 'pool' | 'training' =
      schedule.poolId !== undefined || schedule.trainingId === undefined ? 'pool' : 'training';
    const id = String((kind === 'pool' ? schedule.poolId : schedule.trainingId) ?? '');
    return { name: schedule.name, kind, id };
  });
  const names = assignScheduleNames(targets);
  const labels = value.map((schedule, i) =>
    typeof schedule.label === 'string' && schedule.label !== '' ? schedule.label : `schedules[${i}]`,
  );
  const duplicates = duplicateNames(names, (first) => `${labels[first]}.name`);

  return value.map((schedule, i) => {
    const where = labels[i] ?? `schedules[${i}]`;
    const hasPool = schedule.poolId !== undefined;
    const hasTraining = schedule.trainingId !== undefined;
    if (hasPool === hasTraining) add(where, 'give exactly one of poolId and trainingId');
    if (hasPool) add(`${where}.poolId`, checkTolokaId(schedule.poolId));
    if (hasTraining) add(`${where}.trainingId`, checkTolokaId(schedule.trainingId));

    const name = names[i] ?? '';
    const nameWhere = schedule.name === undefined ? `${where}.name (generated)` : `${where}.name`;
    add(
      nameWhere,
      typeof schedule.name === 'string' || schedule.name === undefined
        ? checkScheduleName(name)
        : `must be a string (got ${show(schedule.name)})`,
    );
    add(nameWhere, duplicates.get(i));

    let kind: ReturnType<typeof expressionKind>;
    if (typeof schedule.expression !== 'string') {
      add(
        `${where}.expression`,
        schedule.expression === undefined
          ? 'is required'
          : `must be a string (got ${show(schedule.expression)})`,
      );
    } else {
      add(`${where}.expression`, checkScheduleExpression(schedule.expression));
      kind = expressionKind(schedule.expression);
    }

    const timeZone = schedule.timeZone ?? 'UTC';
    add(
      `${where}.timeZone`,
      typeof timeZone === 'string' ? checkTimeZone(timeZone) : `must be a string (got ${show(timeZone)})`,
    );

    if (schedule.flexibleWindow !== undefined) {
      const window = durationSeconds(schedule.flexibleWindow, 60, { min: 60, max: 1440 * 60 });
      const problem =
        window.problem ??
        (window.seconds % 60 === 0 ? undefined : `${window.seconds}s must be whole minutes`);
      add(`${where}.flexibleWindow`, problem === undefined ? undefined : `${problem} (1 to 1440 minutes)`);
    }
    for (const key of ['startDate', 'endDate'] as const) {
      const date: unknown = schedule[key];
      if (date === undefined) continue;
      if (!isDate(date)) add(`${where}.${key}`, `must be a valid Date (got ${show(date)})`);
      else if (kind === 'at') add(`${where}.${key}`, 'has no effect on a one-time at() schedule; remove it');
    }
    if (isDate(schedule.startDate) && isDate(schedule.endDate) && schedule.endDate <= schedule.startDate) {
      add(
        `${where}.endDate`,
        `${schedule.endDate.toISOString()} must be after startDate (${schedule.startDate.toISOString()})`,
      );
    }
    if (schedule.enabled !== undefined && typeof schedule.enabled !== 'boolean') {
      add(`${where}.enabled`, `must be a boolean (got ${show(schedule.enabled)})`);
    }
    const action = schedule.action ?? 'open';
    if (action !== 'open' && action !== 'close') {
      add(`${where}.action`, `must be "open" or "close" (got ${show(action)})`);
    }
    let maxLatenessMinutes = DEFAULT_MAX_LATENESS_MINUTES;
    if (schedule.maxLateness !== undefined) {
      const lateness = durationSeconds(schedule.maxLateness, 60, {
        min: 600,
        max: MAX_LATENESS_MINUTES * 60,
      });
      const problem =
        lateness.problem ??
        (lateness.seconds % 60 === 0 ? undefined : `${lateness.seconds}s must be whole minutes`);
      add(
        `${where}.maxLateness`,
        problem === undefined ? undefined : `${problem} (10 to ${MAX_LATENESS_MINUTES} minutes)`,
      );
      maxLatenessMinutes = Math.round(lateness.seconds / 60);
    }
    const skipDates: Record<string, readonly string[]> = {};
    if (schedule.skip !== undefined) {
      if (!Array.isArray(schedule.skip)) {
        add(`${where}.skip`, `must be an array of calendar names (got ${show(schedule.skip)})`);
      } else {
        schedule.skip.forEach((calendar: unknown, j: number) => {
          const dates = typeof calendar === 'string' ? calendars[calendar] : undefined;
          if (dates === undefined) {
            const known = Object.keys(calendars);
            add(
              `${where}.skip[${j}]`,
              `${show(calendar)} is not a calendar (${known.length === 0 ? 'none are defined' : `calendars: ${known.join(', ')}`})`,
            );
          } else skipDates[calendar as string] = dates;
        });
      }
    }
    return {
      ...schedule,
      name,
      timeZone,
      label: where,
      action: action === 'close' ? 'close' : 'open',
      maxLatenessMinutes,
      skipDates,
    };
  });
}

/** Scheduler refuses a `StartDate` more than 5 minutes in the past (CreateSchedule). */
const START_DATE_TOLERANCE_MS = 5 * 60_000;

/** The problem of a recurring schedule's start date that has passed, as Scheduler would refuse it. */
export function passedStartDate(startDate: Date, nowMs: number): string | undefined {
  if (startDate.getTime() >= nowMs - START_DATE_TOLERANCE_MS) return undefined;
  return (
    `${startDate.toISOString()} has passed, and EventBridge Scheduler refuses a start date ` +
    'more than 5 minutes in the past; remove it (the schedule then starts when deployed) or move it forward'
  );
}

/**
 * Dates that have passed. Scheduler refuses a start date more than 5 minutes in the past ("The
 * StartDate you specify cannot be earlier than 5 minutes ago."), so that is a problem: the
 * deployment would fail. It accepts a one-time `at()` whose time has passed and a recurring
 * schedule whose end date has passed, which then never invoke the opener: warnings.
 */
export function checkScheduleDates(
  schedules: readonly ResolvedSchedule[],
  now: Date,
  add: (where: string, problem: string | undefined) => void,
  warn: (schedule: number, message: string) => void,
): void {
  const nowMs = now.getTime();
  schedules.forEach((schedule, i) => {
    const where = schedule.label;
    // Scheduler ignores both dates on a one-time schedule (and resolveSchedules says so).
    const oneTime = typeof schedule.expression === 'string' && expressionKind(schedule.expression) === 'at';
    if (!oneTime && isDate(schedule.startDate)) {
      add(`${where}.startDate`, passedStartDate(schedule.startDate, nowMs));
    }
    if (!oneTime && isDate(schedule.endDate) && schedule.endDate.getTime() <= nowMs) {
      warn(
        i,
        `${where}.endDate: ${schedule.endDate.toISOString()} has passed: the schedule will not open ` +
          `${describeTarget(schedule)} again; remove the schedule or move its end date`,
      );
    }
    if (typeof schedule.expression !== 'string' || typeof schedule.timeZone !== 'string') return;
    const at = atExpressionInstant(schedule.expression, schedule.timeZone);
    if (at !== undefined && at.getTime() <= nowMs) {
      warn(
        i,
        `${where}.expression: ${schedule.expression} (${schedule.timeZone}) has passed: EventBridge ` +
          `Scheduler creates the schedule but it will not open ${describeTarget(schedule)}; remove it or move it forward`,
      );
    }
  });
}

function describeTarget(schedule: PoolSchedule): string {
  return schedule.trainingId !== undefined ? `training ${schedule.trainingId}` : `pool ${schedule.poolId}`;
}
