/**
 * The test's own child processes and ports: a Node.js script of the repository run to its end
 * (what a user types), and a free localhost port.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node <args>` in the repository, with `env`; `onStderr` sees stderr as it grows. */
export function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onStderr?: (stderrSoFar: string) => void,
): Promise<Run> {
  return runCommand(process.execPath, args, { cwd: ROOT, env, onStderr });
}

/** `command <args>` to its end, in `cwd` (default: the repository) with exactly `env`. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; onStderr?: (stderrSoFar: string) => void },
): Promise<Run> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(stderr);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}

/** A localhost port nothing listens on (free when asked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}
