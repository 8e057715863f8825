/**
 * Configuration fixtures whose dates are relative to the clock, so that a fixture never passes
 * its own date. A fixture writes `{now+30d}` where a schedule needs an instant (`startDate`,
 * `endDate`), `{now+210d@+02:00}` for the same instant written with a UTC offset, and
 * `at({now+23d})` for a one-time schedule (wall-clock time, no zone), `{now+30d:date}` for a date
 * alone (`2027-01-04`), and `{now-3700ms:toloka}` for a date as Toloka's API writes it (UTC, no
 * zone, milliseconds: `2027-01-04T11:59:56.300`). Units: d, h, m, s, ms; a minus sign for the past. `materialize()` writes the fixture with its dates filled in to a
 * temporary file, which is what the code under test then reads like any configuration file.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONFIG_FIXTURES = path.resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '../fixtures/config',
);

const PLACEHOLDER = /\{now([+-])([0-9]+)(ms|[dhms])(?:@([+-][0-9]{2}):([0-9]{2}))?\}/g;
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

/** Whole seconds: what a configuration file would hold. */
function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function offsetOf(now: Date, sign: string, amount: string, unit: string): number {
  const ms = Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return now.getTime() + (sign === '-' ? -ms : ms);
}

function instantOf(now: Date, sign: string, amount: string, unit: string): number {
  return floorToSecond(offsetOf(now, sign, amount, unit));
}

/** `2027-01-04T00:00:00`: the UTC wall clock of an instant, without a zone. */
function wallClock(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** An instant written with a UTC offset: `2027-06-30T00:00:00+02:00`. */
function withOffset(ms: number, hours: string, minutes: string): string {
  const sign = hours.startsWith('-') ? -1 : 1;
  const offsetMs = sign * (Math.abs(Number(hours)) * 60 + Number(minutes)) * 60_000;
  return `${wallClock(ms + offsetMs)}${hours}:${minutes}`;
}

/** The text with every placeholder replaced, relative to `now`. */
export function expandDates(text: string, now: Date): string {
  return text
    .replace(/\{now([+-])([0-9]+)(ms|[dhms]):toloka\}/g, (_m, sign: string, amount: string, unit: string) =>
      new Date(offsetOf(now, sign, amount, unit)).toISOString().slice(0, 23),
    )
    .replace(/at\(\{now([+-])([0-9]+)(ms|[dhms])\}\)/g, (_m, sign: string, amount: string, unit: string) => {
      return `at(${wallClock(instantOf(now, sign, amount, unit))})`;
    })
    .replace(/\{now([+-])([0-9]+)(ms|[dhms]):date\}/g, (_m, sign: string, amount: string, unit: string) =>
      wallClock(instantOf(now, sign, amount, unit)).slice(0, 10),
    )
    .replace(PLACEHOLDER, (_m, sign: string, amount: string, unit: string, hh?: string, mm?: string) => {
      const instant = instantOf(now, sign, amount, unit);
      return hh === undefined || mm === undefined ? `${wallClock(instant)}Z` : withOffset(instant, hh, mm);
    });
}

/** The instant a placeholder such as `{now+30d}` stands for (for expected values in tests). */
export function dateOf(placeholder: string, now: Date): Date {
  return new Date(expandDates(placeholder, now));
}

/** `at(...)` as the fixture's `at({now+23d})` expands. */
export function atOf(placeholder: string, now: Date): string {
  return expandDates(`at(${placeholder})`, now);
}

let outdir: string | undefined;

/**
 * The path of the fixture with its dates filled in relative to `now` (a file in a temporary
 * folder with the fixture's name). A fixture without placeholders is returned as it is.
 */
export function materialize(fixture: string, now: Date = new Date()): string {
  const source = path.join(CONFIG_FIXTURES, fixture);
  const text = readFileSync(source, 'utf8');
  if (!text.includes('{now')) return source;
  outdir ??= mkdtempSync(path.join(tmpdir(), 'toloka-config-'));
  const target = path.join(outdir, `${now.getTime()}`, fixture);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, expandDates(text, now));
  return target;
}
