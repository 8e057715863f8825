import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface EmulatorCli {
  readonly child: ChildProcessWithoutNullStreams;
  /** Its URL, as it printed it; undefined if it never said it was accepting. */
  readonly base: string | undefined;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then its exit code (null if it had already exited). */
  stop(): Promise<number | null>;
}

/** `npm run emulator` (emulator/main.ts) with `args`, once it says which tokens it accepts (or gives up after 20 s). */
export async function startEmulatorCli(args: readonly string[]): Promise<EmulatorCli> {
  const child = spawn('node_modules/.bin/tsx', ['emulator/main.ts', ...args], { cwd: ROOT });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const deadline = Date.now() + 20_000;
  while (!/Accepting|Token: /.test(output) && Date.now() < deadline && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    base: output.match(/http:\/\/127\.0\.0\.1:\d+/)?.[0],
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return null;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
