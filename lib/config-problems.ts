/**
 * How the configuration file's checks collect their problems: every problem, each prefixed with
 * its field path (`pools[0].schedules[1].timeZone: …`), so one run lists them all.
 */
import { checkNumber, show } from './validation.ts';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `null` counts as absent. */
export function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Collects problems, each prefixed with its field path. */
export class Problems {
  readonly list: string[] = [];

  add(path: string, problem: string | undefined): void {
    if (problem !== undefined) this.list.push(`${path}: ${problem}`);
  }

  /** Rejects keys not in `allowed`. */
  keys(obj: JsonObject, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        // A key of the right letters in the wrong case (`timezone`) is almost always that key.
        const meant = allowed.find((name) => name.toLowerCase() === key.toLowerCase());
        const hint = meant === undefined ? '' : `did you mean "${meant}"? `;
        this.add(join(path, key), `unknown key (${hint}allowed here: ${allowed.join(', ')})`);
      }
    }
  }

  /** An optional (or, with `required`, mandatory) non-empty string. */
  string(obj: JsonObject, key: string, path: string, required = false): string | undefined {
    const value = obj[key];
    if (!present(value)) {
      if (required) this.add(join(path, key), 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.add(join(path, key), `must be a string (got ${show(value)})`);
      return undefined;
    }
    if (value === '') {
      this.add(join(path, key), required ? 'is required' : 'must not be empty (use null or leave it out)');
      return undefined;
    }
    return value;
  }

  /** An optional number checked with `checkNumber`. */
  number(
    obj: JsonObject,
    key: string,
    path: string,
    range: Parameters<typeof checkNumber>[1],
  ): number | undefined {
    const value = obj[key];
    if (!present(value)) return undefined;
    const problem = checkNumber(value, range);
    this.add(join(path, key), problem);
    return problem === undefined ? (value as number) : undefined;
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
