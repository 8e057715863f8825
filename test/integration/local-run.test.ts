import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LOCAL_RUN_OPTIONS } from '../../scripts/local-run-options.ts';
import { type Run, runNode } from '../support/child-run.ts';

const _ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function localRun(args: readonly string[]): Promise<Run> {
  return runNode(['--import', 'tsx', 'scripts/local-run.ts', ...args], { ...process.env, NO_COLOR: '1' });
}

/** The lines printed after the `+  0.0 s  ` stamps. */
function linesOf(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.replace(/^\+ *\d+\.\d s {2}/, ''));
}

// Each run starts a Node process; CI machines may be busy.
const SLOW = { timeout: 60_000 };

describe.concurrent('npm start -- --help', SLOW, () => {
  it('lists every option with a sentence and its default, and the exit codes', async () => {
    const run = await localRun(['--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    // The help's rows, each option with its text joined across wrapped lines.
    const help = run.stdout.replace(/\n {4,}/g, ' ');
    for (const [name, spec] of Object.entries(LOCAL_RUN_OPTIONS)) {
      const row = help.split('\n').find((line) => new RegExp(`^ {2}(-\\w, )?--${name}\\b`).test(line));
      expect(row, `--${name} is in the help`).toBeDefined();
      const fallback = spec.type === 'string' && spec.default !== undefined ? spec.default : 'off';
      expect(row).toContain(`${spec.help} Default: ${fallback}.`);
    }
    expect(help).toContain('Default: 1001.');
    expect(help).toMatch(/^ {2}0 {2}the outcome is OPENED or ALREADY_OPEN$/m);
    expect(help).toMatch(/^ {2}1 {2}the outcome is FAILED or TIMED_OUT$/m);
    expect(help).toMatch(/^ {2}2 {2}bad usage/m);
  });

  it('-h is --help, and wins over a bad option next to it', async () => {
    const [short, withBad] = await Promise.all([localRun(['-h']), localRun(['--bogus', '--help'])]);
    expect(short.code).toBe(0);
    expect(short.stdout).toMatch(/^usage: npm start -- \[options\]/);
    expect(withBad.code).toBe(0);
    expect(withBad.stdout).toBe(short.stdout);
  });
});

describe.concurrent('npm start with a bad command line', SLOW, () => {
  it.each<[string, string[], string]>([
    ['an unknown option', ['--bogus'], 'unknown option --bogus'],
    ['an unknown option close to a real one', ['--pool'], 'unknown option --pool (did you mean --pool-id?)'],
    ['an unknown short option', ['-x'], 'unknown option -x'],
    ['a missing value', ['--duration'], '--duration: needs a value, e.g. --duration 8'],
    ['an option where a value belongs', ['--pool-id', '--direct'], '--pool-id: needs a value'],
    [
      'a value that is not a number',
      ['--fast-path', 'abc'],
      '--fast-path: must be a whole number of seconds from 0 to 600, got "abc"',
    ],
    [
      'a negative duration',
      ['--duration', '-1'],
      '--duration: must be a number of seconds from 0 to 86400, got "-1"',
    ],
    ['a negative duration, written with =', ['--duration=-1'], '--duration: must be a number of seconds'],
    [
      'a zero deadline',
      ['--deadline-seconds', '0'],
      '--deadline-seconds: must be a whole number of seconds from 1 to 43200, got "0"',
    ],
    [
      'a fractional deadline',
      ['--deadline-seconds', '1.5'],
      '--deadline-seconds: must be a whole number of seconds',
    ],
    [
      'a fast path over its limit',
      ['--fast-path', '601'],
      '--fast-path: must be a whole number of seconds from 0 to 600, got "601"',
    ],
    [
      'a pool ID that is not a number',
      ['--pool-id', 'abc'],
      '--pool-id: must be a positive whole number in ASCII digits',
    ],
    ['a pool ID of 0', ['--pool-id', '0'], '--pool-id: must be positive'],
    [
      'a result other than SUCCESS or FAIL',
      ['--result', 'success'],
      '--result: must be SUCCESS or FAIL, got "success"',
    ],
    [
      'a refusal that is not an error code',
      ['--refuse', 'empty pool'],
      '--refuse: must be a Toloka error code',
    ],
    ['a value given to a flag', ['--direct=yes'], '--direct: takes no value, got "yes"'],
    [
      'a stray argument',
      ['1001'],
      'unexpected argument "1001": every option starts with -- (to choose the pool, write --pool-id 1001)',
    ],
    [
      'the value of an option npm kept (npm start --duration 0, no --)',
      ['0'],
      'unexpected argument "0": every option starts with -- (npm passes options on only after --: npm start -- --duration 20)',
    ],
    [
      'a result for an open pool',
      ['--already-open', '--result', 'FAIL'],
      '--result and --already-open cannot be used together',
    ],
    ['a close and a window at once', ['--close', '--window'], '--close and --window cannot be used together'],
    [
      'a close of a pool already open',
      ['--close', '--already-open'],
      '--close and --already-open cannot be used together',
    ],
    [
      'a refusal of an open pool',
      ['--refuse', 'EMPTY_POOL', '--already-open'],
      '--refuse and --already-open cannot be used together',
    ],
  ])('%s: one line naming it, exit 2, nothing started', async (_case, args, reason) => {
    const run = await localRun(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`npm start: ${reason}`);
    expect(lines[0]).toContain('see npm start -- --help');
    expect(run.stderr).not.toMatch(/^ {4}at /m);
    expect(run.stderr).not.toContain('ERR_PARSE_ARGS');
  });
});

describe.concurrent('npm start runs', SLOW, () => {
  it('--training opens a training pool: the banner, the trigger and the record say training', async () => {
    const run = await localRun(['--training', '--pool-id', '2002', '--duration', '0']);
    expect(run.code).toBe(0);
    const lines = linesOf(run.stdout);
    expect(lines[0]).toMatch(/\(training 2002 opens at once, in Toloka's first answer\)$/);
    expect(lines[1]).toBe('sending {"trainingId":"2002"} to the trigger queue');
    expect(lines).toContainEqual(
      expect.stringMatching(/^outcome record: \{"outcome":"OPENED","trainingId":"2002"/),
    );
  });

  it('a quick opening: the banner says when the pool opens, exit 0 with OPENED', async () => {
    const run = await localRun(['--duration', '1']);
    expect(run.code).toBe(0);
    const lines = linesOf(run.stdout);
    expect(lines[0]).toMatch(
      /^Toloka emulator listening on http:\/\/127\.0\.0\.1:\d+ \(pool 1001 opens in 1 s\)$/,
    );
    expect(lines[1]).toBe('sending {"poolId":"1001"} to the trigger queue');
    expect(lines).toContainEqual(
      expect.stringMatching(/^outcome record: \{"outcome":"OPENED","poolId":"1001"/),
    );
    expect(lines.at(-1)).toBe('done: OPENED');
    expect(run.stderr).toBe('');
  });

  it('--already-open: the banner says Toloka answers 204, exit 0 with ALREADY_OPEN', async () => {
    const run = await localRun(['--already-open']);
    expect(run.code).toBe(0);
    const lines = linesOf(run.stdout);
    expect(lines[0]).toMatch(/\(pool 1001 is already open: Toloka answers 204\)$/);
    expect(lines[0]).not.toContain('opens in');
    expect(lines.at(-1)).toBe('done: ALREADY_OPEN');
  });

  it('--refuse CODE: the banner says Toloka refuses with 409 CODE, exit 1 with FAILED', async () => {
    const run = await localRun(['--refuse', 'EMPTY_POOL', '--pool-id', '2002']);
    expect(run.code).toBe(1);
    const lines = linesOf(run.stdout);
    expect(lines[0]).toMatch(/\(Toloka refuses to open pool 2002 with 409 EMPTY_POOL\)$/);
    expect(lines[0]).not.toContain('opens in');
    expect(lines).toContainEqual(expect.stringMatching(/"code":"EMPTY_POOL".*"httpStatus":409/));
    expect(lines.at(-1)).toBe('done: FAILED');
  });

  it('an opening that ends in FAIL: the banner says so, exit 1 with FAILED', async () => {
    const run = await localRun(['--duration', '0', '--result', 'FAIL', '--direct']);
    expect(run.code).toBe(1);
    const lines = linesOf(run.stdout);
    expect(lines[0]).toMatch(/\(pool 1001 fails to open at once, in Toloka's first answer\)$/);
    expect(lines).toContain('invoking the opener directly with {"poolId":"1001"}');
    expect(lines.at(-1)).toBe('done: FAILED');
  });

  it('an opening that outlasts the deadline: exit 1 with TIMED_OUT', async () => {
    const run = await localRun(['--duration', '30', '--deadline-seconds', '1', '--fast-path', '0']);
    expect(run.code).toBe(1);
    expect(linesOf(run.stdout).at(-1)).toBe('done: TIMED_OUT');
  });

  it('a deadline shorter than the fast path: TIMED_OUT at the deadline, not at the end of the fast path', async () => {
    const run = await localRun(['--duration', '40', '--deadline-seconds', '3']);
    expect(run.code).toBe(1);
    const record = linesOf(run.stdout).find((line) => line.startsWith('outcome record: '));
    const outcome = JSON.parse(record?.slice('outcome record: '.length) ?? '{}') as {
      outcome?: string;
      elapsedMs?: number;
    };
    expect(outcome.outcome).toBe('TIMED_OUT');
    // The last check is made at the deadline; the fast path (20 s by default) does not go past it.
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(3_000);
    expect(outcome.elapsedMs).toBeLessThan(4_000);
  });
});
