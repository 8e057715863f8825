/** The options every Toloka command shares, and where they decide a command goes. */
import { type Command, Option } from 'commander';
import type { TolokaEnvironment } from '../lambda/runtime/config.ts';
import type { ConnectionOptions } from './connection.ts';
import { BadInputError, parseApiOrigin } from './settings.ts';

export interface RawConnectionOptions {
  env?: TolokaEnvironment;
  apiUrl?: string;
  tokenParameter?: string;
  json?: true;
}

/** --env / --api-url, --token-parameter and --json, on every command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--env <name>',
        'the Toloka environment (default: TOLOKA_API_URL or TOLOKA_ENVIRONMENT, as the functions read them, else production)',
      ).choices(['production', 'sandbox']),
    )
    .addOption(
      new Option(
        '--api-url <origin>',
        'an explicit API origin instead of --env, e.g. an emulator (https, or http for localhost)',
      ).conflicts('env'),
    )
    .option('--token-parameter <name>', 'read the token from this SSM SecureString instead of TOLOKA_TOKEN')
    .option('--json', 'print one JSON object on stdout');
}

/**
 * Where a command goes, as the functions decide it, flags first: `--api-url`, `--env`, then
 * TOLOKA_API_URL, TOLOKA_ENVIRONMENT, then production. A bad value names where it came from.
 */
export function connectionOptions(
  options: RawConnectionOptions,
  env: Readonly<Record<string, string | undefined>>,
): ConnectionOptions {
  const base = { tokenParameter: options.tokenParameter };
  if (options.apiUrl !== undefined) {
    return {
      ...base,
      env: 'production',
      envFrom: 'flag',
      apiUrl: parseApiOrigin(options.apiUrl),
      apiUrlFrom: '--api-url',
    };
  }
  if (options.env !== undefined) return { ...base, env: options.env, envFrom: 'flag' };
  const apiUrl = env.TOLOKA_API_URL?.trim();
  if (apiUrl !== undefined && apiUrl !== '') {
    return {
      ...base,
      env: 'production',
      envFrom: 'variable',
      apiUrl: parseApiOrigin(apiUrl, 'TOLOKA_API_URL'),
      apiUrlFrom: 'TOLOKA_API_URL',
    };
  }
  const named = env.TOLOKA_ENVIRONMENT?.trim();
  if (named === undefined || named === '') return { ...base, env: 'production', envFrom: 'default' };
  if (named !== 'production' && named !== 'sandbox') {
    throw new BadInputError(
      'TOLOKA_ENVIRONMENT',
      `must be "production" or "sandbox", got ${JSON.stringify(named.slice(0, 40))}`,
      'Unset it, or give --env.',
    );
  }
  return { ...base, env: named, envFrom: 'variable' };
}
