/**
 * The documentation's emulator example, run as written: the lines of docs/cli.md's "Against the
 * local emulator" block are read from the file and run (the emulator on a free port instead of
 * 8080, which the test machine may have taken), so the page cannot drift from the program.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/support.ts';
import { freePort, runNode } from '../support/child-run.ts';
import { type EmulatorCli, startEmulatorCli } from '../support/emulator-cli.ts';

const page = readFileSync(`${REPO_ROOT}/docs/cli.md`, 'utf8');
const block = page.slice(page.indexOf('# Against the local emulator.'));
const lines = block
  .split('\n')
  .slice(1)
  .filter((line) => !line.startsWith('#'))
  .slice(0, 3)
  .map((line) => line.replace(/\s+#.*$/, '').trim());

let port = 0;
let emulator: EmulatorCli;

beforeAll(async () => {
  port = await freePort();
  const [start = ''] = lines;
  expect(start).toMatch(/^npm run emulator -- (.+) &$/);
  const args = (/^npm run emulator -- (.+) &$/.exec(start)?.[1] ?? '')
    .split(/\s+/)
    .map((arg) => (arg === '8080' ? String(port) : arg));
  emulator = await startEmulatorCli(args);
});

afterAll(async () => {
  await emulator.stop();
});

/** One `VAR=value … npx toloka-pool …` line, run as the shell would, with the port swapped. */
async function runLine(line: string) {
  const words = line.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`).split(/\s+/);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', NO_COLOR: '1' };
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const [name = '', ...value] = (words.shift() ?? '').split('=');
    env[name] = value.join('=');
  }
  expect(words.slice(0, 2)).toEqual(['npx', 'toloka-pool']);
  return runNode(['cli/toloka-pool.mjs', ...words.slice(2)], env);
}

describe("docs/cli.md's emulator example, as written", { timeout: 60_000 }, () => {
  it('starts the emulator with the pool the next lines open', () => {
    expect(emulator.base, emulator.output()).toBe(`http://127.0.0.1:${port}`);
    expect(emulator.output()).toContain('Pools: 1001;');
  });

  it('opens pool 1001 with --api-url and --wait: exit 0, OPENED', async () => {
    const run = await runLine(lines[1] ?? '');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`→ 127.0.0.1:${port} (from --api-url)`);
    expect(run.stdout).toMatch(/^pool 1001 is open \(operation /);
  });

  it('reads the pool with TOLOKA_API_URL, as the functions read it: exit 0', async () => {
    const run = await runLine(lines[2] ?? '');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`→ 127.0.0.1:${port} (from TOLOKA_API_URL)`);
    expect(run.stdout).toMatch(/pool\s+1001/);
  });
});
