/**
 * What a schedule's trigger must not do: act on a date its calendars skip, or act late. A trigger
 * from a schedule carries its occurrence (`scheduledTime`, the time Scheduler meant it for); one
 * without (a pipeline's message, the command line) is never late and has no calendar. Both rules
 * end the trigger in one SKIPPED record, and Toloka is not asked.
 */
import { type Action, type OutcomeRecord, type TolokaTarget, targetFields } from './model.ts';

/** Scheduler's own retries end within an hour (the schedules' maximum event age). */
export const DEFAULT_MAX_LATENESS_MINUTES = 60;

/** A schedule's occurrence, as its trigger carries it. */
export interface ScheduledOccurrence {
  /** When the schedule meant the trigger for (epoch ms): Scheduler's `<aws.scheduler.scheduled-time>`. */
  readonly scheduledAtMs: number;
  /** A trigger this much later than `scheduledAtMs` is skipped. Default {@link DEFAULT_MAX_LATENESS_MINUTES}. */
  readonly maxLatenessMinutes?: number;
  /** The schedule's IANA time zone, in which calendar dates are read. Default `UTC`. */
  readonly timeZone?: string;
  /** The calendars the schedule skips: name → dates (`YYYY-MM-DD`). */
  readonly skip?: Readonly<Record<string, readonly string[]>>;
}

/** The date (`YYYY-MM-DD`) an instant falls on in a time zone. */
export function localDateOf(ms: number, timeZone: string): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

/** Whether `timeZone` is an IANA time zone this runtime knows (as Scheduler's are). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The command that does now what a skipped trigger asked. */
export function commandFor(target: TolokaTarget, action: Action): string {
  return `npx toloka-pool ${action} ${target.id}${target.kind === 'training' ? ' --training' : ''}`;
}

/**
 * The SKIPPED record of a scheduled trigger that must not act at `nowMs`, or undefined: first a
 * calendar that lists the occurrence's date (in the schedule's time zone), then lateness.
 */
export function skipRecordOf(
  trigger: { readonly target: TolokaTarget; readonly action?: Action },
  occurrence: ScheduledOccurrence,
  nowMs: number,
): OutcomeRecord | undefined {
  const action = trigger.action ?? 'open';
  const timeZone = occurrence.timeZone ?? 'UTC';
  const scheduledTime = new Date(occurrence.scheduledAtMs).toISOString();
  const common = {
    outcome: 'SKIPPED',
    ...targetFields(trigger.target),
    action,
    scheduledTime,
    requestedAt: new Date(nowMs).toISOString(),
    elapsedMs: 0,
  } as const;
  const date = localDateOf(occurrence.scheduledAtMs, timeZone);
  for (const [calendar, dates] of Object.entries(occurrence.skip ?? {})) {
    if (!dates.includes(date)) continue;
    return {
      ...common,
      reason: 'CALENDAR',
      calendar,
      date,
      message: `${scheduledTime} is ${date} in ${timeZone}, a date of calendar "${calendar}": the schedule skips it, Toloka was not asked to ${action}`,
    };
  }
  const maxLatenessMinutes = occurrence.maxLatenessMinutes ?? DEFAULT_MAX_LATENESS_MINUTES;
  const lateMs = nowMs - occurrence.scheduledAtMs;
  if (lateMs <= maxLatenessMinutes * 60_000) return undefined;
  const command = commandFor(trigger.target, action);
  return {
    ...common,
    reason: 'LATE',
    lateSeconds: Math.round(lateMs / 1000),
    maxLatenessMinutes,
    command,
    message: `came ${describeDuration(lateMs)} after its scheduled time ${scheduledTime}, more than the ${maxLatenessMinutes} min it may be late: Toloka was not asked to ${action}; to ${action} now: ${command}`,
  };
}

/** `3 d 2 h`, `2 h 5 min`, `61 min`: how late, for people. */
export function describeDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes % 60} min`;
  return `${minutes} min`;
}
