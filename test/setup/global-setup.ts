/**
 * Once per test run: makes sure the Python peers are installed (.venv, created on first run)
 * and starts moto in server mode on a free localhost port for the tests that talk to AWS.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestProject } from 'vitest/node';
import { freePort } from '../support/child-run.ts';
import { realClockEnv } from '../support/real-clock.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** moto_server's origin, e.g. http://127.0.0.1:5123. */
    motoEndpoint: string;
    /** The Python interpreter that has moto and toloka-kit. */
    peerPython: string;
  }
}

const root = new URL('../../', import.meta.url).pathname;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync('bash', ['scripts/setup-python-tools.sh'], { cwd: root, stdio: 'inherit' });
  const port = await freePort();
  const moto = spawn(
    `${root}.venv/bin/python`,
    [`${root}scripts/moto-server.py`, '-H', '127.0.0.1', '-p', String(port)],
    {
      cwd: root,
      env: realClockEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  moto.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilUp(endpoint, moto, () => stderr);
  project.provide('motoEndpoint', endpoint);
  project.provide('peerPython', `${root}.venv/bin/python`);
  return async () => {
    moto.kill('SIGTERM');
  };
}

async function waitUntilUp(endpoint: string, moto: ChildProcess, stderr: () => string): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    if (moto.exitCode !== null) throw new Error(`moto_server exited with ${moto.exitCode}: ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  moto.kill('SIGKILL');
  throw new Error(`moto_server did not start within 30 s: ${stderr()}`);
}
