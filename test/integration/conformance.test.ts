import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Exchange, observeExchanges, TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { HttpTolokaApi } from '../../lambda/adapters/http-toloka-api.ts';
import {
  type HttpExchange,
  SHARED_SPEC_DIR,
  SPEC_FILE,
  TolokaConformance,
  VENDORED_SPEC_DIR,
} from '../support/toloka-conformance.ts';

// Toloka's OpenAPI specification as the judge of the emulator's answers and of the client's
// requests. test/setup/conformance.ts checks every exchange of every test this way; this file
// shows that the judge can fail (it refuses invented fields, types and statuses), that it
// accepts the specification's own examples, and that every path and status the app uses has
// been exchanged with the emulator and judged.

const TOKEN = 'conformance-token';

/**
 * Where the specification's own example contradicts its schema (the schema is what the judge
 * reads). Neither field is one the app or the emulator uses.
 */
const SPEC_SELF_CONTRADICTIONS: Record<string, readonly string[]> = {
  'get /pools/{id} success': [
    // PoolViewV1.filter is `type: string`; the example's filter is an object.
    '/filter must be string',
    // The example's rule condition value is a number; the schema asks for an object.
    '/quality_control/configs/0/rules/0/conditions/0/value must be object',
  ],
};
let conformance: TolokaConformance;
const emulator = new TolokaEmulator({
  tokens: [TOKEN],
  pools: {
    '10': { openDurationMs: 5_000 },
    '11': { status: 'OPEN' },
    '12': { refuse: { code: 'NOT_ENOUGH_BALANCE', message: 'Top up', payload: { required: 1 } } },
    '13': { status: 'ARCHIVED' },
    '14': { openDurationMs: 0 },
    '15': { status: 'OPEN', closeDurationMs: 5_000 },
    '16': {},
  },
  trainings: { '20': { openDurationMs: 5_000 }, '21': { status: 'OPEN' }, '22': {} },
});
let origin = '';
const seen: Exchange[] = [];
const stopObserving = observeExchanges((exchange) => seen.push(exchange));

beforeAll(async () => {
  conformance = await TolokaConformance.load();
  origin = await emulator.start();
});

afterAll(async () => {
  stopObserving();
  await emulator.stop();
});

const exchange = (overrides: Partial<HttpExchange>): HttpExchange => ({
  method: 'GET',
  path: '/operations/57068577e4b0bf7b07a0256f',
  query: new URLSearchParams(),
  requestHeaders: { authorization: 'OAuth' },
  status: 200,
  body: '{}',
  ...overrides,
});

/** An instant a minute ago, in Toloka's zone-less form (3 fraction digits), and shifted by `ms`. */
const SUBMITTED_MS = Date.now() - 60_000;
const tolokaTime = (ms: number) => new Date(ms).toISOString().slice(0, 23);

const operation = {
  id: '57068577e4b0bf7b07a0256f',
  type: 'POOL.OPEN',
  status: 'RUNNING',
  submitted: tolokaTime(SUBMITTED_MS),
  started: tolokaTime(SUBMITTED_MS + 280),
  progress: 40,
  parameters: { pool_id: '21' },
  details: {},
};

describe('the judge', () => {
  it("accepts the specification's own examples of every response the app reads", () => {
    const spec = conformance.spec as {
      paths: Record<
        string,
        Record<
          string,
          {
            responses: Record<
              string,
              { content?: Record<string, { examples?: Record<string, { value: unknown }> }> }
            >;
          }
        >
      >;
    };
    const cases = [
      ['post', '/pools/{id}/open', '202'],
      ['post', '/trainings/{id}/open', '202'],
      ['get', '/operations/{id}', '200'],
      ['get', '/operations', '200'],
      ['get', '/pools/{id}', '200'],
      ['get', '/trainings/{id}', '200'],
    ] as const;
    for (const [method, template, status] of cases) {
      const examples =
        spec.paths[template]?.[method]?.responses[status]?.content?.['application/json']?.examples;
      expect(Object.keys(examples ?? {}).length, `${method} ${template}`).toBeGreaterThan(0);
      for (const [name, example] of Object.entries(examples ?? {})) {
        const requestPath = template.replace('{id}', '1');
        const problems = conformance.checkResponse(
          exchange({
            method: method.toUpperCase(),
            path: requestPath,
            status: Number(status),
            body: JSON.stringify(example.value),
          }),
        );
        const known = SPEC_SELF_CONTRADICTIONS[`${method} ${template} ${name}`] ?? [];
        expect(problems, `${method} ${template} example ${name}`).toEqual(
          known.map((p) => expect.stringContaining(p)),
        );
      }
    }
  });

  it('refuses a field the specification does not have', () => {
    expect(conformance.checkResponse(exchange({ body: JSON.stringify({ ...operation, eta: 5 }) }))).toEqual([
      expect.stringMatching(/must NOT have additional properties \(eta\)$/),
    ]);
  });

  it('refuses a field of the wrong type, a status outside the enum and a date with a zone', () => {
    const problems = conformance.checkResponse(
      exchange({
        body: JSON.stringify({
          ...operation,
          progress: '40',
          status: 'DONE',
          // A zoned date, which Toloka never sends.
          submitted: `${tolokaTime(SUBMITTED_MS).slice(0, 19)}Z`,
        }),
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('/status must be equal to one of the allowed values'),
      expect.stringContaining('/submitted must match format "date-time"'),
      expect.stringContaining('/progress must be integer'),
    ]);
  });

  it('refuses a status the specification does not allow for the path, and a 204 with a body', () => {
    expect(
      conformance.checkResponse(exchange({ method: 'POST', path: '/pools/1/open', status: 200 })),
    ).toEqual([
      expect.stringContaining('status 200 is not one the specification allows for /pools/{id}/open'),
    ]);
    expect(
      conformance.checkResponse(exchange({ method: 'POST', path: '/pools/1/open', status: 204, body: '{}' })),
    ).toEqual([expect.stringContaining('a 204 has no body in the specification')]);
    expect(conformance.checkResponse(exchange({ status: 418, body: '{}' }))).toEqual([
      expect.stringContaining('status 418 is not one'),
    ]);
  });

  it("takes the 204 of an open from the operation's description and the error statuses from the common table", () => {
    const open = conformance.find('POST', '/pools/1/open');
    if (open === undefined) throw new Error('no open operation in the specification');
    const allowed = conformance.allowedStatuses(open);
    expect(allowed.get(202)).toBe('declared in its responses');
    expect(allowed.get(204)).toBe('in its description');
    expect([...allowed.keys()].sort()).toEqual([
      202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503,
    ]);
    // 401 is not in the specification: ../shared/toloka-api.md says a bad token may get it.
    expect(allowed.get(401)).toBe('not in the specification; ../shared/toloka-api.md');
  });

  it("refuses an error body without Toloka's request_id, code and message, or with other fields", () => {
    const problems = conformance.checkResponse(
      exchange({ status: 404, body: JSON.stringify({ code: 'DOES_NOT_EXIST', error: 'x' }) }),
    );
    expect(problems).toEqual([
      expect.stringContaining("must have required property 'request_id'"),
      expect.stringContaining("must have required property 'message'"),
      expect.stringContaining('must NOT have additional properties (error)'),
    ]);
  });

  it('refuses a request the specification does not describe: path, query parameter, header, scheme', () => {
    expect(conformance.checkRequest(exchange({ path: '/operations/1/cancel' }))).toEqual([
      expect.stringContaining('the specification describes no such request'),
    ]);
    expect(
      conformance.checkRequest(
        exchange({ path: '/operations', query: new URLSearchParams('pool_id=1&limit=x') }),
      ),
    ).toEqual([
      expect.stringContaining('query parameter pool_id is not one of /operations'),
      expect.stringContaining('query parameter limit=x must be an integer'),
    ]);
    expect(
      conformance.checkRequest(exchange({ requestHeaders: { authorization: 'Bearer', 'x-debug': '1' } })),
    ).toEqual([
      expect.stringContaining('header x-debug is not one the specification names'),
      expect.stringContaining('no Authorization header with the OAuth or ApiKey scheme'),
    ]);
  });

  it("reads Toloka's own specification: the shared folder's, or an unchanged copy of it", () => {
    expect([SHARED_SPEC_DIR, VENDORED_SPEC_DIR]).toContain(path.dirname(SPEC_FILE));
    expect(readFileSync(SPEC_FILE, 'utf8')).toMatch(/^openapi: 3\.0\.1/);
    // The copy is byte for byte the shared folder's, wherever both are there to compare.
    if (existsSync(SHARED_SPEC_DIR)) {
      const files = (dir: string) =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((entry) => entry.isFile())
          .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
          .sort();
      expect(files(VENDORED_SPEC_DIR)).toEqual(files(SHARED_SPEC_DIR));
      for (const file of files(SHARED_SPEC_DIR)) {
        expect(
          readFileSync(path.join(VENDORED_SPEC_DIR, file)).equals(
            readFileSync(path.join(SHARED_SPEC_DIR, file)),
          ),
          file,
        ).toBe(true);
      }
    }
  });
});

describe('every path and status the app uses, answered by the emulator and judged', () => {
  const api = () => new HttpTolokaApi({ origin, requestTimeoutMs: 5_000 });
  const auth = `OAuth ${TOKEN}`;
  const raw = (method: string, requestPath: string, authorization: string | null = auth) =>
    fetch(`${origin}/api/v1${requestPath}`, {
      method,
      headers: authorization === null ? {} : { authorization },
    });

  it('covers opens, closes, operations, lists, pools, trainings and errors, every exchange within the specification', async () => {
    const client = api();
    const opened = await client.act({ kind: 'pool', id: '10' }, 'open', auth); // 202
    await client.act({ kind: 'pool', id: '11' }, 'open', auth); // 204
    await client.act({ kind: 'training', id: '20' }, 'open', auth); // 202
    await client.act({ kind: 'training', id: '21' }, 'open', auth); // 204
    await client.act({ kind: 'pool', id: '14' }, 'open', auth); // 202, already SUCCESS
    for (const refused of ['10', '12', '13', '99']) {
      // 409 locked, 409 refused, 409 inappropriate status, 404 unknown
      await expect(client.act({ kind: 'pool', id: refused }, 'open', auth)).rejects.toThrow();
    }
    await expect(client.act({ kind: 'training', id: '98' }, 'open', auth)).rejects.toThrow(); // 404
    const closing = await client.act({ kind: 'pool', id: '15' }, 'close', auth); // 202
    await client.act({ kind: 'pool', id: '16' }, 'close', auth); // 204: closed from the start
    await expect(client.act({ kind: 'pool', id: '15' }, 'close', auth)).rejects.toThrow(); // 409 locked
    await expect(client.act({ kind: 'pool', id: '13' }, 'close', auth)).rejects.toThrow(); // 409 archived
    await expect(client.act({ kind: 'pool', id: '99' }, 'close', auth)).rejects.toThrow(); // 404
    await client.act({ kind: 'training', id: '21' }, 'close', auth); // 202
    await client.act({ kind: 'training', id: '22' }, 'close', auth); // 204
    await expect(client.act({ kind: 'training', id: '98' }, 'close', auth)).rejects.toThrow(); // 404
    if (closing.kind !== 'operation') throw new Error('expected a close operation');
    await client.getOperation(closing.operation.id, auth); // 200, a POOL.CLOSE
    await client.findRunningOperation({ kind: 'pool', id: '15' }, 'close', auth); // 200, by type POOL.CLOSE
    if (opened.kind !== 'operation') throw new Error('expected an operation');
    await client.getOperation(opened.operation.id, auth); // 200
    await expect(client.getOperation('57068577e4b0bf7b07a0256f', auth)).rejects.toThrow(); // 404
    await client.getTarget({ kind: 'pool', id: '10' }, auth); // 200
    await client.getTarget({ kind: 'training', id: '20' }, auth); // 200
    await expect(client.getTarget({ kind: 'pool', id: '98' }, auth)).rejects.toThrow(); // 404
    await expect(client.getTarget({ kind: 'training', id: '98' }, auth)).rejects.toThrow(); // 404
    await raw('GET', '/operations?type=POOL.OPEN&status=PENDING,RUNNING&limit=10&sort=-submitted');
    const yearFrom = (years: number) => tolokaTime(Date.now() + years * 365 * 86_400_000).slice(0, 19);
    await raw('GET', `/operations?submitted_gte=${yearFrom(-1).slice(0, 10)}&submitted_lte=${yearFrom(1)}`);
    await raw('GET', '/operations?limit=0'); // 400
    await raw('GET', '/pools/10', null); // 401
    emulator.setSwitches({ badTokenStatus: 403 });
    await raw('GET', '/pools/10', 'OAuth wrong'); // 403
    emulator.setSwitches({ badTokenStatus: 401 });
    await raw('DELETE', '/pools/10'); // 405

    const covered = new Set(seen.map((e) => `${e.method} ${templateOf(e.path)} ${e.status}`));
    expect([...covered].sort()).toEqual(
      [
        'DELETE /pools/{id} 405',
        'GET /operations 200',
        'GET /operations 400',
        'GET /operations/{id} 200',
        'GET /operations/{id} 404',
        'GET /pools/{id} 200',
        'GET /pools/{id} 401',
        'GET /pools/{id} 403',
        'GET /pools/{id} 404',
        'GET /trainings/{id} 200',
        'GET /trainings/{id} 404',
        'POST /pools/{id}/close 202',
        'POST /pools/{id}/close 204',
        'POST /pools/{id}/close 404',
        'POST /pools/{id}/close 409',
        'POST /trainings/{id}/close 202',
        'POST /trainings/{id}/close 204',
        'POST /trainings/{id}/close 404',
        'POST /pools/{id}/open 202',
        'POST /pools/{id}/open 204',
        'POST /pools/{id}/open 404',
        'POST /pools/{id}/open 409',
        'POST /trainings/{id}/open 202',
        'POST /trainings/{id}/open 204',
        'POST /trainings/{id}/open 404',
      ].sort(),
    );
    // Each of them, judged here as the setup judges them: no problem.
    expect(seen.flatMap((e) => conformance.checkResponse(e))).toEqual([]);
    const ours = seen.filter((e) => e.requestHeaders['user-agent'] === 'toloka-pool-opener');
    expect(ours.length).toBeGreaterThanOrEqual(15);
    expect(ours.flatMap((e) => conformance.checkRequest(e))).toEqual([]);
  });

  it('keeps to the specification with every switch that changes what an operation looks like', async () => {
    for (const switches of [
      { operationProgress: false, operationDetails: false },
      { dateFractionDigits: 0 as const },
      { dateFractionDigits: 6 as const },
      { operationIds: 'hex24' as const },
    ]) {
      emulator.reset();
      emulator.setSwitches(switches);
      const before = seen.length;
      const client = api();
      const opened = await client.act({ kind: 'pool', id: '10' }, 'open', auth);
      if (opened.kind !== 'operation') throw new Error('expected an operation');
      await client.getOperation(opened.operation.id, auth);
      await raw('GET', '/operations?status=PENDING,RUNNING');
      const judged = seen.slice(before);
      expect(judged.length, JSON.stringify(switches)).toBe(3);
      expect(
        judged.flatMap((e) => conformance.checkResponse(e)),
        JSON.stringify(switches),
      ).toEqual([]);
    }
    emulator.reset();
  });

  it('departs from the enum only with the unknownStatus switch, which stands for a status Toloka may add', async () => {
    emulator.reset();
    emulator.setSwitches({ unknownStatus: 'QUEUED' });
    const before = seen.length;
    await api().act({ kind: 'pool', id: '10' }, 'open', auth);
    const [answer] = seen.slice(before);
    if (answer === undefined) throw new Error('no exchange');
    expect(JSON.parse(answer.body ?? '{}')).toMatchObject({ status: 'QUEUED' });
    expect(conformance.checkResponse(answer)).toEqual([
      expect.stringContaining('/status must be equal to one of the allowed values'),
    ]);
    emulator.reset();
  });
});

const TEMPLATES: readonly (readonly [RegExp, string])[] = [
  [/^\/operations\/[^/]+$/, '/operations/{id}'],
  [/^\/pools\/[^/]+\/open$/, '/pools/{id}/open'],
  [/^\/trainings\/[^/]+\/open$/, '/trainings/{id}/open'],
  [/^\/pools\/[^/]+\/close$/, '/pools/{id}/close'],
  [/^\/trainings\/[^/]+\/close$/, '/trainings/{id}/close'],
  [/^\/pools\/[^/]+$/, '/pools/{id}'],
  [/^\/trainings\/[^/]+$/, '/trainings/{id}'],
];

function templateOf(requestPath: string): string {
  return TEMPLATES.find(([pattern]) => pattern.test(requestPath))?.[1] ?? requestPath;
}
