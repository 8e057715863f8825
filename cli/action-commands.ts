/**
 * `toloka-pool open <id>` and `toloka-pool close <id>`: one definition for both actions, which
 * run through the Lambdas' domain code (cli/action.ts).
 */
import { type Command, Option } from 'commander';
import type { Action } from '../lambda/runtime/model.ts';
import { connectionOptions, type RawConnectionOptions, withConnectionOptions } from './connection-options.ts';
import type { CliIo, CommandResult } from './io.ts';
import {
  BadInputError,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  parseTarget,
  parseTimeoutSeconds,
} from './settings.ts';

export const EXIT_CODES_HELP = `
Exit codes:
  0  opened or closed, already so, started (without --wait), skipped, or status read
  2  bad input: an invalid ID or option (nothing was sent to Toloka)
  3  no token, an unreadable one, or Toloka refused it (401/403)
  4  Toloka refused (409): its code, message and request_id are printed
  5  failed: the operation ended in FAIL, not found (404), another permanent error
  6  timed out: --wait reached --timeout before the operation ended
  7  Toloka or the network unavailable after retries: try again later`;

export const TOKEN_HELP = `
Token: TOLOKA_TOKEN (an API key or OAuth token), or --token-parameter <name> to read an SSM
SecureString with the standard AWS settings (AWS_REGION, AWS_PROFILE, ...). It is never printed.`;

const TEXT: Record<Action, { readonly ing: string; readonly done: string; readonly already: string }> = {
  open: { ing: 'opening', done: 'OPENED', already: 'ALREADY_OPEN' },
  close: { ing: 'closing', done: 'CLOSED', already: 'ALREADY_CLOSED' },
};

/** Adds the command of `action` to the program. */
export function addActionCommand(
  program: Command,
  action: Action,
  io: CliIo,
  run: (command: () => Promise<CommandResult>) => () => Promise<void>,
): void {
  const { ing, done, already } = TEXT[action];
  const command = withConnectionOptions(
    program
      .command(action)
      .description(
        `Ask Toloka to ${action} a pool (or a training) and, with --wait, follow the ${ing} to its end.`,
      )
      .argument('<poolId>', 'the pool ID (a training ID with --training)')
      .option('--training', 'the ID is a training pool')
      .option('--wait', 'follow the operation until it ends; progress on stderr')
      .addOption(
        new Option(
          '--timeout <seconds>',
          `with --wait: give up after this long (1-${MAX_TIMEOUT_SECONDS})`,
        ).default(DEFAULT_TIMEOUT_SECONDS),
      ),
  );
  command
    .addHelpText(
      'after',
      `
Without --wait it returns once Toloka has accepted the ${ing}: the output names the operation
(outcome PENDING); an operation that is already done reports ${done}. With --wait it follows the
operation as the checker Lambda does (first check after 0.5 s, then backing off) and prints a
progress bar on stderr (one line per change when stderr is not a terminal).
--json prints one JSON object on stdout: the outcome record as the Lambdas log it
({"outcome":"${done}"|"${already}"|"FAILED"|"TIMED_OUT","action":"${action}",...}) or {"outcome":"PENDING","operationId":...}.
${TOKEN_HELP}
${EXIT_CODES_HELP}

Examples:
  $ TOLOKA_TOKEN=... toloka-pool ${action} 123456
  $ toloka-pool ${action} 123456 --wait --timeout 600
  $ toloka-pool ${action} 98765 --training --env sandbox --wait
  $ toloka-pool ${action} 123456 --token-parameter /toloka/prod/api-token --json
  $ toloka-pool ${action} 1001 --api-url http://127.0.0.1:8080 --wait      (the local emulator: npm run emulator)`,
    )
    .action(
      run(async () => {
        const options = command.opts<
          RawConnectionOptions & { training?: true; wait?: true; timeout: string | number }
        >();
        const timeoutGiven = command.getOptionValueSource('timeout') === 'cli';
        if (timeoutGiven && options.wait !== true) {
          throw new BadInputError(
            '--timeout',
            'applies only with --wait',
            'Add --wait, or leave --timeout out.',
          );
        }
        const target = parseTarget(command.args[0] ?? '', options.training === true);
        const settings = {
          ...connectionOptions(options, io.env),
          wait: options.wait === true,
          timeoutSeconds: parseTimeoutSeconds(String(options.timeout)),
        };
        // The domain (undici, the AWS SDK) loads only once the arguments are known to be good.
        const { actionCommand } = await import('./action.ts');
        return actionCommand(target, action, settings, io);
      }),
    );
}
