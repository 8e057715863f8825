/**
 * README.md's example commands that run on this machine, run as written: the quick start's
 * `npm start` and every variant its "Try other answers" paragraph names (read from the page, each
 * through npm itself), and the command-line block's emulator line. The commands that need AWS or a
 * real Toloka token (deploy, `aws …`, `doctor`) are covered by their own tests against moto and
 * the emulator; the package section's block is run by test/package/pack-and-install.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/support.ts';
import { freePort, type Run, runCommand, runNode } from '../support/child-run.ts';
import { type EmulatorCli, startEmulatorCli } from '../support/emulator-cli.ts';

const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');

/** The backticked commands of the "Try other answers" paragraph, each as `npm start` arguments. */
function tryOtherAnswers(): string[][] {
  const start = readme.indexOf('Try other answers:');
  const paragraph = readme.slice(start, readme.indexOf('\n\n', start));
  return [...paragraph.matchAll(/`([^`]+)`/g)]
    .map((match) => (match[1] ?? '').replace(/^npm start -- /, ''))
    .filter((command) => command.startsWith('--'))
    .map((command) => command.split(' '));
}

/** What each README variant ends in: the exit code and the outcome of `done: …` (none for --help). */
const EXPECTED: Record<string, { code: number; outcome?: string }> = {
  '': { code: 0, outcome: 'OPENED' },
  '--result FAIL': { code: 1, outcome: 'FAILED' },
  '--refuse EMPTY_POOL': { code: 1, outcome: 'FAILED' },
  '--already-open': { code: 0, outcome: 'ALREADY_OPEN' },
  '--duration 0': { code: 0, outcome: 'OPENED' },
  '--duration 40': { code: 0, outcome: 'OPENED' },
  '--fast-path 0': { code: 0, outcome: 'OPENED' },
  '--direct': { code: 0, outcome: 'OPENED' },
  '--close': { code: 0, outcome: 'CLOSED' },
  '--window': { code: 0, outcome: 'OPENED, CLOSED' },
  '--training': { code: 0, outcome: 'OPENED' },
  '--help': { code: 0 },
};

/** `npm start -- <args>` (or plain `npm start`) in the repository, as a reader types it. */
function npmStart(args: readonly string[]): Promise<Run> {
  const argv = args.length === 0 ? ['start'] : ['start', '--', ...args];
  return runCommand('npm', argv, {
    env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' },
  });
}

describe("README.md's npm start examples, through npm", { timeout: 120_000 }, () => {
  const variants = [[], ...tryOtherAnswers()];
  const runs = new Map<string, Promise<Run>>();
  // Started together (they are mostly waiting on the emulator's timers), each awaited by its test.
  const runOf = (args: readonly string[]) => {
    const key = args.join(' ');
    const started = runs.get(key) ?? npmStart(args);
    runs.set(key, started);
    return started;
  };
  beforeAll(() => {
    for (const args of variants) void runOf(args).catch(() => undefined);
  });

  it('names exactly the variants this test knows the ending of', () => {
    expect(variants.map((args) => args.join(' ')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED).map(([command, expected]) => ({ command, ...expected })))(
    'npm start $command: exit $code, $outcome',
    async ({ command, code, outcome }) => {
      const run = await runOf(command === '' ? [] : command.split(' '));
      expect(run.code, run.stderr).toBe(code);
      if (outcome === undefined) {
        expect(run.stdout).toContain('--duration');
      } else {
        expect(run.stdout).toMatch(new RegExp(`done: ${outcome}\\n`));
      }
    },
  );
});

describe("README.md's command line against the emulator, as written", { timeout: 60_000 }, () => {
  const line =
    readme.split('\n').find((text) => text.startsWith('npx toloka-pool open 1001 --api-url')) ?? '';
  let port = 0;
  let emulator: EmulatorCli;

  beforeAll(async () => {
    port = await freePort();
    // The emulator as the line's comment starts it, on a free port instead of 8080.
    const started = /# the emulator \(npm run emulator -- (.+)\)$/.exec(line)?.[1] ?? '';
    expect(started).not.toBe('');
    emulator = await startEmulatorCli([...started.split(' '), '--port', String(port)]);
  });

  afterAll(async () => {
    await emulator.stop();
  });

  it('opens pool 1001 there, with the token the emulator accepts by default', async () => {
    const command = line
      .replace(/\s+#.*$/, '')
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)
      .split(/\s+/);
    expect(command.slice(0, 2)).toEqual(['npx', 'toloka-pool']);
    const run = await runNode(['cli/toloka-pool.mjs', ...command.slice(2)], {
      PATH: process.env.PATH ?? '',
      NO_COLOR: '1',
      TOLOKA_TOKEN: 'local-dev-token',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`→ 127.0.0.1:${port} (from --api-url)`);
    expect(run.stdout).toMatch(/pool 1001/);
  });

  it("npx toloka-pool schedule -c config/example.jsonc: the example's schedules and their next runs, exit 0", async () => {
    const line = readme.split('\n').find((text) => text.startsWith('npx toloka-pool schedule -c')) ?? '';
    const command = line.replace(/\s+#.*$/, '').split(/\s+/);
    expect(command).toEqual(['npx', 'toloka-pool', 'schedule', '-c', 'config/example.jsonc']);
    const run = await runNode(['cli/toloka-pool.mjs', ...command.slice(2)], { PATH: process.env.PATH ?? '' });
    expect(run.code, run.stderr).toBe(0);
    for (const schedule of [
      'office-hours-open: open pool 123456 at cron(0 9 ? * MON-FRI *) (Europe/Amsterdam, skips holidays)',
      'office-hours-close: close pool 123456 at cron(0 18 ? * MON-FRI *) (Europe/Amsterdam, skips holidays)',
      'nightly-close: close pool 123456',
      'training-98765-1: open training 98765',
    ]) {
      expect(run.stdout).toContain(schedule);
    }
    // Five runs of each of the four, each in local time and in UTC.
    expect(
      run.stdout.match(
        /^ {2}\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{2}:\d{2} {2}= {2}\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/gm,
      ),
    ).toHaveLength(20);
  });

  it('npx toloka-pool open --help: the options and examples, exit 0', async () => {
    expect(readme).toContain('npx toloka-pool open --help');
    const run = await runNode(['cli/toloka-pool.mjs', 'open', '--help'], { PATH: process.env.PATH ?? '' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('--api-url');
  });
});
