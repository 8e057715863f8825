import { describe, expect, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { startEmulatorCli } from '../support/emulator-cli.ts';
import {
  advance,
  call,
  control,
  type ErrorBody,
  emulator,
  getOperation,
  json,
  type Operation,
  openPool,
  origin,
  START,
  TOKEN,
  UUID,
} from '../support/emulator-under-test.ts';

describe('fault injection', () => {
  it('answers an injected status with its headers and a Toloka error body, once', async () => {
    emulator.injectFault({
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': '2' },
      path: '/pools/1/open',
    });
    const faulted = await call('POST', '/pools/1/open');
    expect(faulted.status).toBe(429);
    expect(faulted.headers.get('retry-after')).toBe('2');
    const body = (await faulted.json()) as ErrorBody;
    expect(body).toMatchObject({ code: 'TOO_MANY_REQUESTS', request_id: expect.stringMatching(UUID) });
    expect((await call('POST', '/pools/1/open')).status).toBe(202);
  });

  it('sends an empty body when the fault body is null', async () => {
    emulator.injectFault({ kind: 'status', status: 503, body: null });
    const response = await call('GET', '/pools/1');
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('');
  });

  it('uses the REMOTE_SERVICE_UNAVAILABLE and INTERNAL_ERROR codes for 5xx faults', async () => {
    emulator.injectFault({ kind: 'status', status: 504 });
    emulator.injectFault({ kind: 'status', status: 500 });
    expect(((await (await call('GET', '/pools/1')).json()) as ErrorBody).code).toBe(
      'REMOTE_SERVICE_UNAVAILABLE',
    );
    expect(((await (await call('GET', '/pools/1')).json()) as ErrorBody).code).toBe('INTERNAL_ERROR');
  });

  it('sends a custom body as given', async () => {
    emulator.injectFault({
      kind: 'status',
      status: 502,
      body: '<html>Bad Gateway</html>',
      headers: { 'content-type': 'text/html' },
    });
    const response = await call('GET', '/pools/1');
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(await response.text()).toBe('<html>Bad Gateway</html>');
  });

  it('hits only requests that match its method and path, as many times as asked', async () => {
    emulator.injectFault({ kind: 'status', status: 500, method: 'GET', path: /^\/operations\//, times: 2 });
    const created = await openPool('1');
    expect((await call('GET', '/pools/1')).status).toBe(200);
    expect((await call('GET', `/operations/${created.id}`)).status).toBe(500);
    expect((await call('GET', `/operations/${created.id}`)).status).toBe(500);
    expect((await call('GET', `/operations/${created.id}`)).status).toBe(200);
  });

  it('keeps hitting with times Infinity until cleared', async () => {
    emulator.injectFault({ kind: 'status', status: 503, times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 5; i += 1) expect((await call('GET', '/pools/1')).status).toBe(503);
    emulator.clearFaults();
    expect((await call('GET', '/pools/1')).status).toBe(200);
  });

  it('applies before authentication', async () => {
    emulator.injectFault({ kind: 'status', status: 503 });
    expect((await call('GET', '/pools/1', { authorization: null })).status).toBe(503);
  });

  it('answers late on a delay fault, so a client can time out while the open still happens', async () => {
    emulator.injectFault({ kind: 'delay', delayMs: 400, path: '/pools/50/open' });
    await expect(call('POST', '/pools/50/open', { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const state = emulator.getPoolState('50');
    expect(state?.activeOperationId).toEqual(expect.any(String));
    // The retry meets the operation its first attempt started: locked, by default.
    const retried = await call('POST', '/pools/50/open');
    expect(retried.status).toBe(409);
    expect(((await retried.json()) as ErrorBody).code).toBe('POOL_LOCKED_BY_ANOTHER_OPERATION');
  });

  it('answers normally after the delay when the client waits', async () => {
    emulator.injectFault({ kind: 'delay', delayMs: 150 });
    const started = Date.now();
    const response = await call('GET', '/pools/1');
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('drops the connection without an answer on a reset fault', async () => {
    emulator.injectFault({ kind: 'reset', method: 'POST' });
    await expect(call('POST', '/pools/1/open')).rejects.toThrow(TypeError);
    expect(emulator.requests.at(-1)).toMatchObject({ method: 'POST', path: '/pools/1/open', status: 0 });
    expect(emulator.getPoolState('1')?.activeOperationId).toBeUndefined();
    expect((await call('POST', '/pools/1/open')).status).toBe(202);
  });

  it('answers 2xx with a body that is not valid JSON on a malformed fault', async () => {
    emulator.injectFault({ kind: 'malformed', path: '/pools/1/open', status: 202 });
    const response = await call('POST', '/pools/1/open');
    expect(response.status).toBe(202);
    const text = await response.text();
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it('rejects a fault it could never apply', () => {
    expect(() => emulator.injectFault({ kind: 'status', status: 99 })).toThrow();
    expect(() => emulator.injectFault({ kind: 'delay', delayMs: -1 })).toThrow();
    expect(() => emulator.injectFault({ kind: 'reset', times: 0 })).toThrow();
  });
});

describe('request log', () => {
  it('records method, path, status, time and auth scheme of each API request', async () => {
    await call('POST', '/pools/1/open', { authorization: `ApiKey ${TOKEN}` });
    advance(1_000);
    await call('GET', '/pools/1?fields=status');
    await call('GET', '/pools/1', { authorization: null });
    expect(emulator.requests).toEqual([
      { method: 'POST', path: '/pools/1/open', status: 202, at: START, authScheme: 'ApiKey' },
      { method: 'GET', path: '/pools/1', status: 200, at: START + 1_000, authScheme: 'OAuth' },
      { method: 'GET', path: '/pools/1', status: 401, at: START + 1_000, authScheme: null },
    ]);
  });

  it('counts requests by method and by path prefix or RegExp', async () => {
    const created = await openPool('1');
    await getOperation(created.id);
    await getOperation(created.id);
    await call('GET', '/pools/1');
    expect(emulator.countRequests()).toBe(4);
    expect(emulator.countRequests('GET')).toBe(3);
    expect(emulator.countRequests('POST', '/pools/1/open')).toBe(1);
    expect(emulator.countRequests(undefined, '/pools/')).toBe(2);
    expect(emulator.countRequests('GET', /^\/operations\/[^/]+$/)).toBe(2);
  });

  it('never records the token', async () => {
    const secret = 'very-secret-token-value';
    const withSecret = new TolokaEmulator({ tokens: [secret] });
    const base = await withSecret.start();
    try {
      await call('GET', '/pools/1', { base, authorization: `OAuth ${secret}` });
      await call('GET', '/pools/1', { base, authorization: `ApiKey ${secret}-wrong` });
      expect(withSecret.countRequests()).toBe(2);
      expect(JSON.stringify(withSecret.requests)).not.toContain(secret);
      const viaHttp = await (await fetch(`${base}/_emulator/requests`)).text();
      expect(viaHttp).not.toContain(secret);
    } finally {
      await withSecret.stop();
    }
  });

  it('starts over after resetLog', async () => {
    await call('GET', '/pools/1');
    emulator.resetLog();
    expect(emulator.requests).toEqual([]);
    expect(emulator.countRequests()).toBe(0);
  });
});

describe('HTTP control endpoints', () => {
  it('configures a pool with POST /_emulator/pools/{id}', async () => {
    const configured = await control('POST', '/pools/60', { refuse: { code: 'NOT_ENOUGH_BALANCE' } });
    expect(configured.status).toBe(200);
    expect(await configured.json()).toMatchObject({ id: '60', status: 'CLOSED' });
    const response = await call('POST', '/pools/60/open');
    expect(response.status).toBe(409);
    expect(((await response.json()) as ErrorBody).code).toBe('NOT_ENOUGH_BALANCE');
  });

  it('configures a training with POST /_emulator/trainings/{id}', async () => {
    expect((await control('POST', '/trainings/61', { openDurationMs: 0 })).status).toBe(200);
    const { body } = await json<Operation>('POST', '/trainings/61/open');
    expect(body).toMatchObject({ type: 'TRAINING.OPEN', status: 'SUCCESS' });
  });

  it('injects faults with POST /_emulator/faults, a /…/ path being a RegExp', async () => {
    const injected = await control('POST', '/faults', {
      kind: 'status',
      status: 503,
      path: '/^\\/operations\\//',
      times: 'Infinity',
      headers: { 'Retry-After': '1' },
    });
    expect(injected.status).toBe(204);
    const created = await openPool('1');
    const faulted = await call('GET', `/operations/${created.id}`);
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('retry-after')).toBe('1');
    expect((await call('GET', `/operations/${created.id}`)).status).toBe(503);
    expect((await control('DELETE', '/faults')).status).toBe(204);
    expect((await call('GET', `/operations/${created.id}`)).status).toBe(200);
  });

  it('treats a fault path without surrounding slashes as an exact path', async () => {
    await control('POST', '/faults', { kind: 'malformed', path: '/pools/1' });
    expect((await call('GET', '/pools/10')).status).toBe(200);
    const response = await call('GET', '/pools/1');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"id": "trunc');
  });

  it('serves the request log at GET /_emulator/requests and clears it with DELETE', async () => {
    await call('GET', '/pools/1');
    const log = await control('GET', '/requests');
    expect(log.status).toBe(200);
    expect(await log.json()).toEqual([
      { method: 'GET', path: '/pools/1', status: 200, at: START, authScheme: 'OAuth' },
    ]);
    expect((await control('DELETE', '/requests')).status).toBe(204);
    expect(emulator.requests).toEqual([]);
  });

  it('does not log or authenticate control requests', async () => {
    await control('GET', '/requests');
    await control('POST', '/pools/62', {});
    expect(emulator.countRequests()).toBe(0);
  });

  it('goes back to the start configuration with POST /_emulator/reset', async () => {
    emulator.setPool('63', { status: 'OPEN' });
    emulator.injectFault({ kind: 'status', status: 500 });
    await control('POST', '/reset');
    expect(emulator.getPoolState('63')).toBeUndefined();
    expect((await call('GET', '/pools/1')).status).toBe(200);
    expect(emulator.countRequests()).toBe(1);
  });

  it('answers 400 VALIDATION_ERROR for a behaviour or fault it cannot use', async () => {
    for (const [path, body] of [
      ['/pools/64', { status: 'HALF_OPEN' }],
      ['/pools/64', { openDurationMs: -5 }],
      ['/pools/64', { openDuration: 5 }],
      ['/faults', { kind: 'explode' }],
      ['/faults', { kind: 'status' }],
      ['/faults', { kind: 'reset', path: '/[/' }],
    ] as const) {
      const response = await control('POST', path, body);
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(((await response.json()) as ErrorBody).code).toBe('VALIDATION_ERROR');
    }
    const invalidJson = await fetch(`${origin}/_emulator/faults`, { method: 'POST', body: '{' });
    expect(invalidJson.status).toBe(400);
  });

  it('answers 404 and 405 for unknown control endpoints and methods', async () => {
    expect((await control('GET', '/nothing')).status).toBe(404);
    expect((await control('GET', '/faults')).status).toBe(405);
  });
});

describe('lifecycle', () => {
  it('reports its origin and stops promptly even with a keep-alive connection open', async () => {
    const local = new TolokaEmulator({ pools: { '1': {} } });
    expect(() => local.url).toThrow();
    const base = await local.start();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(local.url).toBe(base);
    expect((await call('GET', '/pools/1', { base })).status).toBe(200);
    const started = Date.now();
    await local.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(call('GET', '/pools/1', { base })).rejects.toThrow();
  });
});

describe('command line', () => {
  it('serves on the given port with the given tokens, never prints them, and stops on SIGTERM', async () => {
    const cli = await startEmulatorCli([
      ...['--port', '0', '--token', 'cli-token-one', '--token', 'cli-token-two', '--pool', '1'],
    ]);
    try {
      const { base } = cli;
      const output = cli.output();
      expect(base, output).toBeDefined();
      expect(output).toContain('2 tokens');
      expect(output).not.toContain('cli-token');
      expect(output).toContain('Pools: 1; trainings: none (others answer 404)');
      expect((await call('GET', '/pools/1', { base, authorization: 'ApiKey cli-token-two' })).status).toBe(
        200,
      );
      expect((await call('GET', '/pools/1', { base, authorization: `OAuth ${TOKEN}` })).status).toBe(401);
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });
});

describe('command line: what it serves', () => {
  it('names the pools, trainings and the default token it serves on its start lines', async () => {
    const cli = await startEmulatorCli([
      '--port',
      '0',
      '--pool',
      '1001',
      '--pool',
      '1002',
      '--training',
      '7',
    ]);
    try {
      expect(cli.output()).toContain('Pools: 1001, 1002; trainings: 7 (others answer 404)');
      expect(cli.output()).toContain('Token: local-dev-token (the default)');
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });

  it.each([
    ['--pool', 'abc'],
    ['--pool', '01'],
    ['--training', '1.5'],
  ])('refuses %s %s: not a Toloka ID, exit 2, nothing served', async (flag, id) => {
    const cli = await startEmulatorCli(['--port', '0', flag, id]);
    const code = await new Promise<number | null>((resolve) => {
      if (cli.child.exitCode !== null) resolve(cli.child.exitCode);
      else cli.child.once('exit', (exitCode) => resolve(exitCode));
    });
    expect(code).toBe(2);
    expect(cli.base).toBeUndefined();
    expect(cli.output()).toContain(`${flag}: "${id}" is not a Toloka ID`);
  });
});
