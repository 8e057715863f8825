import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseSince } from '../../cli/settings.ts';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import type { OutcomeRecord, TolokaTarget } from '../../lambda/runtime/model.ts';
import { freePort, type Run, runNode } from '../support/child-run.ts';
import { seedFollowing } from '../support/ledger-seed.ts';
import { createOpeningsTable, useMoto } from '../support/moto.ts';

const _ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let moto: ReturnType<typeof useMoto>;
let table = '';
const run = Math.random().toString(36).slice(2, 8);
const trigger = (name: string) => `${name}-${run}`;

/** What was seeded, by name: the opening IDs and when each was requested. */
const seeded: Record<string, { openingId: string; requestedAtMs: number }> = {};

/**
 * One opening through the ledger as the Lambdas drive it: claimed `agoMs` before now by each of
 * `triggers` (the later ones join), following `operationId` after `checks` checks, decided after
 * `tookMs` with `outcome` and reported, unless `outcome` is undefined (still in flight).
 */
async function seed(
  ledger: DynamoDbOpeningsLedger,
  name: string,
  spec: {
    target: TolokaTarget;
    agoMs: number;
    triggers: string[];
    operationId?: string;
    checks?: number;
    tookMs?: number;
    outcome?: Omit<OutcomeRecord, 'requestedAt' | 'elapsedMs' | 'openingId' | 'triggers'>;
  },
): Promise<void> {
  const requestedAtMs = Date.now() - spec.agoMs;
  let openingId = '';
  for (const [index, triggerId] of spec.triggers.entries()) {
    const claim = await ledger.claim({
      triggerId,
      target: spec.target,
      nowMs: requestedAtMs + index * 1_000,
      deadlineMs: requestedAtMs + HOUR,
      leaseMs: 60_000,
    });
    expect(claim.kind).toBe(index === 0 ? 'started' : 'joined');
    openingId = claim.opening.openingId;
  }
  if (spec.operationId !== undefined) {
    await seedFollowing(ledger, openingId, spec.operationId, crypto.randomUUID(), spec.checks ?? 0);
  }
  if (spec.outcome !== undefined) {
    const tookMs = spec.tookMs ?? 5_000;
    const decidedAtMs = requestedAtMs + tookMs;
    const record: OutcomeRecord = {
      ...spec.outcome,
      requestedAt: new Date(requestedAtMs).toISOString(),
      elapsedMs: tookMs,
      openingId,
      triggers: spec.triggers,
    };
    expect(await ledger.decide(openingId, record, decidedAtMs, 30_000)).toBeDefined();
    await ledger.markReported(openingId, decidedAtMs + 200);
  }
  seeded[name] = { openingId, requestedAtMs };
}

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  table = await createOpeningsTable('cli-openings');
  const ledger = new DynamoDbOpeningsLedger(table);
  // Oldest first, as they happened: pool 5101 opened twice, the first time three days ago.
  await seed(ledger, 'old5101', {
    target: { kind: 'pool', id: '5101' },
    agoMs: 3 * DAY,
    triggers: [trigger('old')],
    operationId: `op-old-${run}`,
    checks: 2,
    tookMs: 4_000,
    outcome: { outcome: 'OPENED', poolId: '5101', operationId: `op-old-${run}`, checks: 2 },
  });
  await seed(ledger, 'timedOut5104', {
    target: { kind: 'pool', id: '5104' },
    agoMs: 20 * HOUR,
    triggers: [trigger('slow')],
    operationId: `op-slow-${run}`,
    checks: 14,
    tookMs: HOUR,
    outcome: {
      outcome: 'TIMED_OUT',
      poolId: '5104',
      operationId: `op-slow-${run}`,
      code: 'DEADLINE_EXCEEDED',
      status: 'RUNNING',
      progress: 40,
      checks: 14,
    },
  });
  await seed(ledger, 'failed5201', {
    target: { kind: 'training', id: '5201' },
    agoMs: 5 * HOUR,
    triggers: [trigger('broke')],
    tookMs: 800,
    outcome: {
      outcome: 'FAILED',
      trainingId: '5201',
      code: 'NOT_ENOUGH_BALANCE',
      message: 'Top up your account',
      httpStatus: 409,
      request_id: `req-${run}`,
    },
  });
  await seed(ledger, 'opened5101', {
    target: { kind: 'pool', id: '5101' },
    agoMs: 2 * HOUR,
    triggers: [trigger('first'), trigger('second')],
    operationId: `op-opened-${run}`,
    checks: 3,
    tookMs: 90_000,
    outcome: { outcome: 'OPENED', poolId: '5101', operationId: `op-opened-${run}`, checks: 3 },
  });
  await seed(ledger, 'following5102', {
    target: { kind: 'pool', id: '5102' },
    agoMs: 10 * MINUTE,
    triggers: [trigger('following')],
    operationId: `op-following-${run}`,
    checks: 2,
  });
  await seed(ledger, 'starting5103', {
    target: { kind: 'pool', id: '5103' },
    agoMs: MINUTE,
    triggers: [trigger('starting')],
  });
});

afterAll(() => {
  moto.restore();
});

/** The CLI with `args`, the seeded table in OPENINGS_TABLE unless `env` says otherwise. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', OPENINGS_TABLE: table };
  delete fullEnv.TOLOKA_TOKEN;
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete fullEnv[key];
    else fullEnv[key] = value;
  }
  return runNode(['cli/toloka-pool.mjs', ...args], fullEnv);
}

/** The one JSON object `--json` prints on stdout. */
function jsonOf(result: Run): Record<string, unknown> {
  const lines = result.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

function openingsOf(result: Run): Array<Record<string, unknown>> {
  const json = jsonOf(result);
  expect(Object.keys(json)).toEqual(['openings']);
  return json.openings as Array<Record<string, unknown>>;
}

/** The table's rows (without the header), as lists of cells split on two or more spaces. */
function rowsOf(result: Run): string[][] {
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^REQUESTED \(UTC\)\s+POOL\s+OUTCOME\s+OPERATION\s+CHECKS\s+ELAPSED\s+TRIGGERS$/);
  return lines
    .slice(1)
    .filter((line) => !line.startsWith(' '))
    .map((line) => line.split(/ {2,}/));
}

function utc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function requestedOf(name: string): number {
  const opening = seeded[name];
  if (opening === undefined) throw new Error(`${name} was not seeded`);
  return opening.requestedAtMs;
}

// Each run starts a Node process, and CI machines may be busy.
const SLOW = { timeout: 60_000 };

describe.concurrent('toloka-pool openings', SLOW, () => {
  it("lists the last day's openings newest first: pool, outcome, operation, checks, elapsed, triggers", async () => {
    const result = await cli(['openings']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(rowsOf(result)).toEqual([
      [
        utc(requestedOf('starting5103')),
        'pool 5103',
        'IN PROGRESS (STARTING)',
        '-',
        '0',
        expect.stringMatching(/^[12]m \d\ds so far$/),
        '1',
      ],
      [
        utc(requestedOf('following5102')),
        'pool 5102',
        'IN PROGRESS (FOLLOWING)',
        `op-following-${run}`,
        '2',
        expect.stringMatching(/^1[01]m \d\ds so far$/),
        '1',
      ],
      [utc(requestedOf('opened5101')), 'pool 5101', 'OPENED', `op-opened-${run}`, '3', '1m 30s', '2'],
      [utc(requestedOf('failed5201')), 'training 5201', 'FAILED NOT_ENOUGH_BALANCE', '-', '0', '0.8 s', '1'],
      [utc(requestedOf('timedOut5104')), 'pool 5104', 'TIMED_OUT', `op-slow-${run}`, '14', '1h 00m', '1'],
    ]);
    // Three days old: outside the default --since 1d.
    expect(result.stdout).not.toContain(`op-old-${run}`);
  });

  it('--since widens or narrows the window by when the openings were requested', async () => {
    const [week, halfHour] = await Promise.all([
      cli(['openings', '--since', '7d']),
      cli(['openings', '--since', '30m']),
    ]);
    expect(week.code).toBe(0);
    expect(rowsOf(week).map((row) => row[3])).toEqual([
      '-',
      `op-following-${run}`,
      `op-opened-${run}`,
      '-',
      `op-slow-${run}`,
      `op-old-${run}`,
    ]);
    expect(halfHour.code).toBe(0);
    expect(rowsOf(halfHour).map((row) => row[1])).toEqual(['pool 5103', 'pool 5102']);
  });

  it('--pool and --training keep only the openings of that pool or training', async () => {
    const [pool, training] = await Promise.all([
      cli(['openings', '--pool', '5101', '--since', '7d']),
      cli(['openings', '--training', '5201']),
    ]);
    expect(pool.code).toBe(0);
    expect(rowsOf(pool).map((row) => [row[1], row[2], row[3]])).toEqual([
      ['pool 5101', 'OPENED', `op-opened-${run}`],
      ['pool 5101', 'OPENED', `op-old-${run}`],
    ]);
    expect(training.code).toBe(0);
    expect(rowsOf(training).map((row) => [row[1], row[2]])).toEqual([
      ['training 5201', 'FAILED NOT_ENOUGH_BALANCE'],
    ]);
  });

  it('--json prints one {"openings": [...]} object with every field of each opening', async () => {
    const result = await cli(['openings', '--pool', '5101', '--json']);
    expect(result.code).toBe(0);
    const openings = openingsOf(result);
    expect(openings).toHaveLength(1);
    const requestedAtMs = requestedOf('opened5101');
    expect(openings[0]).toEqual({
      openingId: seeded.opened5101?.openingId,
      target: { kind: 'pool', id: '5101' },
      action: 'open',
      poolId: '5101',
      triggers: [trigger('first'), trigger('second')],
      triggerCount: 2,
      state: 'DECIDED',
      requestedAtMs,
      requestedAt: new Date(requestedAtMs).toISOString(),
      deadlineMs: requestedAtMs + HOUR,
      deadline: new Date(requestedAtMs + HOUR).toISOString(),
      operationId: `op-opened-${run}`,
      checkToken: expect.any(String),
      previousToken: expect.any(String),
      leaseUntilMs: expect.any(Number),
      carriedUntilMs: expect.any(Number),
      checks: 3,
      outcome: {
        outcome: 'OPENED',
        poolId: '5101',
        operationId: `op-opened-${run}`,
        checks: 3,
        requestedAt: new Date(requestedAtMs).toISOString(),
        elapsedMs: 90_000,
        openingId: seeded.opened5101?.openingId,
        triggers: [trigger('first'), trigger('second')],
      },
      decidedAtMs: requestedAtMs + 90_000,
      decidedAt: new Date(requestedAtMs + 90_000).toISOString(),
      reportLeaseUntilMs: requestedAtMs + 120_000,
      reportedAtMs: requestedAtMs + 90_200,
      reportedAt: new Date(requestedAtMs + 90_200).toISOString(),
      elapsedMs: 90_000,
    });
  });

  it('shows openings still in flight as IN PROGRESS with their state, and no outcome in JSON', async () => {
    const [human, json] = await Promise.all([
      cli(['openings', '--since', '30m']),
      cli(['openings', '--since', '30m', '--json']),
    ]);
    expect(human.code).toBe(0);
    expect(rowsOf(human).map((row) => row[2])).toEqual(['IN PROGRESS (STARTING)', 'IN PROGRESS (FOLLOWING)']);
    expect(json.code).toBe(0);
    const [starting, following] = openingsOf(json);
    expect(starting).toMatchObject({ state: 'STARTING', poolId: '5103', checks: 0 });
    expect(starting).not.toHaveProperty('outcome');
    expect(starting).not.toHaveProperty('operationId');
    expect(following).toMatchObject({ state: 'FOLLOWING', operationId: `op-following-${run}`, checks: 2 });
    expect(following).not.toHaveProperty('outcome');
    expect(following).not.toHaveProperty('decidedAt');
    // Elapsed so far: from the request to the listing.
    expect(following?.elapsedMs).toBeGreaterThanOrEqual(10 * MINUTE);
    expect(following?.elapsedMs).toBeLessThan(11 * MINUTE);
    for (const opening of [starting, following]) expect(opening?.requestedAt).toMatch(ISO);
  });

  it('--verbose adds the trigger IDs, the opening ID and what Toloka said under each row', async () => {
    const result = await cli(['openings', '--verbose']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`    triggers:   ${trigger('first')}, ${trigger('second')}\n`);
    expect(result.stdout).toContain(`    opening:    ${seeded.opened5101?.openingId}\n`);
    expect(result.stdout).toContain('    code:       NOT_ENOUGH_BALANCE\n');
    expect(result.stdout).toContain('    message:    Top up your account\n');
    expect(result.stdout).toContain(`    request_id: req-${run}\n`);
    expect(result.stdout).toContain(`    reported:   ${utc(requestedOf('failed5201') + 1_000)} UTC\n`);
    // Without --verbose, only the number of triggers.
    const plain = await cli(['openings']);
    expect(plain.stdout).not.toContain(trigger('first'));
  });

  it('--limit keeps the newest ones and says on stderr that more match', async () => {
    const result = await cli(['openings', '--limit', '2', '--json']);
    expect(result.code).toBe(0);
    expect(openingsOf(result).map((opening) => opening.openingId)).toEqual([
      seeded.starting5103?.openingId,
      seeded.following5102?.openingId,
    ]);
    expect(result.stderr).toContain('showing the newest 2 openings; more match: raise --limit');
  });

  it('exits 0 when nothing matches, saying so (an empty list with --json)', async () => {
    const [human, json] = await Promise.all([
      cli(['openings', '--pool', '5999', '--since', '12h']),
      cli(['openings', '--pool', '5999', '--json']),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(
        `^No openings of pool 5999 requested since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(the last 12h\\) in ${table}\\.\\n$`,
      ),
    );
    expect(json.code).toBe(0);
    expect(jsonOf(json)).toEqual({ openings: [] });
  });

  it('reads the table given by --table over OPENINGS_TABLE', async () => {
    const result = await cli(['openings', '--table', table, '--training', '5201', '--json'], {
      OPENINGS_TABLE: 'some-other-table',
    });
    expect(result.code).toBe(0);
    expect(openingsOf(result).map((opening) => opening.trainingId)).toEqual(['5201']);
  });

  it('exits 2 with one line saying how to give the table when there is none', async () => {
    const [human, json] = await Promise.all([
      cli(['openings'], { OPENINGS_TABLE: undefined }),
      cli(['openings', '--json'], { OPENINGS_TABLE: '' }),
    ]);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toBe(
      'toloka-pool: no openings table: give --table <name> or set OPENINGS_TABLE (the stack output OpeningsTableName)\n',
    );
    expect(json.code).toBe(2);
    expect(jsonOf(json)).toMatchObject({ error: { code: 'TABLE_MISSING', argument: '--table' } });
  });

  it('exits 2 for a bad --since, --limit, --pool or table name, naming the option and the reason', async () => {
    const [unit, zero, bare, limit, pool, both, name] = await Promise.all([
      cli(['openings', '--since', '3x']),
      cli(['openings', '--since', '0d', '--json']),
      cli(['openings', '--since', '12']),
      cli(['openings', '--limit', '0']),
      cli(['openings', '--pool', 'abc']),
      cli(['openings', '--pool', '1', '--training', '2']),
      cli(['openings'], { OPENINGS_TABLE: 'a/b' }),
    ]);
    for (const result of [unit, zero, bare, limit, pool, both, name]) expect(result.code).toBe(2);
    expect(unit.stderr).toContain(
      '--since: must be a whole number and a unit (m minutes, h hours, d days, w weeks), got the string "3x"',
    );
    expect(jsonOf(zero)).toMatchObject({
      error: {
        code: 'BAD_INPUT',
        argument: '--since',
        reason: 'must be longer than nothing, got the string "0d"',
      },
    });
    expect(bare.stderr).toContain('--since: must be a whole number and a unit');
    expect(limit.stderr).toContain('--limit: must be between 1 and 1000, got 0');
    expect(pool.stderr).toContain('--pool: must be a positive whole number in ASCII digits');
    expect(both.stderr).toContain("option '--pool <id>' cannot be used with option '--training <id>'");
    expect(name.stderr).toContain('OPENINGS_TABLE: must be a DynamoDB table name');
  });

  it('exits 5 when the table does not exist, naming it', async () => {
    const result = await cli(['openings', '--table', `missing-${run}`, '--json']);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`cannot read the openings in missing-${run}: no such table`);
    expect(result.stderr).toContain('OpeningsTableName');
    expect(jsonOf(result)).toMatchObject({ error: { code: 'ResourceNotFoundException' } });
  });

  it('exits 3 without AWS credentials or without a region', async () => {
    const noFiles = {
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
    };
    const [credentials, region] = await Promise.all([
      cli(['openings', '--json'], {
        ...noFiles,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
      cli(['openings'], { ...noFiles, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }),
    ]);
    expect(credentials.code).toBe(3);
    expect(credentials.stderr).toContain('no AWS credentials');
    expect(jsonOf(credentials)).toMatchObject({ error: { code: 'CredentialsProviderError' } });
    expect(region.code).toBe(3);
    expect(region.stderr).toContain('no AWS region');
    expect(region.stderr).toContain('AWS_REGION');
  });

  it('exits 7 when DynamoDB cannot be reached', async () => {
    const port = await freePort();
    const result = await cli(['openings', '--json'], { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(7);
    expect(result.stderr).toContain(
      `cannot read the openings in ${table}: the connection to DynamoDB was refused`,
    );
    expect(result.stderr).toContain('try again later');
    expect(jsonOf(result)).toMatchObject({ error: { code: 'LEDGER_UNAVAILABLE', cause: 'ECONNREFUSED' } });
  });
});

describe('--since durations', () => {
  it('reads a whole number of minutes, hours, days or weeks', () => {
    expect(parseSince('30m')).toBe(30 * MINUTE);
    expect(parseSince('12h')).toBe(12 * HOUR);
    expect(parseSince('1d')).toBe(DAY);
    expect(parseSince('7d')).toBe(7 * DAY);
    expect(parseSince('2w')).toBe(14 * DAY);
  });

  it('refuses anything else, naming --since', () => {
    for (const value of ['', 'd', '1', '1.5h', '-1d', '1D', '1 d', '1s', '0m', '366d', '1d2h']) {
      expect(() => parseSince(value), value).toThrow(/^--since: /);
    }
  });
});
