/**
 * EventBridge Scheduler schedule expressions, checked as Scheduler checks them (the syntax it
 * shares with EventBridge rules): `cron(minutes hours day-of-month month day-of-week year)`,
 * `rate(value unit)` and `at(yyyy-mm-ddThh:mm:ss)`. Each check returns a problem without the
 * field path; the caller prefixes it (`pools[0].schedules[1].expression: …`).
 */
import { show } from './validation.ts';

/** The kind of an EventBridge Scheduler expression, or undefined if it is none. */
export function expressionKind(expression: string): 'cron' | 'rate' | 'at' | undefined {
  const match = /^(cron|rate|at)\(/.exec(expression);
  return match?.[1] as 'cron' | 'rate' | 'at' | undefined;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** Day-of-week 1 is Sunday, as in EventBridge. */
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min + 1, … (case-insensitive). */
  readonly names?: readonly string[];
  /** What the field takes besides numbers, `*`, `,`, `-` and `/`. */
  readonly special: 'none' | 'day-of-month' | 'day-of-week';
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, special: 'none' },
  { name: 'hours', min: 0, max: 23, special: 'none' },
  { name: 'day-of-month', min: 1, max: 31, special: 'day-of-month' },
  { name: 'month', min: 1, max: 12, names: MONTHS, special: 'none' },
  { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, special: 'day-of-week' },
  { name: 'year', min: 1970, max: 2199, special: 'none' },
];

/** A single value of the field (a number or a name), or undefined if it is none. */
function cronValue(text: string, field: CronField): number | undefined {
  if (/^[0-9]{1,4}$/.test(text)) return Number(text);
  const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
  return index < 0 ? undefined : field.min + index;
}

function range(field: CronField): string {
  const names = field.names === undefined ? '' : ` or ${field.names[0]}-${field.names.at(-1)}`;
  return `${field.min}-${field.max}${names}`;
}

/** The problem with one field of a cron expression, or undefined. */
function checkCronField(text: string, field: CronField): string | undefined {
  const bad = (why: string) => `has an invalid ${field.name} field ${show(text)}: ${why}`;
  const value = (part: string): string | undefined => {
    const n = cronValue(part, field);
    if (n === undefined) return `${show(part)} is not a value (${range(field)})`;
    if (n < field.min || n > field.max) return `${part} is out of range (${range(field)})`;
    return undefined;
  };
  if (text === '?')
    return field.special === 'none' ? bad('"?" only goes in day-of-month or day-of-week') : undefined;
  if (field.special === 'day-of-month') {
    if (text === 'L' || text === 'LW') return undefined;
    const weekday = /^([0-9]{1,2})W$/.exec(text);
    if (weekday !== null) return weekday[1] === undefined ? undefined : mapBad(value(weekday[1]), bad);
  }
  if (field.special === 'day-of-week') {
    if (text === 'L') return undefined;
    const last = /^([0-9A-Za-z]+)L$/.exec(text);
    if (last?.[1] !== undefined) return mapBad(value(last[1]), bad);
    const nth = /^([0-9A-Za-z]+)#([0-9]+)$/.exec(text);
    if (nth?.[1] !== undefined && nth[2] !== undefined) {
      const problem = value(nth[1]);
      if (problem !== undefined) return bad(problem);
      const week = Number(nth[2]);
      return week >= 1 && week <= 5
        ? undefined
        : bad(`#${nth[2]} must be #1 to #5 (which week of the month)`);
    }
  }
  for (const item of text.split(',')) {
    if (item === '') return bad('an empty list item');
    const [base = '', step, ...rest] = item.split('/');
    if (rest.length > 0) return bad(`${show(item)} has more than one "/"`);
    if (step !== undefined) {
      if (!/^[0-9]+$/.test(step) || Number(step) < 1 || Number(step) > field.max) {
        return bad(`the increment in ${show(item)} must be a whole number from 1 to ${field.max}`);
      }
    }
    if (base === '*') continue;
    const [from = '', to, ...more] = base.split('-');
    if (more.length > 0) return bad(`${show(item)} is not a range`);
    const problem = value(from) ?? (to === undefined ? undefined : value(to));
    if (problem !== undefined) return bad(problem);
    if (to !== undefined && (cronValue(to, field) ?? 0) < (cronValue(from, field) ?? 0)) {
      return bad(`the range ${show(base)} goes backwards${wrapHint(from, to, field)}`);
    }
  }
  return undefined;
}

/** For a range that wraps around (`SAT-SUN`, `NOV-FEB`), the list that means it (`SAT,SUN`). */
function wrapHint(from: string, to: string, field: CronField): string {
  const start = cronValue(from, field);
  const end = cronValue(to, field);
  if (field.names === undefined || start === undefined || end === undefined) return '';
  const values = [
    ...Array.from({ length: field.max - start + 1 }, (_, i) => start + i),
    ...Array.from({ length: end - field.min + 1 }, (_, i) => field.min + i),
  ];
  const list = values.map((value) => field.names?.[value - field.min] ?? String(value)).join(',');
  return ` (${field.names[0]} is ${field.min}: write ${list})`;
}

function mapBad(problem: string | undefined, bad: (why: string) => string): string | undefined {
  return problem === undefined ? undefined : bad(problem);
}

function checkCron(expression: string, inner: string): string | undefined {
  const shown = show(expression);
  const fields = inner.split(' ');
  if (fields.length !== 6 || fields.some((f) => f.length === 0)) {
    return `${shown} must have 6 fields separated by single spaces: minutes hours day-of-month month day-of-week year`;
  }
  for (const [i, spec] of CRON_FIELDS.entries()) {
    const problem = checkCronField(fields[i] ?? '', spec);
    if (problem !== undefined) return `${shown} ${problem}`;
  }
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return `${shown} must have "?" in exactly one of day-of-month and day-of-week`;
  }
  return undefined;
}

function checkRate(expression: string, inner: string): string | undefined {
  const shown = show(expression);
  const match = /^([0-9]+) (minute|minutes|hour|hours|day|days)$/.exec(inner);
  const value = Number(match?.[1]);
  const unit = match?.[2];
  if (match === null || unit === undefined || value < 1) {
    return `${shown} must be "rate(<positive integer> <minute(s)|hour(s)|day(s)>)"`;
  }
  if (value === 1 && unit.endsWith('s'))
    return `${shown} must use the singular unit for 1 (e.g. "rate(1 hour)")`;
  if (value > 1 && !unit.endsWith('s'))
    return `${shown} must use a plural unit (e.g. "rate(${value} ${unit}s)")`;
  return undefined;
}

const AT = /^at\(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\)$/;

/** The wall-clock fields of an `at(...)` expression, if it is one. */
function atFields(expression: string): [number, number, number, number, number, number] | undefined {
  const match = AT.exec(expression);
  if (match === null) return undefined;
  return match.slice(1).map(Number) as [number, number, number, number, number, number];
}

function checkAt(expression: string): string | undefined {
  const shown = show(expression);
  const fields = atFields(expression);
  if (fields === undefined) return `${shown} must be "at(yyyy-mm-ddThh:mm:ss)" (no time zone suffix)`;
  const [y, mo, d, h, mi, s] = fields;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    return `${shown} is not a valid date and time`;
  }
  return undefined;
}

/**
 * An EventBridge Scheduler expression: `cron(m h dom mon dow yyyy)` with every field in its
 * range, `rate(n unit)` or `at(yyyy-mm-ddThh:mm:ss)` with a real date and time.
 */
export function checkScheduleExpression(expression: string): string | undefined {
  const kind = expressionKind(expression);
  if (kind === undefined || !expression.endsWith(')')) {
    return `${show(expression)} must be "cron(...)", "rate(...)" or "at(yyyy-mm-ddThh:mm:ss)"`;
  }
  const inner = expression.slice(kind.length + 1, -1);
  if (kind === 'rate') return checkRate(expression, inner);
  if (kind === 'at') return checkAt(expression);
  return checkCron(expression, inner);
}

/** Reads an instant's wall clock in `timeZone`, to the second (throws for an unknown zone). */
export function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

/**
 * The instant of a wall-clock time in an IANA time zone (for `at(...)` expressions).
 * Returns undefined for an unparsable expression or an unknown zone.
 */
export function atExpressionInstant(expression: string, timeZone: string): Date | undefined {
  const fields = atFields(expression);
  if (fields === undefined) return undefined;
  const [y, mo, d, h, mi, s] = fields;
  const wallClock = Date.UTC(y, mo - 1, d, h, mi, s);
  let format: Intl.DateTimeFormat;
  try {
    format = wallClockFormat(timeZone);
  } catch {
    return undefined;
  }
  const wallClockAt = (instant: number): number => {
    const part = (type: string) => Number(format.formatToParts(instant).find((p) => p.type === type)?.value);
    return Date.UTC(
      part('year'),
      part('month') - 1,
      part('day'),
      part('hour'),
      part('minute'),
      part('second'),
    );
  };
  // Two rounds of "shift by the zone's offset at the current guess" settle on the instant.
  let instant = wallClock;
  for (let round = 0; round < 2; round++) instant -= wallClockAt(instant) - wallClock;
  return new Date(instant);
}
