/**
 * The command line of `npm start` (scripts/local-run.ts): every option, its help sentence, its
 * default and its check, in one table, so the help cannot forget an option and no option goes
 * unchecked. A bad command line is one line naming the option and the reason (exit code 2).
 */
import { parseArgs } from 'node:util';
import { MAX_FAST_PATH_SECONDS } from '../lambda/runtime/config.ts';
import { InvalidMessageError } from '../lambda/runtime/errors.ts';
import { parseId } from '../lambda/runtime/messages.ts';

/** What the local run does, once the command line is checked. */
export interface LocalRunOptions {
  readonly poolId: string;
  readonly durationSeconds: number;
  readonly result: 'SUCCESS' | 'FAIL';
  /** Toloka's error code for a 409 refusal, when Toloka should refuse. */
  readonly refuse: string | undefined;
  readonly alreadyOpen: boolean;
  /** Close the pool (which starts open) instead of opening it. */
  readonly close: boolean;
  /** Ask to open and, at once, to close: the close waits until the opening has ended. */
  readonly window: boolean;
  readonly direct: boolean;
  /** The ID is a training pool's (`POST /trainings/{id}/open`, `{"trainingId": …}`). */
  readonly training: boolean;
  readonly deadlineSeconds: number;
  readonly fastPathSeconds: number;
}

/** The exit codes of `npm start` (README, "Quick start"). */
export const LocalRunExit = {
  /** Every outcome was OPENED, ALREADY_OPEN, CLOSED or ALREADY_CLOSED. */
  OK: 0,
  /** An outcome was FAILED or TIMED_OUT (or there was none). */
  NOT_OPENED: 1,
  /** A bad command line: nothing was started. */
  USAGE: 2,
} as const;

/** The longest emulated opening: a day (timers stay far from Node's 24.8-day limit). */
const MAX_DURATION_SECONDS = 86_400;
/** As CHECK_DEADLINE_SECONDS accepts it. */
const MAX_DEADLINE_SECONDS = 43_200;
/** Toloka's error codes are SCREAMING_SNAKE_CASE: EMPTY_POOL, NOT_ENOUGH_BALANCE, … */
const ERROR_CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

interface StringOption {
  readonly type: 'string';
  /** The value's placeholder in the help, e.g. `SECONDS`. */
  readonly placeholder: string;
  readonly help: string;
  /** As typed on the command line; undefined: the option is off unless given. */
  readonly default: string | undefined;
}

interface BooleanOption {
  readonly type: 'boolean';
  readonly help: string;
  readonly short?: string;
}

/** Every option of `npm start`, in the order of the help. */
export const LOCAL_RUN_OPTIONS = {
  'pool-id': {
    type: 'string',
    placeholder: 'ID',
    help: 'The pool to open: a positive whole number, as in a trigger message.',
    default: '1001',
  },
  duration: {
    type: 'string',
    placeholder: 'SECONDS',
    help: `How long the emulated opening operation runs before it ends (0 to ${MAX_DURATION_SECONDS}; 0 is done in Toloka's first answer).`,
    default: '8',
  },
  result: {
    type: 'string',
    placeholder: 'SUCCESS|FAIL',
    help: 'How the emulated opening operation ends.',
    default: 'SUCCESS',
  },
  refuse: {
    type: 'string',
    placeholder: 'CODE',
    help: 'Make Toloka refuse to open the pool with 409 and this error code, e.g. EMPTY_POOL or NOT_ENOUGH_BALANCE.',
    default: undefined,
  },
  'already-open': {
    type: 'boolean',
    help: 'Start with the pool already open, so that Toloka answers 204.',
  },
  close: {
    type: 'boolean',
    help: 'Close the pool instead (it starts open): POST /pools/{id}/close and a {"poolId": …, "action": "close"} trigger; --duration, --result and --refuse then apply to the close.',
  },
  window: {
    type: 'boolean',
    help: "Ask to open the pool and, at once, to close it, as a window's two schedules would: the close waits until the opening has ended, then closes it.",
  },
  training: {
    type: 'boolean',
    help: 'The ID is a training pool: open it with POST /trainings/{id}/open and a {"trainingId": …} trigger.',
  },
  direct: {
    type: 'boolean',
    help: 'Invoke the opener directly, as `aws lambda invoke` does, instead of through the trigger queue.',
  },
  'deadline-seconds': {
    type: 'string',
    placeholder: 'SECONDS',
    help: `Report TIMED_OUT when the opening has not ended this long after it was asked for (1 to ${MAX_DEADLINE_SECONDS}; CHECK_DEADLINE_SECONDS).`,
    default: '3600',
  },
  'fast-path': {
    type: 'string',
    placeholder: 'SECONDS',
    help: `How long the opener follows the operation itself before the delayed check queue takes over (0 to ${MAX_FAST_PATH_SECONDS}; FAST_PATH_SECONDS).`,
    default: '20',
  },
  help: {
    type: 'boolean',
    short: 'h',
    help: 'Print this help and exit.',
  },
} as const satisfies Record<string, StringOption | BooleanOption>;

type OptionName = keyof typeof LOCAL_RUN_OPTIONS;

/** A command line that cannot run; `message` is the one line to print. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `npm start`'s answer to its command line: the help, or what to run. */
export type ParsedCommandLine =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly options: LocalRunOptions };

/**
 * Reads `npm start`'s arguments (without `node` and the script). Throws UsageError, naming the
 * option and the reason, for an unknown option, a missing or unexpected value, a value that does
 * not pass its check, a stray argument, or options that contradict each other. `--help` wins.
 */
export function parseLocalRunArgs(args: readonly string[]): ParsedCommandLine {
  // Not strict: Node's own errors would be thrown as TypeErrors with a stack and would call
  // `--duration -1` "ambiguous". The tokens are checked here instead, one problem at a time.
  const { tokens } = parseArgs({
    args: [...args],
    options: parseArgsConfig(),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = new Map<OptionName, string | true>();
  let problem: string | undefined;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      problem ??= unexpectedArgument(token.value);
      continue;
    }
    if (!isOptionName(token.name)) {
      problem ??= unknownOption(token.rawName);
      continue;
    }
    const spec: StringOption | BooleanOption = LOCAL_RUN_OPTIONS[token.name];
    if (spec.type === 'boolean') {
      if (token.value !== undefined) {
        problem ??= `${token.rawName}: takes no value, got ${shown(token.value)}`;
      }
      given.set(token.name, true);
      continue;
    }
    // `--pool-id --direct`: the next option is not a value (`--pool-id=--direct` would be).
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      problem ??= `${token.rawName}: needs a value, e.g. ${token.rawName} ${spec.default ?? example(token.name)}`;
      continue;
    }
    given.set(token.name, token.value);
  }
  if (given.get('help') === true) return { kind: 'help' };
  if (problem !== undefined) throw new UsageError(problem);

  const text = (
    name: Exclude<OptionName, 'already-open' | 'close' | 'window' | 'direct' | 'training' | 'help'>,
  ): string | undefined => {
    const value = given.get(name);
    return typeof value === 'string' ? value : LOCAL_RUN_OPTIONS[name].default;
  };
  const refuse = text('refuse');
  const alreadyOpen = given.has('already-open');
  if (refuse !== undefined && alreadyOpen) {
    throw new UsageError(
      '--refuse and --already-open cannot be used together: Toloka either refuses (409) or answers 204 for an open pool',
    );
  }
  if (given.has('close') && given.has('window')) {
    throw new UsageError(
      '--close and --window cannot be used together: --window already closes the pool after opening it',
    );
  }
  if (given.has('close') && alreadyOpen) {
    throw new UsageError(
      '--close and --already-open cannot be used together: --close starts with the pool open already',
    );
  }
  if (given.has('result') && alreadyOpen) {
    throw new UsageError(
      '--result and --already-open cannot be used together: an open pool is answered 204, with no operation to end in SUCCESS or FAIL',
    );
  }
  return {
    kind: 'run',
    options: {
      poolId: checkPoolId(text('pool-id') ?? ''),
      durationSeconds: checkSeconds('--duration', text('duration') ?? '', {
        min: 0,
        max: MAX_DURATION_SECONDS,
        whole: false,
      }),
      result: checkResult(text('result') ?? ''),
      refuse: refuse === undefined ? undefined : checkErrorCode(refuse),
      alreadyOpen,
      close: given.has('close'),
      window: given.has('window'),
      direct: given.has('direct'),
      training: given.has('training'),
      deadlineSeconds: checkSeconds('--deadline-seconds', text('deadline-seconds') ?? '', {
        min: 1,
        max: MAX_DEADLINE_SECONDS,
        whole: true,
      }),
      fastPathSeconds: checkSeconds('--fast-path', text('fast-path') ?? '', {
        min: 0,
        max: MAX_FAST_PATH_SECONDS,
        whole: true,
      }),
    },
  };
}

/** The help: every option with its sentence and its default, then the exit codes. */
export function localRunHelp(): string {
  const rows = Object.entries(LOCAL_RUN_OPTIONS).map(
    ([name, spec]: [string, StringOption | BooleanOption]) => {
      const flag =
        spec.type === 'string'
          ? `--${name} ${spec.placeholder}`
          : `${'short' in spec && spec.short !== undefined ? `-${spec.short}, ` : ''}--${name}`;
      const fallback = spec.type === 'string' && spec.default !== undefined ? spec.default : 'off';
      return { flag, text: `${spec.help} Default: ${fallback}.` };
    },
  );
  const width = Math.max(...rows.map((row) => row.flag.length));
  const indent = ' '.repeat(width + 4);
  return [
    'usage: npm start -- [options]',
    '',
    'Runs the whole app on this machine: starts the Toloka emulator, sends {"poolId": ID} to a local',
    'trigger queue and runs the real opener and checker handlers (through a local delay queue) until',
    'the opening ends, printing its progress and its outcome record.',
    '',
    'Options:',
    ...rows.map(
      (row) =>
        `  ${row.flag.padEnd(width)}  ${wrap(row.text, HELP_WIDTH - indent.length).join(`\n${indent}`)}`,
    ),
    '',
    'Exit codes:',
    '  0  the outcome is OPENED or ALREADY_OPEN',
    '  1  the outcome is FAILED or TIMED_OUT',
    '  2  bad usage: an unknown option, a missing value or a bad one (nothing was started)',
    '',
    'Examples:',
    '  npm start -- --duration 20 --result FAIL    a slower opening that fails',
    '  npm start -- --refuse EMPTY_POOL            Toloka refuses (409)',
    '  npm start -- --duration 40                  outlasts the 20 s fast path: the check queue takes over',
    '',
  ].join('\n');
}

/** The help fits a 100-column terminal. */
const HELP_WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

function parseArgsConfig(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(
    Object.entries(LOCAL_RUN_OPTIONS).map(([name, spec]: [string, StringOption | BooleanOption]) => [
      name,
      'short' in spec && spec.short !== undefined
        ? { type: spec.type, short: spec.short }
        : { type: spec.type },
    ]),
  );
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(LOCAL_RUN_OPTIONS, name);
}

function unknownOption(rawName: string): string {
  const bare = rawName.replace(/^-+/, '');
  const near = Object.keys(LOCAL_RUN_OPTIONS).find(
    (name) => bare.length >= 3 && (name.startsWith(bare) || bare.startsWith(name)),
  );
  return `unknown option ${rawName}${near === undefined ? '' : ` (did you mean --${near}?)`}`;
}

function unexpectedArgument(value: string): string {
  // `npm start --duration 0` (no `--`): npm keeps the option and passes only its value on.
  const npmAte = ' (npm passes options on only after --: npm start -- --duration 20)';
  let poolHint = '';
  try {
    poolHint = ` (to choose the pool, write --pool-id ${parseId('poolId', value)})`;
  } catch {
    // Not a pool ID: suggesting --pool-id would suggest a mistake.
  }
  return `unexpected argument ${shown(value)}: every option starts with --${poolHint || npmAte}`;
}

function example(name: OptionName): string {
  return name === 'refuse' ? 'EMPTY_POOL' : 'VALUE';
}

function checkPoolId(value: string): string {
  try {
    return parseId('poolId', value);
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new UsageError(`--pool-id: ${error.reason}`);
    throw error;
  }
}

function checkSeconds(
  option: string,
  value: string,
  range: { readonly min: number; readonly max: number; readonly whole: boolean },
): number {
  const shape = range.whole ? /^[0-9]+$/ : /^[0-9]+(?:\.[0-9]+)?$/;
  const seconds = Number(value);
  const what = range.whole ? 'a whole number of seconds' : 'a number of seconds';
  if (!shape.test(value) || seconds < range.min || seconds > range.max) {
    throw new UsageError(`${option}: must be ${what} from ${range.min} to ${range.max}, got ${shown(value)}`);
  }
  return seconds;
}

function checkResult(value: string): 'SUCCESS' | 'FAIL' {
  if (value === 'SUCCESS' || value === 'FAIL') return value;
  throw new UsageError(`--result: must be SUCCESS or FAIL, got ${shown(value)}`);
}

function checkErrorCode(value: string): string {
  if (ERROR_CODE.test(value) && value.length <= 64) return value;
  throw new UsageError(
    `--refuse: must be a Toloka error code in capitals, digits and underscores, such as EMPTY_POOL, got ${shown(value)}`,
  );
}

/** A value as typed, quoted; a long one cut short. */
function shown(value: string): string {
  const text = JSON.stringify(value);
  return text.length <= 42 ? text : `${text.slice(0, 40)}…"`;
}
