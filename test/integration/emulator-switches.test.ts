import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { parseTolokaDate } from '../../lambda/runtime/model.ts';
import { startEmulatorCli } from '../support/emulator-cli.ts';

// Each switch of the emulator (emulator/switches.ts; emulator/README.md), through real HTTP, and
// GET /operations with the specification's filters. Every answer here is also judged against
// Toloka's specification by test/setup/conformance.ts.

const TOKEN = 'switches-token';
const DAY_MS = 86_400_000;
/** 21:40:00.123 UTC five days before today: the clock never holds a fixed date. */
const START = Math.floor(Date.now() / DAY_MS) * DAY_MS - 5 * DAY_MS + (21 * 60 + 40) * 60_000 + 123;
const DAY = new Date(START).toISOString().slice(0, 10);
const DAY_BEFORE = new Date(START - DAY_MS).toISOString().slice(0, 10);
let clock = START;
const emulator = new TolokaEmulator({
  tokens: [TOKEN],
  now: () => clock,
  pools: {
    '1': { openDurationMs: 3_000, pendingMs: 500 },
    '2': { openDurationMs: 3_000 },
    '3': { openDurationMs: 0 },
  },
  trainings: { '1': { openDurationMs: 3_000 } },
});
let origin = '';

beforeAll(async () => {
  origin = await emulator.start();
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  clock = START;
  emulator.reset();
});

async function call(method: string, path: string, authorization = `OAuth ${TOKEN}`) {
  const response = await fetch(`${origin}/api/v1${path}`, { method, headers: { authorization } });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** The `items` of a `GET /operations` answer. */
function itemsOf(body: Record<string, unknown> | undefined): { id: string; type: string }[] {
  const items = body?.items;
  if (!Array.isArray(items)) throw new Error(`no items in ${JSON.stringify(body)}`);
  return items as { id: string; type: string }[];
}

const open = async (path = '/pools/1/open') => (await call('POST', path)).body as Record<string, unknown>;

describe('switches', () => {
  it('leaves progress and details out of operations with operationProgress and operationDetails off', async () => {
    emulator.setSwitches({ operationProgress: false, operationDetails: false });
    const operation = await open();
    expect(operation).not.toHaveProperty('progress');
    expect(operation).not.toHaveProperty('details');
    expect(operation).toMatchObject({ type: 'POOL.OPEN', parameters: { pool_id: '1' } });
  });

  it.each([
    [0, new RegExp(`^${DAY}T21:40:00$`)],
    [3, new RegExp(`^${DAY}T21:40:00\\.123$`)],
    [6, new RegExp(`^${DAY}T21:40:00\\.123417$`)],
  ] as const)(
    'writes dates with %i fraction digits, which the client reads as the same UTC instant',
    async (digits, shape) => {
      emulator.setSwitches({ dateFractionDigits: digits });
      const operation = await open();
      expect(operation.submitted).toMatch(shape);
      expect(parseTolokaDate(operation.submitted)).toBe(digits === 0 ? START - 123 : START);
      const pool = (await call('GET', '/pools/1')).body;
      expect(pool?.created).toMatch(digits === 0 ? /:[0-9]{2}$/ : new RegExp(`\\.[0-9]{${digits}}$`));
    },
  );

  it('gives operations 24-hex IDs with operationIds hex24, and they can be followed', async () => {
    emulator.setSwitches({ operationIds: 'hex24' });
    const operation = await open();
    expect(operation.id).toMatch(/^[0-9a-f]{24}$/);
    expect((await call('GET', `/operations/${String(operation.id)}`)).status).toBe(200);
  });

  it('shows an unknown status instead of PENDING with unknownStatus, then RUNNING and SUCCESS', async () => {
    emulator.setSwitches({ unknownStatus: 'QUEUED' });
    const operation = await open();
    expect(operation.status).toBe('QUEUED');
    clock += 600;
    expect((await call('GET', `/operations/${String(operation.id)}`)).body?.status).toBe('RUNNING');
    clock += 3_000;
    expect((await call('GET', `/operations/${String(operation.id)}`)).body?.status).toBe('SUCCESS');
  });

  it('answers a bad token with 403 ACCESS_DENIED with badTokenStatus 403, and 401 by default', async () => {
    expect(await call('GET', '/pools/1', 'OAuth wrong')).toMatchObject({
      status: 401,
      body: { code: 'AUTHENTICATION_ERROR' },
    });
    emulator.setSwitches({ badTokenStatus: 403 });
    expect(await call('GET', '/pools/1', 'OAuth wrong')).toMatchObject({
      status: 403,
      body: { code: 'ACCESS_DENIED' },
    });
  });

  it('takes switches over HTTP, rejects unknown ones and bad values, and forgets them on reset', async () => {
    const post = (body: unknown) =>
      fetch(`${origin}/_emulator/switches`, { method: 'POST', body: JSON.stringify(body) });
    const set = await post({ secondOpen: 'same-operation', dateFractionDigits: 0 });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({
      secondOpen: 'same-operation',
      dateFractionDigits: 0,
      badTokenStatus: 401,
    });
    expect(await (await fetch(`${origin}/_emulator/switches`)).json()).toMatchObject({
      secondOpen: 'same-operation',
    });
    expect((await post({ secondOpen: 'maybe' })).status).toBe(400);
    expect((await post({ colour: 'red' })).status).toBe(400);
    expect(() => emulator.setSwitches({ dateFractionDigits: 2 as 3 })).toThrow(
      /dateFractionDigits must be 0, 3 or 6/,
    );
    await fetch(`${origin}/_emulator/reset`, { method: 'POST' });
    expect(emulator.switches.secondOpen).toBe('locked');
  });
});

describe('GET /operations', () => {
  it("lists operations in the specification's shape, filtered by type and status, sorted and limited", async () => {
    const first = await open('/pools/1/open');
    clock += 1_000;
    const second = await open('/pools/2/open');
    clock += 1_000;
    const training = await open('/trainings/1/open');
    clock += 10; // pool 3 opens at once: SUCCESS
    await open('/pools/3/open');

    const running = await call('GET', '/operations?type=POOL.OPEN&status=PENDING,RUNNING');
    expect(running.status).toBe(200);
    expect(Object.keys(running.body ?? {}).sort()).toEqual(['has_more', 'items']);
    const ids = itemsOf(running.body).map((item) => item.id);
    expect(ids.sort()).toEqual([first.id, second.id].sort());

    const newestFirst = await call('GET', '/operations?sort=-submitted&limit=2');
    expect(itemsOf(newestFirst.body).map((item) => item.type)).toEqual(['POOL.OPEN', 'TRAINING.OPEN']);
    expect(newestFirst.body?.has_more).toBe(true);

    const trainings = await call('GET', '/operations?type=TRAINING.OPEN');
    expect(itemsOf(trainings.body).map((item) => item.id)).toEqual([training.id]);
  });

  it('filters by submission time, given as a UTC date or date and time', async () => {
    const early = await open('/pools/1/open');
    clock += 60_000;
    const late = await open('/pools/2/open');
    const listed = async (query: string) =>
      itemsOf((await call('GET', `/operations?${query}`)).body).map((item) => item.id);
    expect(await listed(`submitted_gte=${DAY}T21:41:00`)).toEqual([late.id]);
    expect(await listed(`submitted_lt=${DAY}T21:41:00`)).toEqual([early.id]);
    expect((await listed(`submitted_gte=${DAY}`)).sort()).toEqual([early.id, late.id].sort());
    expect(await listed(`submitted_lte=${DAY_BEFORE}`)).toEqual([]);
  });

  it('answers 400 VALIDATION_ERROR naming the parameter for a bad limit, sort or date', async () => {
    for (const query of ['limit=0', 'limit=abc', 'sort=pool', 'submitted_gte=yesterday']) {
      const answer = await call('GET', `/operations?${query}`);
      expect(answer.status, query).toBe(400);
      expect(String(answer.body?.message)).toContain(query.split('=')[0]);
    }
  });
});

describe('npm run emulator', () => {
  it('takes every switch and --pool on the command line', async () => {
    const cli = await startEmulatorCli([
      ...['--port', '0', '--token', 'cli-token', '--pool', '5', '--second-open', 'same-operation'],
      ...['--no-progress', '--no-details', '--date-fraction-digits', '6', '--operation-ids', 'hex24'],
      ...['--unknown-status', 'QUEUED', '--bad-token-status', '403', '--auto-create-pools'],
    ]);
    try {
      const { base } = cli;
      const output = cli.output();
      expect(base, output).toBeDefined();
      const switches = await (await fetch(`${base}/_emulator/switches`)).json();
      expect(switches).toEqual({
        secondOpen: 'same-operation',
        operationProgress: false,
        operationDetails: false,
        dateFractionDigits: 6,
        operationIds: 'hex24',
        unknownStatus: 'QUEUED',
        badTokenStatus: 403,
        autoCreatePools: true,
      });
      const opened = await fetch(`${base}/api/v1/pools/5/open`, {
        method: 'POST',
        headers: { authorization: 'OAuth cli-token' },
      });
      expect(await opened.json()).toMatchObject({
        status: 'QUEUED',
        id: expect.stringMatching(/^[0-9a-f]{24}$/),
      });
    } finally {
      await cli.stop();
    }
  });

  it('refuses a bad switch value in one line, with exit code 2', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const child = spawn('node_modules/.bin/tsx', ['emulator/main.ts', '--date-fraction-digits', '2'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('switch dateFractionDigits must be 0, 3 or 6');
  });
});
