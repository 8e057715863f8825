/**
 * The emulator's switches: what real Toloka may do that the emulator does not do by default.
 * Each is settable in the constructor (`switches`), over HTTP (`POST /_emulator/switches`) and on
 * the command line (`npm run emulator -- --<flag>`); emulator/README.md lists them.
 */
import { EmulatorConfigError } from './errors.ts';

export interface EmulatorSwitches {
  /**
   * A second `POST …/open` while an open operation of that pool runs: `locked` answers 409
   * `POOL_LOCKED_BY_ANOTHER_OPERATION` (what ../shared/toloka-api.md assumes Toloka does);
   * `same-operation` answers 202 with the running operation again.
   */
  readonly secondOpen: 'locked' | 'same-operation';
  /** Whether operations carry `progress` (the specification marks no field as required). */
  readonly operationProgress: boolean;
  /** Whether operations carry `details`. */
  readonly operationDetails: boolean;
  /** Fraction digits of the seconds in every date: Toloka sends 0 to 6. */
  readonly dateFractionDigits: 0 | 3 | 6;
  /** Operation IDs as UUIDs or as 24 hex digits (`57068577e4b0bf7b07a0256f`): both appear in the specification. */
  readonly operationIds: 'uuid' | 'hex24';
  /**
   * A status the client does not know (e.g. `QUEUED`), shown instead of `PENDING` until the
   * operation runs: as if Toloka added one. `null`: off.
   */
  readonly unknownStatus: string | null;
  /** What a missing or wrong token gets: 401 `AUTHENTICATION_ERROR` or 403 `ACCESS_DENIED`. */
  readonly badTokenStatus: 401 | 403;
  /** Create unknown pools and trainings (positive integer IDs) on first use; off: 404. */
  readonly autoCreatePools: boolean;
}

export const DEFAULT_SWITCHES: EmulatorSwitches = {
  secondOpen: 'locked',
  operationProgress: true,
  operationDetails: true,
  dateFractionDigits: 3,
  operationIds: 'uuid',
  unknownStatus: null,
  badTokenStatus: 401,
  autoCreatePools: false,
};

const CHECKS: { readonly [K in keyof EmulatorSwitches]: (value: unknown) => boolean } = {
  secondOpen: (v) => v === 'locked' || v === 'same-operation',
  operationProgress: (v) => typeof v === 'boolean',
  operationDetails: (v) => typeof v === 'boolean',
  dateFractionDigits: (v) => v === 0 || v === 3 || v === 6,
  operationIds: (v) => v === 'uuid' || v === 'hex24',
  unknownStatus: (v) => v === null || (typeof v === 'string' && /^[A-Z][A-Z_]{0,31}$/.test(v)),
  badTokenStatus: (v) => v === 401 || v === 403,
  autoCreatePools: (v) => typeof v === 'boolean',
};

const EXPECTED: { readonly [K in keyof EmulatorSwitches]: string } = {
  secondOpen: '"locked" or "same-operation"',
  operationProgress: 'true or false',
  operationDetails: 'true or false',
  dateFractionDigits: '0, 3 or 6',
  operationIds: '"uuid" or "hex24"',
  unknownStatus: 'null or an upper-case status such as "QUEUED"',
  badTokenStatus: '401 or 403',
  autoCreatePools: 'true or false',
};

/** Checks switches that may have come over HTTP; unknown keys are rejected so that typos do not pass. */
export function parseSwitches(input: unknown): Partial<EmulatorSwitches> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new EmulatorConfigError('switches must be a JSON object');
  }
  const parsed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(CHECKS, key)) {
      throw new EmulatorConfigError(`unknown switch "${key}" (known: ${Object.keys(CHECKS).join(', ')})`);
    }
    const name = key as keyof EmulatorSwitches;
    if (!CHECKS[name](value)) throw new EmulatorConfigError(`switch ${key} must be ${EXPECTED[name]}`);
    parsed[key] = value;
  }
  return parsed as Partial<EmulatorSwitches>;
}
