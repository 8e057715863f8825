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

/** A schedule as the construct builds it: its name, time zone and label decided. */
export type ResolvedSchedule = PoolSchedule & {
  readonly name: string;
  readonly timeZone: string;
  readonly label: string;
};

export function resolveSchedules(
  value: readonly PoolSchedule[] | undefined,
  add: (where: string, problem: string | undefined) => void,
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
    return { ...schedule, name, timeZone, label: where };
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
