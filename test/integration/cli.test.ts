import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { type Run, runNode } from '../support/child-run.ts';

const _ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'cli-test-token-5f1c9a7e3b';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const emulator = new TolokaEmulator({ tokens: [TOKEN] });
let origin = '';

beforeAll(async () => {
  origin = await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
});

/**
 * Runs the CLI with `args` (`--api-url` the shared emulator, or `apiUrl`, unless `withApiUrl` is
 * false); `onStderr` sees stderr as it grows, to act in the middle of a run.
 */
async function cli(
  args: string[],
  options: {
    token?: string | null;
    withApiUrl?: boolean;
    apiUrl?: string;
    env?: Record<string, string>;
    onStderr?: (stderrSoFar: string) => void;
  } = {},
): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.TOLOKA_TOKEN;
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) env.TOLOKA_TOKEN = token;
  const fullArgs = options.withApiUrl === false ? args : [...args, '--api-url', options.apiUrl ?? origin];
  const { code, stdout, stderr } = await runNode(['cli/toloka-pool.mjs', ...fullArgs], env, options.onStderr);
  // Whatever happened, the token is never echoed.
  expect(stdout).not.toContain(TOKEN);
  expect(stderr).not.toContain(TOKEN);
  return { code, stdout, stderr };
}

/** What a person reads on stderr: no call names, attempt counters or error class codes. */
function expectUsersWords(stderr: string): void {
  expect(stderr).not.toMatch(
    /getOperation|getTarget|\battempt\b|in 0\.0 s|RETRIES_EXHAUSTED|NETWORK_ERROR|UND_ERR/,
  );
}

/** The one JSON object `--json` prints on stdout. */
function jsonOf(run: Run): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

// Generous: each run starts a Node process, and CI machines may be busy.
const SLOW = { timeout: 60_000 };

describe.concurrent('toloka-pool open', SLOW, () => {
  it('starts the opening and exits 0 with a PENDING record naming the operation', async () => {
    emulator.setPool('4101', { openDurationMs: 600_000 });
    const run = await cli(['open', '4101', '--json']);
    expect(run.code).toBe(0);
    const record = jsonOf(run);
    expect(record).toMatchObject({ outcome: 'PENDING', poolId: '4101', service: 'toloka-pool-opener' });
    expect(record.operationId).toMatch(UUID);
    expect(emulator.countRequests('POST', '/pools/4101/open')).toBe(1);

    // Another pool: a second open of 4101 while it runs meets 409 POOL_LOCKED_BY_ANOTHER_OPERATION.
    emulator.setPool('4199', { openDurationMs: 600_000 });
    const human = await cli(['open', '4199']);
    expect(human.code).toBe(0);
    const humanOperation = emulator.getPoolState('4199')?.activeOperationId;
    expect(human.stdout).toContain(`toloka-pool status ${String(humanOperation)}`);
  });

  it('--wait follows the operation to OPENED, with one progress line per change on stderr', async () => {
    emulator.setPool('4102', { openDurationMs: 2_500 });
    const run = await cli(['open', '4102', '--wait', '--json']);
    expect(run.code).toBe(0);
    expect(jsonOf(run)).toMatchObject({ outcome: 'OPENED', poolId: '4102', level: 'INFO' });
    expect(run.stderr).toMatch(/^pool 4102: RUNNING \d+% \(\d+\.\d s\)$/m);
    expect(run.stderr).toMatch(/^pool 4102: SUCCESS 100% /m);
    const lines = run.stderr.split('\n').filter((line) => /^pool 4102: [A-Z]+ \d+%/.test(line));
    expect(new Set(lines.map((line) => line.replace(/ \(.*\)$/, ''))).size).toBe(lines.length);
    expect(emulator.getPoolState('4102')?.status).toBe('OPEN');
  });

  it('opens a training with --training', async () => {
    emulator.setTraining('4103', { openDurationMs: 0 });
    const run = await cli(['open', '4103', '--training', '--wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^training 4103 is open \(operation /);
    expect(emulator.countRequests('POST', '/trainings/4103/open')).toBe(1);
  });

  it('exits 0 with ALREADY_OPEN when the pool is open', async () => {
    emulator.setPool('4104', { status: 'OPEN' });
    const run = await cli(['open', '4104', '--json']);
    expect(run.code).toBe(0);
    expect(jsonOf(run)).toMatchObject({ outcome: 'ALREADY_OPEN', poolId: '4104' });
  });

  it('exits 4 when Toloka refuses (409), printing its code, message and request_id', async () => {
    emulator.setPool('4105', { refuse: { code: 'NOT_ENOUGH_BALANCE', message: 'Top up your account' } });
    const [run, json] = await Promise.all([cli(['open', '4105']), cli(['open', '4105', '--json'])]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('HTTP 409 NOT_ENOUGH_BALANCE: Top up your account (request_id ');
    expect(json.code).toBe(4);
    expect(jsonOf(json)).toMatchObject({
      outcome: 'FAILED',
      code: 'NOT_ENOUGH_BALANCE',
      httpStatus: 409,
      request_id: expect.any(String),
    });
  });

  it('exits 5 when the operation ends in FAIL', async () => {
    emulator.setPool('4106', { openDurationMs: 600, result: 'FAIL' });
    const run = await cli(['open', '4106', '--wait', '--json']);
    expect(run.code).toBe(5);
    expect(jsonOf(run)).toMatchObject({ outcome: 'FAILED', code: 'OPERATION_FAILED', status: 'FAIL' });
    expect(run.stderr).toContain('toloka-pool pool 4106');
  });

  it('exits 6 when --wait reaches --timeout, saying how to follow the opening', async () => {
    emulator.setPool('4107', { openDurationMs: 60_000 });
    const run = await cli(['open', '4107', '--wait', '--timeout', '1', '--json']);
    expect(run.code).toBe(6);
    const record = jsonOf(run);
    expect(record).toMatchObject({ outcome: 'TIMED_OUT', code: 'DEADLINE_EXCEEDED', status: 'RUNNING' });
    expect(run.stderr).toContain(`toloka-pool status ${String(record.operationId)}`);
    expect(record.elapsedMs).toBeGreaterThanOrEqual(1_000);
    expect(record.elapsedMs).toBeLessThan(5_000);
  });

  it('exits 2 for a bad pool ID, naming it, without calling Toloka', async () => {
    const run = await cli(['open', '41x08']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '<poolId>: must be a positive whole number in ASCII digits, got the string "41x08"',
    );
    expect(emulator.requests.some((request) => request.path.includes('41x08'))).toBe(false);
  });

  it('exits 2 for bad options, naming the option and the reason', async () => {
    const [insecure, both, timeout] = await Promise.all([
      cli(['open', '4109', '--api-url', 'http://toloka.example.com'], { withApiUrl: false }),
      cli(['open', '4109', '--env', 'sandbox']),
      cli(['open', '4109', '--wait', '--timeout', 'soon', '--json']),
    ]);
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toContain('--api-url: must use https (http only for localhost');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("option '--api-url <origin>' cannot be used with option '--env <name>'");
    expect(timeout.code).toBe(2);
    expect(jsonOf(timeout)).toMatchObject({ error: { code: 'BAD_INPUT', argument: '--timeout' } });
    expect(emulator.countRequests(undefined, '/pools/4109')).toBe(0);
  });

  it('exits 3 without a token, saying how to give one', async () => {
    const run = await cli(['open', '4110'], { token: null });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no Toloka token');
    expect(run.stderr).toContain('Set TOLOKA_TOKEN');
    expect(run.stderr).toContain('--token-parameter');
    expect(emulator.countRequests(undefined, '/pools/4110')).toBe(0);
  });

  it('exits 3 when Toloka refuses the token (401), never printing it', async () => {
    const wrong = 'wrong-token-0d2e61b8a4';
    const run = await cli(['open', '4111', '--json'], { token: wrong });
    expect(run.code).toBe(3);
    expect(jsonOf(run)).toMatchObject({ outcome: 'FAILED', httpStatus: 401, code: 'AUTHENTICATION_ERROR' });
    expect(run.stderr).toContain('Toloka did not accept the token');
    expect(`${run.stdout}${run.stderr}`).not.toContain(wrong);
  });

  it('exits 7 when Toloka answers 503 through every retry', async () => {
    emulator.injectFault({
      kind: 'status',
      status: 503,
      path: '/pools/4112/open',
      times: Number.POSITIVE_INFINITY,
    });
    const run = await cli(['open', '4112', '--json']);
    expect(run.code).toBe(7);
    expect(jsonOf(run)).toMatchObject({ error: { code: 'RETRIES_EXHAUSTED' } });
    expect(run.stderr).toMatch(
      /^pool 4112: the request to open it failed: Toloka answered 503 Service Unavailable; trying again (now|in \d+\.\d s)$/m,
    );
    expect(run.stderr).toContain(
      'toloka-pool: Toloka is unavailable: Toloka answered 503 Service Unavailable (4 tries in a row)',
    );
    expect(run.stderr).toContain('try again later');
    expectUsersWords(run.stderr);
    expect(emulator.countRequests('POST', '/pools/4112/open')).toBe(4);
  });
});

describe.concurrent('toloka-pool names its target before the first request', SLOW, () => {
  it('reads TOLOKA_API_URL as the functions do: the emulator, named on stderr, also with --json', async () => {
    emulator.setPool('4301', { openDurationMs: 0 });
    const run = await cli(['open', '4301', '--json'], { withApiUrl: false, env: { TOLOKA_API_URL: origin } });
    expect(run.code).toBe(0);
    expect(jsonOf(run)).toMatchObject({ poolId: '4301' });
    expect(run.stderr.split('\n')[0]).toBe(`→ ${new URL(origin).host} (from TOLOKA_API_URL)`);
    expect(emulator.countRequests('POST', '/pools/4301/open')).toBe(1);
  });

  it('lets --api-url win over TOLOKA_API_URL and TOLOKA_ENVIRONMENT, and names it', async () => {
    emulator.setPool('4302', { openDurationMs: 600_000 });
    const run = await cli(['pool', '4302'], {
      env: { TOLOKA_API_URL: 'https://toloka.invalid', TOLOKA_ENVIRONMENT: 'sandbox' },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`→ ${new URL(origin).host} (from --api-url)`);
  });

  it('names sandbox from TOLOKA_ENVIRONMENT, and --env wins over it; a bad value exits 2 naming it', async () => {
    // No token: the command stops after naming its target, before any request.
    const sandbox = await cli(['pool', '1'], {
      withApiUrl: false,
      token: null,
      env: { TOLOKA_ENVIRONMENT: 'sandbox' },
    });
    expect(sandbox.code).toBe(3);
    expect(sandbox.stderr.split('\n')[0]).toBe('→ sandbox (sandbox.toloka.dev)');
    const production = await cli(['pool', '1', '--env', 'production'], {
      withApiUrl: false,
      token: null,
      env: { TOLOKA_ENVIRONMENT: 'sandbox' },
    });
    expect(production.code).toBe(3);
    expect(production.stderr.split('\n')[0]).toBe('→ production (toloka.dev)');
    const bad = await cli(['pool', '1'], { withApiUrl: false, env: { TOLOKA_ENVIRONMENT: 'staging' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TOLOKA_ENVIRONMENT: must be "production" or "sandbox", got "staging"');
  });
});

describe.concurrent('toloka-pool status and pool', SLOW, () => {
  it('status prints the operation, and --json its fields', async () => {
    emulator.setPool('4201', { openDurationMs: 0 });
    const opened = jsonOf(await cli(['open', '4201', '--json']));
    const operationId = String(opened.operationId);

    const [json, human] = await Promise.all([
      cli(['status', operationId, '--json']),
      cli(['status', operationId]),
    ]);
    expect(json.code).toBe(0);
    expect(jsonOf(json)).toMatchObject({
      operationId,
      type: 'POOL.OPEN',
      status: 'SUCCESS',
      progress: 100,
      submitted: expect.any(String),
      finished: expect.any(String),
    });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status +SUCCESS$/m);
    expect(human.stdout).toMatch(/^progress +\[#{20}\] 100%$/m);
  });

  it('status exits 5 for an unknown operation and 2 for a malformed ID', async () => {
    const [unknown, malformed] = await Promise.all([
      cli(['status', 'no-such-operation']),
      cli(['status', '../pools/1']),
    ]);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toContain('HTTP 404 DOES_NOT_EXIST');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('<operationId>: must be a Toloka operation ID');
  });

  it('pool prints the status and the last close reason, and --json the same', async () => {
    emulator.setPool('4202', { status: 'CLOSED', lastCloseReason: 'NOT_ENOUGH_BALANCE' });
    emulator.setTraining('4203', { status: 'OPEN' });
    const [json, human, training] = await Promise.all([
      cli(['pool', '4202', '--json']),
      cli(['pool', '4202']),
      cli(['pool', '4203', '--training', '--json']),
    ]);
    expect(json.code).toBe(0);
    expect(jsonOf(json)).toMatchObject({
      poolId: '4202',
      status: 'CLOSED',
      lastCloseReason: 'NOT_ENOUGH_BALANCE',
    });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status +CLOSED$/m);
    expect(human.stdout).toMatch(/^last close reason +NOT_ENOUGH_BALANCE$/m);
    expect(jsonOf(training)).toMatchObject({
      trainingId: '4203',
      status: 'OPEN',
    });
  });

  it('--version prints the version from package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const [long, short] = await Promise.all([
      cli(['--version'], { withApiUrl: false }),
      cli(['-V'], { withApiUrl: false }),
    ]);
    expect(long.code).toBe(0);
    expect(long.stdout).toBe(`${version}\n`);
    expect(long.stderr).toBe('');
    expect(short.stdout).toBe(`${version}\n`);
  });

  it('--help of every command shows examples and the exit codes', async () => {
    const commands = [[], ['open'], ['status'], ['pool']];
    const runs = await Promise.all(
      commands.map((command) => cli([...command, '--help'], { withApiUrl: false })),
    );
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Examples:');
      expect(run.stdout).toMatch(/^ {2}\$ (TOLOKA_TOKEN=\.\.\. )?toloka-pool /m);
    }
    expect(runs[1]?.stdout).toContain('Exit codes:');
    expect(runs[1]?.stdout).toContain('--timeout <seconds>');
  });
});

/**
 * `open --wait` while Toloka blips: each test has an emulator of its own, because its faults
 * match every `GET /operations/…`, whoever sends it.
 */
describe.concurrent('toloka-pool open --wait while Toloka or the network fails for a while', SLOW, () => {
  async function withEmulator(test: (emulator: TolokaEmulator, origin: string) => Promise<void>) {
    const own = new TolokaEmulator({ tokens: [TOKEN] });
    const ownOrigin = await own.start();
    try {
      await test(own, ownOrigin);
    } finally {
      await own.stop();
    }
  }
  const OPERATION_CHECKS = /^\/operations\//;

  it('keeps waiting through 429s and 503s that outlast the retries of a check, and exits 0 with OPENED', async () => {
    await withEmulator(async (own, ownOrigin) => {
      own.setPool('4301', { openDurationMs: 3_000 });
      // More failures in a row than the fast path's and one queued check's retries (4 each).
      own.injectFault({ kind: 'status', status: 429, method: 'GET', path: OPERATION_CHECKS, times: 5 });
      own.injectFault({ kind: 'status', status: 503, method: 'GET', path: OPERATION_CHECKS, times: 5 });
      const run = await cli(['open', '4301', '--wait', '--json'], { apiUrl: ownOrigin });
      expect(run.code).toBe(0);
      expect(jsonOf(run)).toMatchObject({ outcome: 'OPENED', poolId: '4301' });
      expect(run.stderr).toMatch(
        /^pool 4301: checking the opening failed: Toloka asked to slow down \(429 Too Many Requests\); trying again /m,
      );
      expect(run.stderr).toMatch(
        /^pool 4301: Toloka is unavailable for now \(Toloka answered 503 Service Unavailable\); still waiting, checking again (now|in \d+\.\d s) \(the --timeout ends the wait in \d+ s\)$/m,
      );
      expectUsersWords(run.stderr);
      expect(own.countRequests('GET', OPERATION_CHECKS)).toBeGreaterThan(10);
      expect(own.getPoolState('4301')?.status).toBe('OPEN');
    });
  });

  it('keeps waiting when connections drop in the middle of the wait, and exits 0 with OPENED', async () => {
    await withEmulator(async (own, ownOrigin) => {
      own.setPool('4302', { openDurationMs: 5_000 });
      let dropped = false;
      const run = await cli(['open', '4302', '--wait', '--json'], {
        apiUrl: ownOrigin,
        onStderr: (stderr) => {
          if (dropped || !/^pool 4302: RUNNING/m.test(stderr)) return;
          dropped = true;
          own.injectFault({ kind: 'reset', method: 'GET', path: OPERATION_CHECKS, times: 10 });
        },
      });
      expect(dropped).toBe(true);
      expect(run.code).toBe(0);
      expect(jsonOf(run)).toMatchObject({ outcome: 'OPENED', poolId: '4302' });
      expect(run.stderr).toContain(
        'Toloka is unavailable for now (the connection to Toloka was closed before it answered); still waiting',
      );
      expectUsersWords(run.stderr);
      expect(own.requests.filter((request) => request.status === 0)).toHaveLength(10);
    });
  });

  it('ends the wait at --timeout when Toloka stays unavailable: exit 7, saying how to follow the opening', async () => {
    await withEmulator(async (own, ownOrigin) => {
      own.setPool('4303', { openDurationMs: 600_000 });
      own.injectFault({
        kind: 'status',
        status: 503,
        method: 'GET',
        path: OPERATION_CHECKS,
        times: Number.POSITIVE_INFINITY,
      });
      const startedAt = Date.now();
      const run = await cli(['open', '4303', '--wait', '--timeout', '6', '--json'], { apiUrl: ownOrigin });
      const tookMs = Date.now() - startedAt;
      expect(run.code).toBe(7);
      expect(jsonOf(run)).toMatchObject({ error: { code: 'RETRIES_EXHAUSTED' } });
      expect(run.stderr).toContain(
        'toloka-pool: pool 4303: the 6 s --timeout came while Toloka was unavailable: Toloka answered 503 Service Unavailable',
      );
      expect(run.stderr).toMatch(/follow it with toloka-pool status [0-9a-f-]{36} once Toloka answers again/);
      expectUsersWords(run.stderr);
      // It waited for the timeout, checking past the retries of one check (the fast path's and a
      // queued check's: 4 requests each), and not much longer.
      expect(run.stderr).toContain(
        'pool 4303: Toloka is unavailable for now (Toloka answered 503 Service Unavailable); still waiting',
      );
      expect(tookMs).toBeGreaterThanOrEqual(6_000);
      expect(tookMs).toBeLessThan(20_000);
      expect(own.countRequests('GET', OPERATION_CHECKS)).toBeGreaterThan(8);
    });
  });

  it('ends the wait at once on a permanent error: exit 5, one check', async () => {
    await withEmulator(async (own, ownOrigin) => {
      own.setPool('4304', { openDurationMs: 60_000 });
      own.injectFault({ kind: 'status', status: 404, method: 'GET', path: OPERATION_CHECKS });
      const run = await cli(['open', '4304', '--wait', '--json'], { apiUrl: ownOrigin });
      expect(run.code).toBe(5);
      expect(jsonOf(run)).toMatchObject({ outcome: 'FAILED', code: 'DOES_NOT_EXIST', httpStatus: 404 });
      expect(own.countRequests('GET', OPERATION_CHECKS)).toBe(1);
    });
  });
});
