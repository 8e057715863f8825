import { Command, CommanderError, Option } from 'commander';
import type { AppConfig } from '../lib/config.ts';
import packageJson from '../package.json' with { type: 'json' };
import { addActionCommand, EXIT_CODES_HELP, TOKEN_HELP } from './action-commands.ts';
import { connectionOptions, type RawConnectionOptions, withConnectionOptions } from './connection-options.ts';
import { ExitCode, failureFromError } from './exit-codes.ts';
import { type CliIo, type CommandResult, printResult } from './io.ts';
import {
  BadInputError,
  DEFAULT_OPENINGS_LIMIT,
  DEFAULT_SINCE,
  MAX_OPENINGS_LIMIT,
  parseOpeningsLimit,
  parseOperationId,
  parseSince,
  parseTableName,
  parseTarget,
  parseTargetOption,
} from './settings.ts';

const OPENINGS_EXIT_CODES_HELP = `
Exit codes:
  0  the openings were read (none is no error)
  2  bad input: an invalid option, or no table (--table / OPENINGS_TABLE)
  3  no AWS credentials or region, or AWS refused them (AccessDeniedException, ...)
  5  the table does not exist in this account and region, or another permanent AWS error
  7  DynamoDB unavailable (unreachable, throttling, 5xx) through the SDK's retries: try again later`;

const MISSING_TABLE =
  'no openings table: give --table <name> or set OPENINGS_TABLE (the stack output OpeningsTableName)';

/**
 * Runs `toloka-pool` with `args` (without `node` and the script) and returns the exit code.
 * Everything is written through `io`: cli/main.ts passes the process's streams.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const json = args.includes('--json');
  let result: CommandResult | undefined;
  const program = buildProgram(io, (produced) => {
    result = produced;
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.OK;
      // A bare `toloka-pool`: commander has printed the help to stderr already.
      const message =
        error.code === 'commander.help'
          ? 'a command is needed: open, close, status, pool, openings, schedule or doctor'
          : error.message.replace(/^error: /, '');
      return printResult(
        io,
        {
          kind: 'failure',
          failure: {
            exitCode: ExitCode.BAD_INPUT,
            code: 'BAD_INPUT',
            message,
            hint: `See ${commandPath(args)} --help.`,
          },
        },
        json,
      );
    }
    const failure = failureFromError(error);
    const hint =
      failure.hint ??
      (failure.exitCode === ExitCode.BAD_INPUT ? `See ${commandPath(args)} --help.` : undefined);
    return printResult(
      io,
      { kind: 'failure', failure: { ...failure, ...(hint !== undefined ? { hint } : {}) } },
      json,
    );
  }
  if (result === undefined) return ExitCode.OK;
  return printResult(io, result, json);
}

function buildProgram(io: CliIo, done: (result: CommandResult) => void): Command {
  const program = new Command('toloka-pool')
    .description(
      'Open and close Toloka pools and follow each to its end, with the same code as the toloka-pool-opener Lambdas.',
    )
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are printed by runCli, in the same form as every other failure.
      outputError: () => undefined,
    })
    .version(packageJson.version, '-V, --version', 'print the version of toloka-pool and exit')
    .exitOverride()
    .helpCommand(false)
    .addHelpText(
      'after',
      `${TOKEN_HELP}\n${EXIT_CODES_HELP}\n
Examples:
  $ export TOLOKA_TOKEN=...
  $ toloka-pool open 123456 --wait            open a pool and wait until it is open
  $ toloka-pool close 123456 --wait           close it, and wait until it is closed
  $ toloka-pool schedule -c config/my.jsonc   the schedules' next runs (local time and UTC)
  $ toloka-pool status 0bd6adad-...           an opening's operation
  $ toloka-pool pool 123456 --json            a pool's status and last close reason
  $ toloka-pool openings --since 7d           the app's openings of the last week (OPENINGS_TABLE)
  $ toloka-pool open --help                   every option of a command`,
    );

  const run = (command: () => Promise<CommandResult>) => async () => {
    done(await command());
  };

  for (const action of ['open', 'close'] as const) addActionCommand(program, action, io, run);

  const status = withConnectionOptions(
    program
      .command('status')
      .description('Show an operation: status, progress, when it was submitted and finished.')
      .argument('<operationId>', 'the operation ID that `toloka-pool open` printed'),
  );
  status
    .addHelpText(
      'after',
      `
Exit code 0 whenever the status was read, whatever it is (read "status" with --json:
PENDING, RUNNING, SUCCESS or FAIL); 5 for an unknown operation; 3 for a token Toloka refuses.
${TOKEN_HELP}

Examples:
  $ toloka-pool status 0bd6adad-1c5e-4c35-9d8e-0d6a4f0f2b1c
  $ toloka-pool status 0bd6adad-1c5e-4c35-9d8e-0d6a4f0f2b1c --env sandbox --json | jq -r .status`,
    )
    .action(
      run(async () => {
        const operationId = parseOperationId(status.args[0] ?? '');
        const settings = connectionOptions(status.opts<RawConnectionOptions>(), io.env);
        const { statusCommand } = await import('./read-commands.ts');
        return statusCommand(operationId, settings, io);
      }),
    );

  const pool = withConnectionOptions(
    program
      .command('pool')
      .description("Show a pool's (or a training's) status and last close reason.")
      .argument('<poolId>', 'the pool ID (a training ID with --training)')
      .option('--training', 'the ID is a training pool'),
  );
  pool
    .addHelpText(
      'after',
      `
Exit code 0 whenever the status was read; 5 for an unknown pool; 3 for a token Toloka refuses.
${TOKEN_HELP}

Examples:
  $ toloka-pool pool 123456
  $ toloka-pool pool 98765 --training --env sandbox
  $ toloka-pool pool 123456 --json | jq -r .lastCloseReason`,
    )
    .action(
      run(async () => {
        const options = pool.opts<RawConnectionOptions & { training?: true }>();
        const target = parseTarget(pool.args[0] ?? '', options.training === true);
        const settings = connectionOptions(options, io.env);
        const { poolCommand } = await import('./read-commands.ts');
        return poolCommand(target, settings, io);
      }),
    );

  const doctor = withConnectionOptions(
    program
      .command('doctor')
      .description(
        'Check what a deployment needs before its first opening: AWS, the CDK bootstrap, the token parameter, Toloka, the balance and each configured pool.',
      )
      .option(
        '-c, --config <file>',
        'the configuration file to check (its token parameter, environment and pools)',
      ),
  );
  doctor
    .addHelpText(
      'after',
      `
One line per check, with the fix when it fails. Exit code 0 only when every check passes; 5 when
one fails; 2 for a configuration file that is not valid.
AWS: the standard settings (AWS_PROFILE, AWS_REGION, ...). Toloka: the configuration's environment
(or --env, --api-url, TOLOKA_API_URL, TOLOKA_ENVIRONMENT), the token from its parameter.

Examples:
  $ toloka-pool doctor -c config/my.jsonc
  $ toloka-pool doctor --token-parameter /toloka/sandbox/api-token --env sandbox`,
    )
    .action(
      run(async () => {
        const options = doctor.opts<RawConnectionOptions & { config?: string }>();
        const settings = connectionOptions(options, io.env);
        let config: { file: string; value: AppConfig } | undefined;
        if (options.config !== undefined) {
          const { InvalidConfigurationError, loadConfig } = await import('../lib/config.ts');
          try {
            config = { file: options.config, value: loadConfig(options.config) };
          } catch (error) {
            if (!(error instanceof InvalidConfigurationError) && !(error instanceof Error)) throw error;
            throw new BadInputError('--config', (error as Error).message.replaceAll('\n', ' '));
          }
        }
        const { doctorCommand } = await import('./doctor.ts');
        return doctorCommand({ connection: settings, ...(config === undefined ? {} : { config }) }, io);
      }),
    );

  const openings = program
    .command('openings')
    .description(
      "List the app's recent openings from its DynamoDB table: pool, triggers, operation, outcome, times, checks.",
    )
    .addOption(new Option('--pool <id>', 'only the openings of this pool').conflicts('training'))
    .addOption(new Option('--training <id>', 'only the openings of this training pool').conflicts('pool'))
    .addOption(
      new Option('--since <duration>', 'requested in the last ... (30m, 12h, 1d, 7d, 2w)').default(
        DEFAULT_SINCE,
      ),
    )
    .addOption(
      new Option('--limit <n>', `show at most this many, newest first (1-${MAX_OPENINGS_LIMIT})`).default(
        DEFAULT_OPENINGS_LIMIT,
      ),
    )
    .option('--table <name>', "the openings table (default: OPENINGS_TABLE; the stack's OpeningsTableName)")
    .option('--verbose', "show each opening's ID, trigger IDs, deadline, report time and message")
    .option('--json', 'print one JSON object on stdout: {"openings": [...]}, every field of each');
  openings
    .addHelpText(
      'after',
      `
Reads the openings ledger (a Scan of the table, newest first). The table comes from --table or
OPENINGS_TABLE: the stack output OpeningsTableName, e.g.
  aws cloudformation describe-stacks --stack-name TolokaPoolOpener \\
    --query "Stacks[0].Outputs[?OutputKey=='OpeningsTableName'].OutputValue" --output text
AWS region, credentials and endpoint: the standard AWS settings (AWS_REGION, AWS_PROFILE,
AWS_ACCESS_KEY_ID, ..., AWS_ENDPOINT_URL); they need dynamodb:Scan on the table. No Toloka token.
An opening not decided yet shows IN PROGRESS and its state (STARTING: asking Toloka; FOLLOWING:
checking its operation). The table keeps an opening about 15 days.
${OPENINGS_EXIT_CODES_HELP}

Examples:
  $ export OPENINGS_TABLE=TolokaPoolOpener-OpeningsTable...
  $ toloka-pool openings
  $ toloka-pool openings --pool 123456 --since 7d --verbose
  $ toloka-pool openings --since 12h --json | jq -r '.openings[] | select(.outcome.outcome == "FAILED") | .poolId'`,
    )
    .action(
      run(async () => {
        const options = openings.opts<{
          pool?: string;
          training?: string;
          since: string;
          limit: string | number;
          table?: string;
          verbose?: true;
          json?: true;
        }>();
        const target =
          options.pool !== undefined
            ? parseTargetOption('pool', options.pool)
            : options.training !== undefined
              ? parseTargetOption('training', options.training)
              : undefined;
        const sinceMs = parseSince(options.since);
        const limit = parseOpeningsLimit(String(options.limit));
        const given = options.table ?? io.env.OPENINGS_TABLE;
        if (given === undefined || given.trim() === '') {
          return {
            kind: 'failure',
            failure: {
              exitCode: ExitCode.BAD_INPUT,
              code: 'TABLE_MISSING',
              message: MISSING_TABLE,
              details: { argument: '--table' },
            },
          };
        }
        const table = parseTableName(
          options.table !== undefined ? '--table' : 'OPENINGS_TABLE',
          given.trim(),
        );
        const { openingsCommand } = await import('./openings.ts');
        return openingsCommand(
          {
            table,
            target,
            sinceMs,
            sinceText: options.since.trim(),
            limit,
            verbose: options.verbose === true,
          },
          io,
        );
      }),
    );

  const schedule = program
    .command('schedule')
    .description(
      "List each schedule's next runs in its own time zone and in UTC: the action, the pool, the dates its calendars skip.",
    )
    .requiredOption('-c, --config <file>', 'the configuration file whose schedules to list')
    .addOption(new Option('--count <n>', 'runs of each schedule (1-100)').default('5'))
    .option('--from <instant>', 'list the runs after this ISO 8601 instant instead of now')
    .option('--json', 'one JSON object on stdout: {"schedules": [...]}');
  schedule
    .addHelpText(
      'after',
      `
Each run shows its wall-clock time with the zone's UTC offset, then the same instant in UTC; a
daylight-saving change is marked where Scheduler applies it (a time the clocks skip does not run,
a time they repeat runs once). A run on a date of a calendar the schedule skips is marked: its
trigger will end SKIPPED without a call to Toloka. Nothing is sent anywhere.

Examples:
  $ toloka-pool schedule -c config/my.jsonc
  $ toloka-pool schedule -c config/my.jsonc --count 10 --from 2027-03-20T00:00:00Z --json`,
    )
    .action(
      run(async () => {
        const options = schedule.opts<{ config: string; count: string; from?: string }>();
        const count = Number(options.count);
        if (!/^[0-9]+$/.test(options.count) || count < 1 || count > 100) {
          throw new BadInputError(
            '--count',
            `must be a whole number from 1 to 100, got ${JSON.stringify(options.count)}`,
          );
        }
        const fromMs = options.from === undefined ? Date.now() : Date.parse(options.from);
        if (
          options.from !== undefined &&
          (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T/.test(options.from) || Number.isNaN(fromMs))
        ) {
          throw new BadInputError(
            '--from',
            `must be an ISO 8601 instant such as 2027-03-20T00:00:00Z, got ${JSON.stringify(options.from)}`,
          );
        }
        const { InvalidConfigurationError, loadConfig } = await import('../lib/config.ts');
        let config: AppConfig;
        try {
          config = loadConfig(options.config, { now: new Date(fromMs) });
        } catch (error) {
          if (!(error instanceof InvalidConfigurationError) && !(error instanceof Error)) throw error;
          throw new BadInputError('--config', (error as Error).message.replaceAll('\n', ' '));
        }
        const { scheduleCommand } = await import('./schedule.ts');
        return scheduleCommand({ file: options.config, config, count, fromMs });
      }),
    );

  return program;
}

/** `toloka-pool open`, for "see … --help" after a usage error. */
function commandPath(args: readonly string[]): string {
  const command = args.find(
    (arg) =>
      arg === 'open' ||
      arg === 'close' ||
      arg === 'status' ||
      arg === 'pool' ||
      arg === 'openings' ||
      arg === 'doctor' ||
      arg === 'schedule',
  );
  return command === undefined ? 'toloka-pool' : `toloka-pool ${command}`;
}
