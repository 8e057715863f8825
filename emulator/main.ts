import { parseArgs } from 'node:util';
import { TolokaEmulator } from './toloka-emulator.ts';

const USAGE = `Usage: npm run emulator -- [--port 8080] [--host 127.0.0.1] [--token TOKEN ...]

Runs the Toloka API emulator until SIGINT or SIGTERM.
  --port   port to listen on (0 picks a free one); default 8080
  --host   address to bind; default 127.0.0.1
  --token  an accepted token, with either "OAuth" or "ApiKey"; repeatable; default local-dev-token`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { port?: string; host?: string; token?: string[]; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', short: 'p', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        token: { type: 'string', short: 't', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port: "${values.port}" is not a port number`);
  const tokens = values.token ?? ['local-dev-token'];

  const emulator = new TolokaEmulator({ tokens });
  const origin = await emulator.start(port, values.host);
  // Tokens are secrets even locally: say how many are accepted, never which.
  console.log(
    `Toloka emulator listening on ${origin} (API at ${origin}/api/v1, control at ${origin}/_emulator)`,
  );
  console.log(`Accepting ${tokens.length} token${tokens.length === 1 ? '' : 's'} with OAuth or ApiKey`);

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
