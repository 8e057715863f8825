/**
 * When a schedule fires, as EventBridge Scheduler fires it: a `cron(…)` expression read in its
 * time zone, daylight-saving changes applied as Scheduler applies them (a time that does not exist
 * on the day the clocks go forward is skipped; a time that exists twice on the day they go back
 * runs once, the first time), `at(…)` once, and `rate(…)` every so much absolute time from its
 * start. What the preview (`toloka-pool schedule`) lists and what a window's validation compares.
 * The expression must already be valid (schedule-expression.ts).
 */
import { atExpressionInstant, expressionKind, wallClockFormat } from './schedule-expression.ts';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** Day-of-week 1 is Sunday, as in EventBridge. */
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MINUTE = 60_000;
const DAY = 86_400_000;

/** One field as a test on a value (for day-of-month and day-of-week, on a whole date). */
type DayTest = (year: number, month: number, day: number) => boolean;

interface CronMatcher {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly years: (year: number) => boolean;
  readonly day: DayTest;
}

function fieldValue(text: string, names: readonly string[] | undefined, min: number): number {
  const index = names?.indexOf(text.toUpperCase()) ?? -1;
  return index >= 0 ? min + index : Number(text);
}

/** The values a plain field (`*`, lists, ranges, increments) takes between min and max. */
function values(text: string, min: number, max: number, names?: readonly string[]): number[] {
  const taken = new Set<number>();
  for (const item of text.split(',')) {
    const [base = '*', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = min;
    let to = max;
    if (base !== '*') {
      const [start = '', end] = base.split('-');
      from = fieldValue(start, names, min);
      // `5/10` runs from 5 to the end; `5` alone is 5.
      to = end !== undefined ? fieldValue(end, names, min) : stepText === undefined ? from : max;
    }
    for (let value = from; value <= to; value += step) taken.add(value);
  }
  return [...taken].sort((a, b) => a - b);
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** 1 (Sunday) to 7 (Saturday). */
const weekdayOf = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;

/** The weekday nearest to `day` within its month (`15W`). */
function nearestWeekday(year: number, month: number, day: number): number {
  const last = daysInMonth(year, month);
  const target = Math.min(day, last);
  const weekday = weekdayOf(year, month, target);
  if (weekday === 7) return target === 1 ? 3 : target - 1;
  if (weekday === 1) return target === last ? target - 2 : target + 1;
  return target;
}

function dayOfMonthTest(text: string): DayTest {
  if (text === '?') return () => true;
  if (text === 'L') return (y, m, d) => d === daysInMonth(y, m);
  if (text === 'LW') {
    return (y, m, d) => {
      const last = daysInMonth(y, m);
      const weekday = weekdayOf(y, m, last);
      const lastWeekday = weekday === 7 ? last - 1 : weekday === 1 ? last - 2 : last;
      return d === lastWeekday;
    };
  }
  const nearest = /^([0-9]{1,2})W$/.exec(text);
  if (nearest !== null) return (y, m, d) => d === nearestWeekday(y, m, Number(nearest[1]));
  const days = new Set(values(text, 1, 31));
  return (_y, _m, d) => days.has(d);
}

function dayOfWeekTest(text: string): DayTest {
  if (text === '?') return () => true;
  if (text === 'L') return (y, m, d) => weekdayOf(y, m, d) === 7;
  const last = /^([0-9A-Za-z]+)L$/.exec(text);
  if (last?.[1] !== undefined) {
    const weekday = fieldValue(last[1], WEEKDAYS, 1);
    return (y, m, d) => weekdayOf(y, m, d) === weekday && d + 7 > daysInMonth(y, m);
  }
  const nth = /^([0-9A-Za-z]+)#([0-9]+)$/.exec(text);
  if (nth?.[1] !== undefined && nth[2] !== undefined) {
    const weekday = fieldValue(nth[1], WEEKDAYS, 1);
    const week = Number(nth[2]);
    return (y, m, d) => weekdayOf(y, m, d) === weekday && Math.ceil(d / 7) === week;
  }
  const weekdays = new Set(values(text, 1, 7, WEEKDAYS));
  return (y, m, d) => weekdays.has(weekdayOf(y, m, d));
}

function cronMatcher(inner: string): CronMatcher {
  const [minutes = '*', hours = '*', dayOfMonth = '?', month = '*', dayOfWeek = '?', year = '*'] =
    inner.split(' ');
  const years = new Set(values(year, 1970, 2199));
  const domTest = dayOfMonthTest(dayOfMonth);
  const dowTest = dayOfWeekTest(dayOfWeek);
  return {
    minutes: values(minutes, 0, 59),
    hours: values(hours, 0, 23),
    months: new Set(values(month, 1, 12, MONTHS)),
    years: (y) => years.has(y),
    day: (y, m, d) => domTest(y, m, d) && dowTest(y, m, d),
  };
}

/** Reads instants as wall-clock fields in one time zone. */
class Zone {
  private readonly format: Intl.DateTimeFormat;
  constructor(readonly timeZone: string) {
    this.format = wallClockFormat(timeZone);
  }

  /** The wall clock at `instant`, as if it were UTC (ms). */
  wallClock(instant: number): number {
    const parts = this.format.formatToParts(instant);
    const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'));
  }

  /**
   * The first instant whose wall clock reads `wall`, or undefined when none does (the hour the
   * clocks skip). Offsets tried: the zone's a day before and a day after, which cover every change.
   */
  instantOf(wall: number): number | undefined {
    const candidates = [wall - DAY, wall + DAY]
      .map((probe) => wall - (this.wallClock(probe) - probe))
      .filter((instant) => this.wallClock(instant) === wall)
      .sort((a, b) => a - b);
    return candidates[0];
  }
}

/** What the preview knows of a schedule. */
export interface OccurrenceQuery {
  readonly expression: string;
  /** IANA time zone; default `UTC`. */
  readonly timeZone?: string;
  readonly startDate?: Date;
  readonly endDate?: Date;
}

/**
 * The schedule's next `count` invocation times strictly after `afterMs` (epoch ms), or fewer when
 * it ends (or looks no further than `horizonDays`). A `rate` without a start date starts when it
 * is created: its times count from `afterMs`.
 */
export function nextOccurrences(
  query: OccurrenceQuery,
  afterMs: number,
  count: number,
  horizonDays = 3 * 366,
): number[] {
  const kind = expressionKind(query.expression);
  const inner = query.expression.slice((kind ?? '').length + 1, -1);
  const timeZone = query.timeZone ?? 'UTC';
  const start = Math.max(afterMs, (query.startDate?.getTime() ?? afterMs) - 1);
  const end = Math.min(query.endDate?.getTime() ?? Number.POSITIVE_INFINITY, afterMs + horizonDays * DAY);
  const found: number[] = [];
  if (kind === 'at') {
    const at = atExpressionInstant(query.expression, timeZone)?.getTime();
    if (at !== undefined && at > afterMs && at <= end) found.push(at);
    return found;
  }
  if (kind === 'rate') {
    const [amount = '1', unit = 'minutes'] = inner.split(' ');
    const step =
      Number(amount) * (unit.startsWith('minute') ? MINUTE : unit.startsWith('hour') ? 60 * MINUTE : DAY);
    const origin = query.startDate?.getTime() ?? afterMs;
    let at = origin + Math.max(0, Math.ceil((afterMs + 1 - origin) / step)) * step;
    for (; found.length < count && at <= end; at += step) found.push(at);
    return found;
  }
  const cron = cronMatcher(inner);
  const zone = new Zone(timeZone);
  // Day by day in the zone's calendar, from the day `start` falls on.
  const first = new Date(zone.wallClock(start));
  for (
    let date = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
    found.length < count && date - DAY <= end;
    date += DAY
  ) {
    const day = new Date(date);
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (!cron.years(y) || !cron.months.has(m) || !cron.day(y, m, d)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const at = zone.instantOf(date + hour * 60 * MINUTE + minute * MINUTE);
        if (at === undefined || at <= start || at > end) continue;
        found.push(at);
        if (found.length === count) return found;
      }
    }
  }
  return found;
}

/**
 * A numeric day-of-week that reads differently in Unix cron (where 0 or 7 is Sunday and 1 Monday)
 * than in AWS's (1 is Sunday): `1-5` is Sunday to Thursday here. A warning, with the names that
 * say what AWS reads, or undefined for names, `?`, `*` and `L`.
 */
export function numericDayOfWeekWarning(expression: string): string | undefined {
  if (expressionKind(expression) !== 'cron') return undefined;
  const dayOfWeek = expression.slice(5, -1).split(' ')[4] ?? '?';
  if (!/[0-9]/.test(dayOfWeek.replace(/#[0-9]+/g, ''))) return undefined;
  // Every number but a `#n` week or a `/n` increment is a day.
  const named = dayOfWeek.replace(/[0-9]+/g, (digits: string, offset: number) =>
    offset > 0 && '#/'.includes(dayOfWeek[offset - 1] ?? '')
      ? digits
      : (WEEKDAYS[Number(digits) - 1] ?? digits),
  );
  return `day-of-week ${JSON.stringify(dayOfWeek)} counts from 1 = Sunday in AWS cron (Unix cron's 1 is Monday): it means ${named}; write the names to say so`;
}
