/**
 * `toloka-pool`: the command line (cli/toloka-pool.mjs loads this through tsx). It wires the
 * process to runCli and exits with its code (docs/cli.md lists them).
 */
import { ExitCode } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { runCli } from './program.ts';

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    const listener = () => {
      handler();
      process.exit(ExitCode.INTERRUPTED);
    };
    process.once('SIGINT', listener);
    return () => process.off('SIGINT', listener);
  },
};

// `toloka-pool --help | head`: a reader that went away is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), io);
