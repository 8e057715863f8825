import type { Failure } from './exit-codes.ts';
import type { ProgressStream } from './progress.ts';

/** The process as a command sees it: real in cli/main.ts, fakes in unit tests. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: ProgressStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Calls `handler` on Ctrl-C until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
}

/** What a command ends with; the runner prints it (JSON on stdout with --json) and exits with its code. */
export type CommandResult =
  | {
      readonly kind: 'success';
      /** The `--json` object. */
      readonly json: Record<string, unknown>;
      /** The lines for people, on stdout. */
      readonly text: string;
    }
  | {
      readonly kind: 'failure';
      readonly failure: Failure;
      /** The `--json` object when there is a record to show (FAILED, TIMED_OUT); else an `error` object. */
      readonly json?: Record<string, unknown>;
    };

/** `{"error": {...}}`: the `--json` object of a failure that has no outcome record. */
export function errorJson(failure: Failure): Record<string, unknown> {
  return {
    error: {
      code: failure.code,
      message: failure.message,
      ...(failure.hint !== undefined ? { hint: failure.hint } : {}),
      ...failure.details,
    },
  };
}

/** Prints a result the way every command does and returns the exit code. */
export function printResult(io: CliIo, result: CommandResult, json: boolean): number {
  if (result.kind === 'success') {
    io.stdout.write(
      json
        ? `${JSON.stringify(result.json)}\n`
        : result.text.endsWith('\n')
          ? result.text
          : `${result.text}\n`,
    );
    return 0;
  }
  const { failure } = result;
  io.stderr.write(`toloka-pool: ${failure.message}\n`);
  if (failure.hint !== undefined) io.stderr.write(`  ${failure.hint}\n`);
  if (json) io.stdout.write(`${JSON.stringify(result.json ?? errorJson(failure))}\n`);
  return failure.exitCode;
}
