import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeepAliveAgent, HttpTolokaApi } from '../../lambda/adapters/http-toloka-api.ts';
import { TolokaNetworkError } from '../../lambda/runtime/errors.ts';

// lambda/adapters/http-toloka-api.ts imports three of undici's internal modules instead of its index
// (a cold start loads 39 of undici's files instead of 112; docs/benchmarks.md). Internal paths
// may move in any release: these tests fail when an upgrade breaks them.

const require = createRequire(import.meta.url);
const ROOT = new URL('../../', import.meta.url);
const DEEP_MODULES = [
  'undici/lib/dispatcher/agent.js',
  'undici/lib/api/api-request.js',
  'undici/lib/core/errors.js',
];

function json(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(path, ROOT), 'utf8')) as Record<string, unknown>;
}

describe('undici, imported through its internal modules', () => {
  it('is pinned to the exact version it was measured with, in package.json, the lock file and node_modules', () => {
    const pinned = (json('package.json').dependencies as Record<string, string>).undici;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const lock = json('package-lock.json').packages as Record<string, Record<string, unknown>>;
    expect((lock['']?.dependencies as Record<string, string> | undefined)?.undici).toBe(pinned);
    expect(lock['node_modules/undici']?.version).toBe(pinned);
    expect(json('node_modules/undici/package.json').version).toBe(pinned);
  });

  it('finds the modules the package index itself exports as Agent, request and errors', () => {
    const index = require('undici') as typeof import('undici');
    const [agent, request, errors] = DEEP_MODULES.map((path) => require(path) as unknown);
    expect(agent).toBe(index.Agent);
    expect(errors).toBe(index.errors);
    // The index wraps this function (URL parsing) as `request` and puts it on every dispatcher.
    expect(request).toBe(index.Dispatcher.prototype.request);
  });

  describe('against a real HTTP server', () => {
    let server: Server | undefined;
    afterEach(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      server = undefined;
    });

    async function serve(answer: (path: string) => { status: number; delayMs?: number }): Promise<string> {
      server = createServer((req, res) => {
        const { status, delayMs = 0 } = answer(req.url ?? '');
        setTimeout(() => res.writeHead(status).end(), delayMs);
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    it('sends the request to the path under /api/v1 and reads the answer', async () => {
      const paths: string[] = [];
      const origin = await serve((path) => {
        paths.push(path);
        return { status: 204 };
      });
      const agent = createKeepAliveAgent(1_000);
      const api = new HttpTolokaApi({ origin, requestTimeoutMs: 1_000, dispatcher: agent });
      await expect(api.act({ kind: 'pool', id: '42' }, 'open', 'OAuth t')).resolves.toEqual({
        kind: 'already-done',
      });
      expect(paths).toEqual(['/api/v1/pools/42/open']);
      await agent.close();
    });

    it("recognises undici's own time-out errors as time-outs", async () => {
      // An answer far later than the agent's headers time-out (undici's timers are coarse, and a
      // busy machine is slow: 1 s of margin was once not enough), and a request time-out later still.
      const origin = await serve(() => ({ status: 204, delayMs: 4_000 }));
      // The agent's headers time-out fires first: an error of undici's errors module, not an abort.
      const agent = createKeepAliveAgent(100);
      const api = new HttpTolokaApi({ origin, requestTimeoutMs: 10_000, dispatcher: agent });
      const error = await api.act({ kind: 'pool', id: '42' }, 'open', 'OAuth t').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TolokaNetworkError);
      expect(error).toMatchObject({ code: 'TIMEOUT' });
      expect((error as Error).cause).toBeInstanceOf(
        (require('undici') as typeof import('undici')).errors.HeadersTimeoutError,
      );
      await agent.destroy();
    });
  });
});
