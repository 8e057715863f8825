import { parseArgs } from 'node:util';
import { EmulatorConfigError } from './errors.ts';
import { type EmulatorSwitches, parseSwitches } from './switches.ts';
import { TolokaEmulator } from './toloka-emulator.ts';

const USAGE = `Usage: npm run emulator -- [--port 8080] [--host 127.0.0.1] [--token TOKEN ...] [switches]

Runs the Toloka API emulator until SIGINT or SIGTERM.
  --port   port to listen on (0 picks a free one); default 8080
  --host   address to bind; default 127.0.0.1
  --token  an accepted token, with either "OAuth" or "ApiKey"; repeatable; default local-dev-token
  --pool ID, --training ID   create a pool or training (CLOSED, opens in 3 s); repeatable

Switches (emulator/README.md; also POST /_emulator/switches):
  --second-open locked|same-operation   a second open while one runs: 409 (default) or the same operation
  --no-progress                         operations without "progress"
  --no-details                          operations without "details"
  --date-fraction-digits 0|3|6          fraction digits of the seconds in dates; default 3
  --operation-ids uuid|hex24            operation ID format; default uuid
  --unknown-status STATUS               show STATUS (e.g. QUEUED) instead of PENDING
  --bad-token-status 401|403            the answer to a bad token; default 401
  --auto-create-pools                   create unknown pools and trainings on first use (default: 404)`;

/** The token the emulator accepts when none is given: a known local value, not a secret. */
const DEFAULT_TOKEN = 'local-dev-token';

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: {
    port?: string;
    host?: string;
    token?: string[];
    pool?: string[];
    training?: string[];
    help?: boolean;
    'second-open'?: string;
    'no-progress'?: boolean;
    'no-details'?: boolean;
    'date-fraction-digits'?: string;
    'operation-ids'?: string;
    'unknown-status'?: string;
    'bad-token-status'?: string;
    'auto-create-pools'?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', short: 'p', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        token: { type: 'string', short: 't', multiple: true },
        pool: { type: 'string', multiple: true },
        training: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
        'second-open': { type: 'string' },
        'no-progress': { type: 'boolean' },
        'no-details': { type: 'boolean' },
        'date-fraction-digits': { type: 'string' },
        'operation-ids': { type: 'string' },
        'unknown-status': { type: 'string' },
        'bad-token-status': { type: 'string' },
        'auto-create-pools': { type: 'boolean' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  let switches: Partial<EmulatorSwitches>;
  try {
    switches = parseSwitches({
      ...(values['second-open'] === undefined ? {} : { secondOpen: values['second-open'] }),
      ...(values['no-progress'] === true ? { operationProgress: false } : {}),
      ...(values['no-details'] === true ? { operationDetails: false } : {}),
      ...(values['date-fraction-digits'] === undefined
        ? {}
        : { dateFractionDigits: Number(values['date-fraction-digits']) }),
      ...(values['operation-ids'] === undefined ? {} : { operationIds: values['operation-ids'] }),
      ...(values['unknown-status'] === undefined ? {} : { unknownStatus: values['unknown-status'] }),
      ...(values['bad-token-status'] === undefined
        ? {}
        : { badTokenStatus: Number(values['bad-token-status']) }),
      ...(values['auto-create-pools'] === true ? { autoCreatePools: true } : {}),
    });
  } catch (error) {
    if (error instanceof EmulatorConfigError) fail(error.message);
    throw error;
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port: "${values.port}" is not a port number`);
  const tokens = values.token ?? [DEFAULT_TOKEN];
  for (const [flag, ids] of [
    ['--pool', values.pool ?? []],
    ['--training', values.training ?? []],
  ] as const) {
    for (const id of ids) {
      // As Toloka's IDs and the app's trigger messages: a positive whole number, no leading zero.
      if (!/^[1-9][0-9]{0,18}$/.test(id)) {
        fail(
          `${flag}: "${id.slice(0, 40)}" is not a Toloka ID (a positive whole number in ASCII digits, no leading zero)`,
        );
      }
    }
  }

  const emulator = new TolokaEmulator({
    tokens,
    switches,
    pools: Object.fromEntries((values.pool ?? []).map((id) => [id, {}])),
    trainings: Object.fromEntries((values.training ?? []).map((id) => [id, {}])),
  });
  const origin = await emulator.start(port, values.host);
  console.log(
    `Toloka emulator listening on ${origin} (API at ${origin}/api/v1, control at ${origin}/_emulator)`,
  );
  const list = (ids: readonly string[] | undefined) =>
    ids === undefined || ids.length === 0 ? 'none' : ids.join(', ');
  console.log(
    `Pools: ${list(values.pool)}; trainings: ${list(values.training)}` +
      (switches.autoCreatePools === true ? ' (others are created on first use)' : ' (others answer 404)'),
  );
  // The default token is a known local one; tokens given with --token are secrets even locally:
  // say how many are accepted, never which.
  console.log(
    values.token === undefined
      ? `Token: ${DEFAULT_TOKEN} (the default), with OAuth or ApiKey`
      : `Accepting ${tokens.length} token${tokens.length === 1 ? '' : 's'} given with --token, with OAuth or ApiKey`,
  );

  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping`);
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
