/**
 * Toloka's own Python SDK, toloka-kit 1.2.3, as a client of the emulator: whatever toloka-kit cannot
 * parse, or parses into something other than what the emulator meant, is an emulator bug.
 *
 * Each scenario is one run of test/peers/toloka_kit_peer.py, which prints one JSON line. Importing
 * toloka-kit costs ~2.5 s of CPU per run, so each suite's beforeAll launches all its runs, a few at a time,
 * on pools of their own; each test awaits its run and asserts. The read-only scenarios read several IDs
 * per run, and two tests may share a run.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { realClockEnv } from '../support/real-clock.ts';

const execFileAsync = promisify(execFile);
const PEER = fileURLToPath(new URL('./toloka_kit_peer.py', import.meta.url));
const TOKEN = 'toloka-kit-peer-token';
// toloka-kit sends a token with two dots, the first at index 22–24, as "ApiKey"; anything else as "OAuth".
const API_KEY = `${'k'.repeat(22)}.peer.key`;
// A test may wait for the runs queued before its own; generous, as other test files share the CPU.
const SUITE_TIMEOUT_MS = 120_000;
const PEER_TIMEOUT_MS = 100_000;
// Enough for the runs that mostly sleep on operations to overlap the imports of others.
const MAX_CONCURRENT_PEERS = 6;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface PeerDate {
  iso: string;
  utc_offset_s: number | null;
}

interface PeerOperation {
  class: string;
  id: string;
  type: string;
  status: string;
  status_class: string;
  progress: number;
  submitted: PeerDate;
  started: PeerDate | null;
  finished: PeerDate | null;
  parameters: Record<string, string>;
  parameters_class: string;
  details: unknown;
  is_completed: boolean;
  unexpected_fields: string[];
}

interface PeerResource {
  class: string;
  id: string;
  status: string;
  status_class: string;
  is_open: boolean;
  is_closed: boolean;
  created: PeerDate;
  last_started: PeerDate | null;
  last_stopped: PeerDate | null;
  last_close_reason?: string | null;
  last_close_reason_class?: string | null;
  unexpected_fields: string[];
}

interface PeerApiError {
  class: string;
  status_code: number;
  code: string;
  message: string;
  payload: unknown;
  request_id: string;
}

interface PeerLogItem {
  class: string;
  type: string;
  success: boolean;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
  unexpected_fields: string[];
}

/** One operation as toloka-kit parsed it while polling (get_operation, wait_operation's loop included). */
interface Poll {
  id: string;
  class: string;
  type: string;
  status: string;
  progress: number;
  parameters: Record<string, string> | null;
}

interface PeerResult {
  scenario: string;
  ok: boolean;
  pool?: PeerResource;
  pools?: PeerResource[];
  training?: PeerResource;
  operation?: PeerOperation | null;
  operations?: PeerOperation[];
  submitted?: PeerOperation | null;
  async_returned_none?: boolean;
  polls?: Poll[];
  error?: PeerApiError;
  errors?: PeerApiError[];
  error_class?: string;
  logs?: PeerLogItem[][];
}

interface PeerOptions {
  token?: string;
  pools?: string[];
  training?: string;
  operations?: string[];
  httpTimeoutS?: number;
}

/** Runs one scenario; the token goes in the environment, never on the command line. */
async function peer(scenario: string, origin: string, options: PeerOptions = {}): Promise<PeerResult> {
  const token = options.token ?? TOKEN;
  const args = [PEER, scenario, '--url', origin];
  for (const id of options.pools ?? []) args.push('--pool-id', id);
  if (options.training !== undefined) args.push('--training-id', options.training);
  for (const id of options.operations ?? []) args.push('--operation-id', id);
  if (options.httpTimeoutS !== undefined) args.push('--http-timeout', String(options.httpTimeoutS));
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(inject('peerPython'), args, {
      env: { ...realClockEnv(), TOLOKA_TOKEN: token },
      timeout: PEER_TIMEOUT_MS,
    }));
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    throw new Error(
      `toloka_kit_peer.py ${scenario} exited with ${String(failed.code)}:\n${failed.stdout ?? ''}\n${(failed.stderr ?? '').slice(-2000)}`,
    );
  }
  if (stdout.includes(token)) throw new Error(`toloka_kit_peer.py ${scenario} printed the token`);
  const lines = stdout.trim().split('\n');
  const result = JSON.parse(lines[lines.length - 1] ?? '') as PeerResult;
  if (lines.length !== 1 || !result.ok) throw new Error(`unexpected output of ${scenario}:\n${stdout}`);
  return result;
}

let runningPeers = 0;
const queuedPeers: Array<() => void> = [];

async function withPeerSlot<T>(work: () => Promise<T>): Promise<T> {
  if (runningPeers < MAX_CONCURRENT_PEERS) runningPeers += 1;
  else await new Promise<void>((resolve) => queuedPeers.push(resolve));
  try {
    return await work();
  } finally {
    // Hands the slot straight to the next queued run, if any.
    const next = queuedPeers.shift();
    if (next) next();
    else runningPeers -= 1;
  }
}

/**
 * Queues a scenario now, for a test to await later. Started from beforeAll, the runs are not bound by
 * Vitest's five concurrent tests, and the ones asleep on an operation do not hold up the others.
 */
function launch(scenario: string, origin: string, options: PeerOptions = {}): Promise<PeerResult> {
  const run = withPeerSlot(() => peer(scenario, origin, options));
  // Marks the rejection as handled until the test that awaits it reports it.
  run.catch(() => undefined);
  return run;
}

function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`toloka-kit gave no ${what}`);
  return value;
}

/** The instant toloka-kit parsed, in epoch ms. */
function instant(date: PeerDate | null): number {
  return Date.parse(present(date, 'datetime').iso);
}

/** The instant the emulator meant: its dates are UTC without a zone suffix. */
function tolokaInstant(date: string | undefined): number {
  return Date.parse(`${present(date, 'emulator date')}Z`);
}

function statusesOf(polls: Poll[] | undefined): string[] {
  return present(polls, 'polls').map((poll) => poll.status);
}

describe.concurrent('toloka-kit against the emulator in real time', { timeout: SUITE_TIMEOUT_MS }, () => {
  const emulator = new TolokaEmulator({
    tokens: [TOKEN],
    autoCreatePools: false,
    pools: {
      '101': { openDurationMs: 2000 },
      '102': { openDurationMs: 3000 },
      '103': { openDurationMs: 1500, result: 'FAIL' },
      '104': { status: 'OPEN' },
      '105': { openDurationMs: 0 },
      '106': { status: 'OPEN' },
      '107': {},
      '108': { openDurationMs: 4000 },
    },
    trainings: { '7': { openDurationMs: 1500 } },
  });
  let origin = '';
  // The same pool 108 where a second open answers the running operation (the emulator's switch).
  const sameOperation = new TolokaEmulator({
    tokens: [TOKEN],
    pools: { '108': { openDurationMs: 4000 } },
    switches: { secondOpen: 'same-operation' },
  });
  let sameOperationOrigin = '';

  let runs: ReturnType<typeof launchAll>;
  function launchAll() {
    // The emulator opens at once but answers after 1.5 s; toloka-kit gives up after 0.7 s and POSTs again.
    for (const target of [emulator, sameOperation]) {
      target.injectFault({ kind: 'delay', delayMs: 1500, method: 'POST', path: '/pools/108/open' });
    }
    return {
      // The runs that sleep longest on operations go first.
      timedOutOpen: launch('open_pool', sameOperationOrigin, { pools: ['108'], httpTimeoutS: 0.7 }),
      lockedRetry: launch('open_pool', origin, { pools: ['108'], httpTimeoutS: 0.7 }),
      openTraining: launch('open_training', origin, { training: '7' }),
      openPool: launch('open_pool', origin, { pools: ['101'] }),
      waitOperation: launch('wait_operation', origin, { pools: ['102'] }),
      openFailing: launch('open_failing', origin, { pools: ['103'] }),
      openOpenPool: launch('open_open_pool', origin, { pools: ['104'] }),
      openAtOnce: launch('open_pool', origin, { pools: ['105'] }),
      closePool: launch('close_pool', origin, { pools: ['106'] }),
      unauthorized: launch('unauthorized', origin, {
        pools: ['107'],
        token: 'not-a-token-the-emulator-knows',
      }),
    };
  }

  beforeAll(async () => {
    origin = await emulator.start();
    sameOperationOrigin = await sameOperation.start();
    runs = launchAll();
  });

  afterAll(async () => {
    await Promise.allSettled(Object.values(runs ?? {}));
    await emulator.stop();
    await sameOperation.stop();
  }, SUITE_TIMEOUT_MS);

  it('lets toloka-kit open_pool wait until the emulator reports SUCCESS', async ({ expect }) => {
    const { pool, polls } = await runs.openPool;

    const opened = present(pool, 'pool');
    expect(opened).toMatchObject({ class: 'Pool', id: '101', status: 'OPEN', is_open: true });
    expect(opened.unexpected_fields).toEqual([]);
    expect(instant(opened.last_started)).toBe(emulator.getPoolState('101')?.lastStartedAt);
    // toloka-kit's waiting is visible on both sides: every poll it parsed is a GET the emulator answered.
    const statuses = statusesOf(polls);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses.at(-1)).toBe('SUCCESS');
    const operationId = present(polls?.[0], 'poll').id;
    expect(emulator.countRequests('GET', `/operations/${operationId}`)).toBe(statuses.length);
    expect(emulator.countRequests('POST', '/pools/101/open')).toBe(1);
  });

  it('lets wait_operation follow the operation through RUNNING to SUCCESS with progress 100 and a finished date', async ({
    expect,
  }) => {
    const { submitted, operation, polls } = await runs.waitOperation;

    expect(present(submitted, 'submitted operation')).toMatchObject({
      class: 'PoolOpenOperation',
      type: 'POOL.OPEN',
      status: 'PENDING',
      progress: 0,
      started: null,
      finished: null,
      parameters: { pool_id: '102' },
      is_completed: false,
      unexpected_fields: [],
    });
    const done = present(operation, 'operation');
    expect(done).toMatchObject({
      status: 'SUCCESS',
      progress: 100,
      is_completed: true,
      unexpected_fields: [],
    });
    expect(done.finished?.utc_offset_s).toBe(0);
    const emulated = present(emulator.getOperation(done.id), 'emulated operation');
    expect(instant(done.submitted)).toBe(tolokaInstant(emulated.submitted));
    expect(instant(done.started)).toBe(tolokaInstant(emulated.started));
    expect(instant(done.finished)).toBe(tolokaInstant(emulated.finished));
    // 3 s of operation against a poll every second: toloka-kit parses RUNNING, with progress that only rises.
    const seen = present(polls, 'polls');
    expect(seen.map((poll) => poll.status)).toContain('RUNNING');
    const progress = seen.map((poll) => poll.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('raises FailedOperation from open_pool when the emulated open ends FAIL, and the pool stays closed', async ({
    expect,
  }) => {
    const { error_class, operation, polls } = await runs.openFailing;

    expect(error_class).toBe('FailedOperation');
    const failed = present(operation, 'operation');
    expect(failed).toMatchObject({
      class: 'PoolOpenOperation',
      status: 'FAIL',
      progress: 100,
      is_completed: true,
    });
    expect(instant(failed.finished)).toBe(tolokaInstant(emulator.getOperation(failed.id)?.finished));
    expect(statusesOf(polls).at(-1)).toBe('FAIL');
    expect(emulator.getPoolState('103')?.status).toBe('CLOSED');
  });

  it('gets None from open_pool_async and the pool from open_pool, without polling, when the emulator answers 204', async ({
    expect,
  }) => {
    const result = await runs.openOpenPool;

    expect(result.async_returned_none).toBe(true);
    expect(result.pool).toMatchObject({ id: '104', status: 'OPEN', is_open: true });
    expect(result.polls).toEqual([]);
    expect(
      emulator.requests.filter((entry) => entry.path === '/pools/104/open').map((entry) => entry.status),
    ).toEqual([204, 204]);
  });

  it('skips polling when the 202 body already reports SUCCESS', async ({ expect }) => {
    const { pool, polls } = await runs.openAtOnce;

    expect(pool).toMatchObject({ id: '105', status: 'OPEN' });
    expect(polls).toEqual([]);
    expect(
      emulator.requests.filter((entry) => entry.path.startsWith('/pools/105')).map((entry) => entry.method),
    ).toEqual(['POST', 'GET']);
  });

  it('lets toloka-kit open_training wait on a TRAINING.OPEN operation, then get None on the 204 of a second open', async ({
    expect,
  }) => {
    const { training, polls, async_returned_none } = await runs.openTraining;

    expect(training).toMatchObject({
      class: 'Training',
      id: '7',
      status: 'OPEN',
      status_class: 'Status',
      is_open: true,
      unexpected_fields: [],
    });
    const seen = present(polls, 'polls');
    expect(seen.length).toBeGreaterThanOrEqual(1);
    for (const poll of seen) {
      expect(poll).toMatchObject({
        class: 'TrainingOpenOperation',
        type: 'TRAINING.OPEN',
        parameters: { training_id: '7' },
      });
    }
    expect(seen.at(-1)).toMatchObject({ status: 'SUCCESS', progress: 100 });
    expect(async_returned_none).toBe(true);
    expect(
      emulator.requests.filter((entry) => entry.path === '/trainings/7/open').map((entry) => entry.status),
    ).toEqual([202, 204]);
  });

  it('closes a pool with close_pool and parses last_close_reason MANUAL and last_stopped', async ({
    expect,
  }) => {
    const { pool, polls } = await runs.closePool;

    const closed = present(pool, 'pool');
    expect(closed).toMatchObject({
      status: 'CLOSED',
      is_closed: true,
      last_close_reason: 'MANUAL',
      last_close_reason_class: 'CloseReason',
    });
    expect(instant(closed.last_stopped)).toBe(emulator.getPoolState('106')?.lastStoppedAt);
    expect(statusesOf(polls).at(-1)).toBe('SUCCESS');
  });

  it('raises AuthenticationApiError for a token the emulator does not accept, without retrying', async ({
    expect,
  }) => {
    const { error } = await runs.unauthorized;

    expect(error).toMatchObject({
      class: 'AuthenticationApiError',
      status_code: 401,
      code: 'AUTHENTICATION_ERROR',
    });
    expect(emulator.requests.filter((entry) => entry.path === '/pools/107')).toEqual([
      expect.objectContaining({ method: 'GET', status: 401, authScheme: 'OAuth' }),
    ]);
  });

  it('fails with POOL_LOCKED_BY_ANOTHER_OPERATION when toloka-kit retries an open that reached Toloka (the default)', async ({
    expect,
  }) => {
    // What toloka-api.md assumes Toloka does: the retried POST meets the operation its first
    // attempt started, and toloka-kit raises on the 409, although the pool opens fine.
    await expect(runs.lockedRetry).rejects.toThrow(
      /IncorrectActionsApiError.*"code": "POOL_LOCKED_BY_ANOTHER_OPERATION"/s,
    );
    const statuses = emulator.requests
      .filter((entry) => entry.path === '/pools/108/open')
      .map((entry) => entry.status);
    expect(statuses).toContain(409);
  });

  it('converges on one operation when toloka-kit retries an open that timed out on its side (same-operation switch)', async ({
    expect,
  }) => {
    const { pool, polls } = await runs.timedOutOpen;

    expect(pool).toMatchObject({ status: 'OPEN' });
    // Logged in the order answered, so sorted by arrival. A starved machine may add a timed-out retry.
    const posts = sameOperation.requests
      .filter((entry) => entry.path === '/pools/108/open')
      .sort((left, right) => left.at - right.at);
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts.every((entry) => entry.status === 202)).toBe(true);
    const ids = new Set(present(polls, 'polls').map((poll) => poll.id));
    expect(ids.size).toBe(1);
    // The operation toloka-kit followed is the one the first, timed-out POST created.
    const [operationId] = [...ids];
    const submittedAt = tolokaInstant(
      sameOperation.getOperation(present(operationId, 'operation ID'))?.submitted,
    );
    const [first, retry] = posts;
    expect(submittedAt - present(first, 'first POST').at).toBeLessThan(50);
    expect(present(retry, 'retried POST').at - submittedAt).toBeGreaterThanOrEqual(600);
  });
});

describe.concurrent('toloka-kit reading what the emulator reports at a fixed moment', {
  timeout: SUITE_TIMEOUT_MS,
}, () => {
  const START = Date.UTC(2026, 10, 28, 21, 40, 0, 123);
  let clock = START;
  const emulator = new TolokaEmulator({
    tokens: [TOKEN, API_KEY],
    now: () => clock,
    autoCreatePools: false,
    pools: {
      '201': { openDurationMs: 10_000, pendingMs: 5000 },
      '202': { openDurationMs: 10_000, pendingMs: 1000 },
      '203': { openDurationMs: 1000, pendingMs: 250 },
      '204': { openDurationMs: 1000, pendingMs: 250, result: 'FAIL' },
      '205': { lastCloseReason: 'NOT_ENOUGH_BALANCE' },
      '206': {
        refuse: {
          code: 'NOT_ENOUGH_BALANCE',
          message: 'Not enough money on the account',
          payload: { balance: 0, required: 12.5 },
        },
      },
      '207': { refuse: { code: 'CONFLICT_STATE' } },
      '208': { status: 'ARCHIVED' },
      '209': { status: 'OPEN' },
    },
  });
  let origin = '';
  const operationIds: Record<string, string> = {};
  let runs: Record<'operations' | 'logs' | 'pools' | 'refused', Promise<PeerResult>>;

  beforeAll(async () => {
    origin = await emulator.start();
    for (const id of ['201', '202', '203', '204']) {
      const response = await fetch(`${origin}/api/v1/pools/${id}/open`, {
        method: 'POST',
        headers: { authorization: `OAuth ${TOKEN}` },
      });
      operationIds[id] = ((await response.json()) as { id: string }).id;
    }
    // A close takes the emulator 100 ms: at START + 2500 the one on 209 still runs.
    clock = START + 2450;
    await fetch(`${origin}/api/v1/pools/209/close`, {
      method: 'POST',
      headers: { authorization: `OAuth ${TOKEN}` },
    });
    // 2.5 s after the opens: 201 still PENDING, 202 RUNNING, 203 SUCCESS, 204 FAIL.
    clock = START + 2500;
    const ids = (poolIds: string[]) => poolIds.map(operationId);
    runs = {
      operations: launch('get_operation', origin, { operations: ids(['201', '202', '203', '204']) }),
      logs: launch('get_operation_log', origin, { operations: ids(['202', '203', '204']) }),
      pools: launch('get_pool', origin, { pools: ['205', '203', '204'], token: API_KEY }),
      refused: launch('open_refused', origin, { pools: ['206', '207', '208', '209'] }),
    };
  });

  afterAll(async () => {
    await Promise.allSettled(Object.values(runs ?? {}));
    await emulator.stop();
  }, SUITE_TIMEOUT_MS);

  function operationId(poolId: string): string {
    return present(operationIds[poolId], `operation of pool ${poolId}`);
  }

  it('parses PENDING, RUNNING, SUCCESS and FAIL operations with their dates as UTC', async ({ expect }) => {
    const { operations } = await runs.operations;

    const [pending, running, succeeded, failed] = present(operations, 'operations');
    for (const operation of present(operations, 'operations')) {
      expect(operation).toMatchObject({
        class: 'PoolOpenOperation',
        type: 'POOL.OPEN',
        status_class: 'Status',
        parameters_class: 'Parameters',
        unexpected_fields: [],
      });
      expect(operation.submitted.utc_offset_s).toBe(0);
      expect(instant(operation.submitted)).toBe(START);
    }
    expect(pending).toMatchObject({
      status: 'PENDING',
      progress: 0,
      started: null,
      finished: null,
      is_completed: false,
    });
    expect(running).toMatchObject({ status: 'RUNNING', progress: 16, finished: null, is_completed: false });
    expect(instant(present(running, 'running').started)).toBe(START + 1000);
    expect(succeeded).toMatchObject({
      status: 'SUCCESS',
      progress: 100,
      is_completed: true,
      parameters: { pool_id: '203' },
    });
    expect(instant(present(succeeded, 'succeeded').started)).toBe(START + 250);
    expect(instant(present(succeeded, 'succeeded').finished)).toBe(START + 1000);
    expect(failed).toMatchObject({ status: 'FAIL', progress: 100, is_completed: true });
    expect(instant(present(failed, 'failed').finished)).toBe(START + 1000);
  });

  it('parses the operation log: empty while running, one item once it succeeded or failed', async ({
    expect,
  }) => {
    const { logs } = await runs.logs;

    const [running, succeeded, failed] = present(logs, 'logs');
    expect(running).toEqual([]);
    expect(succeeded).toEqual([
      expect.objectContaining({
        class: 'OperationLogItem',
        success: true,
        input: { pool_id: '203' },
        unexpected_fields: [],
      }),
    ]);
    expect(failed).toEqual([
      expect.objectContaining({
        class: 'OperationLogItem',
        success: false,
        input: { pool_id: '204' },
        output: expect.objectContaining({ code: expect.any(String) }),
        unexpected_fields: [],
      }),
    ]);
  });

  it("parses a closed pool's last_close_reason and an opened pool's status and last_started", async ({
    expect,
  }) => {
    const { pools } = await runs.pools;

    const [closed, opened, notOpened] = present(pools, 'pools');
    expect(closed).toMatchObject({
      class: 'Pool',
      status: 'CLOSED',
      status_class: 'Status',
      is_closed: true,
      last_close_reason: 'NOT_ENOUGH_BALANCE',
      last_close_reason_class: 'CloseReason',
      last_started: null,
      unexpected_fields: [],
    });
    expect(instant(present(closed, 'closed pool').created)).toBe(START);
    expect(opened).toMatchObject({
      status: 'OPEN',
      is_open: true,
      last_close_reason: null,
      unexpected_fields: [],
    });
    expect(instant(present(opened, 'opened pool').last_started)).toBe(START + 1000);
    expect(notOpened).toMatchObject({ status: 'CLOSED', last_started: null });
  });

  it('raises the error class toloka-kit maps each emulated 409 code to, with the code, message and payload', async ({
    expect,
  }) => {
    const { errors } = await runs.refused;

    const [balance, conflict, archived, locked] = present(errors, 'errors');
    expect(balance).toMatchObject({
      class: 'IncorrectActionsApiError',
      status_code: 409,
      code: 'NOT_ENOUGH_BALANCE',
      message: 'Not enough money on the account',
      payload: { balance: 0, required: 12.5 },
    });
    expect(balance?.request_id).toMatch(UUID);
    expect(conflict).toMatchObject({
      class: 'ConflictStateApiError',
      status_code: 409,
      code: 'CONFLICT_STATE',
    });
    expect(archived).toMatchObject({
      class: 'IncorrectActionsApiError',
      status_code: 409,
      code: 'INAPPROPRIATE_STATUS',
      payload: { appropriate_statuses: ['CLOSED'], current_status: 'ARCHIVED' },
    });
    const closing = present(emulator.getPoolState('209')?.activeOperationId, 'close operation');
    expect(locked).toMatchObject({
      class: 'IncorrectActionsApiError',
      status_code: 409,
      code: 'POOL_LOCKED_BY_ANOTHER_OPERATION',
      payload: null,
    });
    expect(closing).toEqual(expect.any(String));
    // A 409 is terminal: toloka-kit does not retry it.
    for (const id of ['206', '207', '208', '209'])
      expect(emulator.countRequests('POST', `/pools/${id}/open`)).toBe(1);
  });

  it('sends an API-key-shaped token with the ApiKey scheme, which the emulator accepts', async ({
    expect,
  }) => {
    const { pools } = await runs.pools;

    expect(pools?.map((pool) => pool.id)).toEqual(['205', '203', '204']);
    const reads = emulator.requests.filter(
      (entry) => entry.method === 'GET' && entry.path.startsWith('/pools/'),
    );
    expect(reads.map((entry) => [entry.path, entry.status, entry.authScheme])).toEqual([
      ['/pools/205', 200, 'ApiKey'],
      ['/pools/203', 200, 'ApiKey'],
      ['/pools/204', 200, 'ApiKey'],
    ]);
  });
});

describe.concurrent('toloka-kit retrying what the emulator fails', { timeout: SUITE_TIMEOUT_MS }, () => {
  const emulator = new TolokaEmulator({ tokens: [TOKEN], pools: { '301': { openDurationMs: 1500 } } });
  let origin = '';
  let run: Promise<PeerResult>;

  beforeAll(async () => {
    origin = await emulator.start();
    emulator.injectFault({
      kind: 'status',
      status: 503,
      body: null,
      method: 'POST',
      path: '/pools/301/open',
    });
    emulator.injectFault({ kind: 'status', status: 500, method: 'GET', path: /^\/operations\// });
    emulator.injectFault({ kind: 'reset', method: 'GET', path: '/pools/301' });
    run = launch('open_pool', origin, { pools: ['301'] });
  });

  afterAll(async () => {
    await Promise.allSettled([run]);
    await emulator.stop();
  }, SUITE_TIMEOUT_MS);

  it('retries a 503 with an empty body, a 500 while polling and a dropped connection, then opens the pool', async ({
    expect,
  }) => {
    const { pool } = await run;

    expect(pool).toMatchObject({ status: 'OPEN' });
    const answered = (method: string, path: string | RegExp) =>
      emulator.requests
        .filter(
          (entry) =>
            entry.method === method &&
            (typeof path === 'string' ? entry.path === path : path.test(entry.path)),
        )
        .map((entry) => entry.status);
    expect(answered('POST', '/pools/301/open')).toEqual([503, 202]);
    expect(answered('GET', /^\/operations\//).slice(0, 2)).toEqual([500, 200]);
    expect(answered('GET', /^\/operations\//).at(-1)).toBe(200);
    // 0: the connection was dropped without an answer.
    expect(answered('GET', '/pools/301')).toEqual([0, 200]);
  });
});
