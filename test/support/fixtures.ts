import { readFileSync } from 'node:fs';
import { expandDates } from './dated-fixtures.ts';

const root = new URL('../fixtures/', import.meta.url);

export function fixtureText(path: string): string {
  return readFileSync(new URL(path, root), 'utf8');
}

export function fixtureJson<T = unknown>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

/** A fixture with its `{now…}` dates (test/support/dated-fixtures.ts) filled in relative to `now`. */
export function datedFixtureText(path: string, now: Date = new Date()): string {
  return expandDates(fixtureText(path), now);
}

export function datedFixtureJson<T = unknown>(path: string, now: Date = new Date()): T {
  return JSON.parse(datedFixtureText(path, now)) as T;
}
