/**
 * Checks shared by the construct's props validation (`lib/toloka-pool-opener.ts`) and the
 * configuration file validation (`lib/config.ts`). Each check returns the problems it found
 * WITHOUT the field path; the caller prefixes the path (`schedules[1].timeZone: …`).
 */
import { Duration } from 'aws-cdk-lib';

/** EventBridge Scheduler schedule names: `[0-9a-zA-Z-_.]+`, at most 64 characters. */
export const SCHEDULE_NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;

/** Toloka pool and training IDs are decimal numbers sent as strings. */
const ID_PATTERN = /^[0-9]+$/;

/** Renders a value for a problem message: strings quoted, everything else as JSON. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * An SSM parameter name, as `GetParameter` takes it: a plain name (`toloka-token`) or a
 * hierarchical one starting with `/` (`/toloka/api-token`).
 */
export function checkParameterName(name: string): string[] {
  const problems: string[] = [];
  if (name.length === 0) return ['must not be empty'];
  if (name.length > 1011) problems.push(`must be at most 1011 characters (got ${name.length})`);
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) {
    problems.push(`${show(name)} may contain only letters, digits and _ . - / (SSM parameter name)`);
    return problems;
  }
  if (name.includes('/')) {
    if (!name.startsWith('/')) {
      problems.push(`${show(name)} contains "/" so it must start with "/" (a hierarchical name)`);
    } else {
      const segments = name.slice(1).split('/');
      if (segments.some((s) => s.length === 0)) {
        problems.push(`${show(name)} has an empty path segment (no "//" and no trailing "/")`);
      }
      if (segments.length > 15) problems.push(`${show(name)} is more than 15 levels deep`);
    }
  }
  const first = name.replace(/^\//, '').toLowerCase();
  if (first.startsWith('aws') || first.startsWith('ssm')) {
    problems.push(`${show(name)} starts with "aws" or "ssm", which SSM reserves`);
  }
  return problems;
}

/** A Toloka pool or training ID: ASCII digits only. */
export function checkTolokaId(id: unknown): string | undefined {
  if (typeof id !== 'string') return `must be a string of digits (got ${show(id)})`;
  if (!ID_PATTERN.test(id)) return `${show(id)} must contain only the digits 0-9`;
  return undefined;
}

/** An IANA time zone name as EventBridge Scheduler takes it (`Europe/Amsterdam`, `UTC`). */
export function checkTimeZone(timeZone: string): string | undefined {
  const problem = `${show(timeZone)} is not an IANA time zone`;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(timeZone)) return problem;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return problem;
  }
  if (resolved !== timeZone && resolved.toLowerCase() === timeZone.toLowerCase()) {
    return `${problem} (did you mean ${show(resolved)}?)`;
  }
  return undefined;
}

/** A schedule name valid for EventBridge Scheduler. */
export function checkScheduleName(name: string): string | undefined {
  if (!SCHEDULE_NAME_PATTERN.test(name)) {
    return `${show(name)} must be 1-64 characters from 0-9 a-z A-Z - _ .`;
  }
  return undefined;
}

/**
 * A Toloka API origin override: `http(s)://host[:port]`, optionally with a path prefix (a proxy
 * serving the API under one); no query, fragment or credentials. The functions append `/api/v1/…`.
 */
export function checkApiUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${show(url)} is not a URL`;
  }
  if (parsed.protocol !== 'https:') {
    // The token travels in every request: a deployed function only ever sends it over TLS.
    return `${show(url)} must use https:`;
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    return `${show(url)} must be an origin such as https://host:port, without query, fragment or credentials`;
  }
  return undefined;
}

/** A URL that passed `checkApiUrl`, normalized: origin plus path prefix, no trailing slash. */
export function normalizeApiUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
}

/** An integer (or, with `integer: false`, any finite number) within [min, max]. */
export function checkNumber(
  value: unknown,
  range: { min: number; max: number; integer?: boolean; unit?: string },
): string | undefined {
  const unit = range.unit === undefined ? '' : ` ${range.unit}`;
  const integer = range.integer ?? true;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    return `must be ${integer ? 'an integer' : 'a number'} (got ${show(value)})`;
  }
  if (value < range.min || value > range.max) {
    return `${value}${unit} is out of range (${range.min}..${range.max}${unit})`;
  }
  return undefined;
}

/** Where a schedule sends its opener: a pool or a training, by ID. */
export interface ScheduleTargetRef {
  readonly name?: string | undefined;
  readonly kind: 'pool' | 'training';
  readonly id: string;
}

/**
 * The schedule names to use: explicit names as given; a missing one becomes
 * `<kind>-<id>-<n>`, n counting that target's schedules from 1 and skipping taken names.
 */
export function assignScheduleNames(entries: readonly ScheduleTargetRef[]): string[] {
  const taken = new Set(entries.flatMap((e) => (e.name === undefined ? [] : [e.name])));
  const seen = new Map<string, number>();
  return entries.map((entry) => {
    const key = `${entry.kind}-${entry.id}`;
    const ordinal = (seen.get(key) ?? 0) + 1;
    seen.set(key, ordinal);
    if (entry.name !== undefined) return entry.name;
    let n = ordinal;
    while (taken.has(`${key}-${n}`)) n += 1;
    const name = `${key}-${n}`;
    taken.add(name);
    return name;
  });
}

/** Problems for names used more than once: `name: "x" is also used by <where>`. */
export function duplicateNames(
  names: readonly string[],
  describe: (index: number) => string,
): Map<number, string> {
  const firstUse = new Map<string, number>();
  const problems = new Map<number, string>();
  names.forEach((name, index) => {
    const first = firstUse.get(name);
    if (first === undefined) firstUse.set(name, index);
    else problems.set(index, `${show(name)} is already used by ${describe(first)}`);
  });
  return problems;
}

/** Duration → seconds, or a problem (not a Duration, fractional seconds, out of range). */
export function durationSeconds(
  value: unknown,
  fallback: number,
  range: { min: number; max: number },
): { seconds: number; problem?: string } {
  if (value === undefined) return { seconds: fallback };
  if (!(value instanceof Duration))
    return { seconds: fallback, problem: `must be a Duration (got ${show(value)})` };
  const seconds = value.toSeconds({ integral: false });
  const problem = checkNumber(seconds, { ...range, unit: 's' });
  return problem === undefined
    ? { seconds }
    : { seconds: fallback, problem: problem.replace(/^must be an integer/, 'must be whole seconds') };
}

/** A Date that holds a time (not `new Date('nonsense')`). */
export function isDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}
