/**
 * `toloka-pool doctor`: the checks a deployment needs to open its first pool, one line each with
 * the fix. AWS: credentials and region resolve, the CDK bootstrap is there, the token parameter
 * exists, is a SecureString and decrypts. Toloka (the environment the configuration names, or
 * the flags): it accepts the token, the balance is above zero, and each configured pool or
 * training exists, is not archived and has tasks. Exit code 0 only when every check passes.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { StaticTokenSource } from '../lambda/adapters/token-sources.ts';
import { authorizationHeader } from '../lambda/runtime/authorization.ts';
import { TolokaApiError } from '../lambda/runtime/errors.ts';
import type { TolokaTarget } from '../lambda/runtime/model.ts';
import type { AppConfig } from '../lib/config.ts';
import { resolveAwsSettings } from './aws-settings.ts';
import { type ConnectionOptions, connect } from './connection.ts';
import { ExitCode } from './exit-codes.ts';
import type { CliIo, CommandResult } from './io.ts';
import { parseApiOrigin, targetLabel } from './settings.ts';

export interface Check {
  readonly check: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** What to do, when not ok. */
  readonly fix?: string;
}

/** The CDK's default bootstrap qualifier: `cdk bootstrap` writes its version here. */
const BOOTSTRAP_VERSION_PARAMETER = '/cdk-bootstrap/hnb659fds/version';

export interface DoctorOptions {
  readonly connection: ConnectionOptions;
  /** The configuration file's content and path, with `-c`. */
  readonly config?: { readonly file: string; readonly value: AppConfig };
}

export async function doctorCommand(options: DoctorOptions, io: CliIo): Promise<CommandResult> {
  const checks: Check[] = [];
  const parameter = options.connection.tokenParameter ?? options.config?.value.tokenParameterName;
  const aws = await awsChecks(parameter);
  checks.push(...aws.checks);
  // The token: the parameter's, when it decrypted; else TOLOKA_TOKEN.
  const token = aws.token ?? (parameter === undefined ? io.env.TOLOKA_TOKEN?.trim() : undefined);
  if (token === undefined || token === '') {
    checks.push({
      check: 'Toloka token',
      ok: false,
      detail:
        parameter === undefined ? 'none: no -c, --token-parameter or TOLOKA_TOKEN' : 'not readable from SSM',
      fix: 'give -c <config> or --token-parameter <name> (with AWS credentials), or set TOLOKA_TOKEN',
    });
  } else {
    checks.push(...(await tolokaChecks(options, io, token)));
  }
  const passed = checks.every((check) => check.ok);
  const text = checks
    .map(
      (check) =>
        `${check.ok ? '✓' : '✗'} ${check.check}: ${check.detail}${check.fix ? `\n    fix: ${check.fix}` : ''}`,
    )
    .join('\n');
  const json = { ok: passed, checks };
  if (passed) return { kind: 'success', json, text };
  const failed = checks.filter((check) => !check.ok).length;
  return {
    kind: 'failure',
    json,
    failure: {
      exitCode: ExitCode.FAILED,
      code: 'CHECKS_FAILED',
      message: `${text}\n${failed} check${failed === 1 ? '' : 's'} failed`,
      details: {},
    },
  };
}

async function awsChecks(parameter: string | undefined): Promise<{ checks: Check[]; token?: string }> {
  const sdk = await import('@aws-sdk/client-ssm');
  const client = new sdk.SSMClient({ maxAttempts: 2 });
  const checks: Check[] = [];
  try {
    const settings = await resolveAwsSettings(client);
    if ('missing' in settings) {
      checks.push(noAws(`no ${settings.missing}`));
      return { checks };
    }
    const { region } = settings;
    checks.push({ check: 'AWS credentials and region', ok: true, detail: `resolved, region ${region}` });
    checks.push(await bootstrapCheck(client, sdk.GetParameterCommand, region));
    if (parameter === undefined) return { checks };
    return await tokenParameterCheck(client, sdk.GetParameterCommand, parameter, checks);
  } finally {
    client.destroy();
  }
}

function noAws(what: string): Check {
  return {
    check: 'AWS credentials and region',
    ok: false,
    detail: what,
    fix: 'set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION',
  };
}

type GetParameter = typeof import('@aws-sdk/client-ssm').GetParameterCommand;

async function bootstrapCheck(client: SSMClient, Get: GetParameter, region: string): Promise<Check> {
  try {
    const { Parameter } = await client.send(new Get({ Name: BOOTSTRAP_VERSION_PARAMETER }));
    return { check: 'CDK bootstrap', ok: true, detail: `version ${Parameter?.Value ?? '?'} in ${region}` };
  } catch (error) {
    return {
      check: 'CDK bootstrap',
      ok: false,
      detail: `${BOOTSTRAP_VERSION_PARAMETER} ${nameOf(error) === 'ParameterNotFound' ? 'does not exist' : `unreadable (${nameOf(error)})`}`,
      fix: `npx cdk bootstrap (once per account and region: ${region})`,
    };
  }
}

async function tokenParameterCheck(
  client: SSMClient,
  Get: GetParameter,
  name: string,
  checks: Check[],
): Promise<{ checks: Check[]; token?: string }> {
  const check = `token parameter ${name}`;
  try {
    const { Parameter } = await client.send(new Get({ Name: name, WithDecryption: true }));
    if (Parameter?.Type !== 'SecureString') {
      checks.push({
        check,
        ok: false,
        detail: `a ${Parameter?.Type ?? 'parameter of no type'}, not a SecureString`,
        fix: `store it again encrypted: aws ssm put-parameter --overwrite --type SecureString --name ${name} --value "$TOLOKA_TOKEN"`,
      });
      return { checks };
    }
    checks.push({ check, ok: true, detail: 'a SecureString, decrypted' });
    return { checks, ...(Parameter.Value === undefined ? {} : { token: Parameter.Value }) };
  } catch (error) {
    const missing = nameOf(error) === 'ParameterNotFound';
    checks.push({
      check,
      ok: false,
      detail: missing ? 'does not exist' : `not readable (${nameOf(error)})`,
      fix: missing
        ? `aws ssm put-parameter --type SecureString --name ${name} --value "$TOLOKA_TOKEN"`
        : 'check ssm:GetParameter and, with a customer managed key, kms:Decrypt for these credentials',
    });
    return { checks };
  }
}

async function tolokaChecks(options: DoctorOptions, io: CliIo, token: string): Promise<Check[]> {
  const config = options.config?.value;
  // The configuration's environment and apiUrl unless a flag or variable said otherwise.
  const connection: ConnectionOptions =
    options.connection.apiUrl === undefined &&
    options.connection.envFrom === 'default' &&
    config !== undefined
      ? {
          ...options.connection,
          env: config.environment,
          ...(typeof config.apiUrl === 'string'
            ? { apiUrl: parseApiOrigin(config.apiUrl, 'apiUrl'), apiUrlFrom: 'the configuration' }
            : {}),
        }
      : options.connection;
  const env = { ...io.env, TOLOKA_TOKEN: token };
  const client = connect({ ...connection, tokenParameter: undefined }, { env, stderr: io.stderr });
  const checks: Check[] = [];
  const where = connection.apiUrl ?? connection.env;
  try {
    const authorization = authorizationHeader(token, new StaticTokenSource(token, 'the token').source);
    try {
      const requester = await client.toloka.getRequester(authorization);
      checks.push({
        check: 'Toloka accepts the token',
        ok: true,
        detail: `${where}: requester ${requester.name ?? requester.id}`,
      });
      const balance = requester.balance;
      checks.push(
        balance === undefined || balance > 0
          ? {
              check: 'balance',
              ok: true,
              detail: balance === undefined ? 'not shown' : `$${balance.toFixed(2)}`,
            }
          : {
              check: 'balance',
              ok: false,
              detail: `$${balance.toFixed(2)}`,
              fix: 'top up the account in Toloka',
            },
      );
    } catch (error) {
      const refused =
        error instanceof TolokaApiError && (error.httpStatus === 401 || error.httpStatus === 403);
      checks.push({
        check: 'Toloka accepts the token',
        ok: false,
        detail: refused
          ? `${where} refused it (HTTP ${(error as TolokaApiError).httpStatus})`
          : describe(error),
        fix: refused
          ? 'a sandbox token works only with the sandbox, and a production one only with production: check "environment"'
          : 'check the network and Toloka, then run doctor again',
      });
      return checks;
    }
    for (const target of targetsOf(config))
      checks.push(await targetCheck(client.toloka, authorization, target, where));
    return checks;
  } finally {
    await client.close();
  }
}

function targetsOf(config: AppConfig | undefined): TolokaTarget[] {
  return (config?.pools ?? []).map((pool) =>
    pool.poolId !== undefined
      ? { kind: 'pool', id: pool.poolId }
      : { kind: 'training', id: pool.trainingId ?? '' },
  );
}

async function targetCheck(
  toloka: ReturnType<typeof connect>['toloka'],
  authorization: string,
  target: TolokaTarget,
  where: string,
): Promise<Check> {
  const check = targetLabel(target);
  try {
    const state = await toloka.getTarget(target, authorization);
    if (state.status === 'ARCHIVED') {
      return {
        check,
        ok: false,
        detail: 'archived',
        fix: `an archived ${target.kind} cannot be opened: use another, or clone it in Toloka`,
      };
    }
    if (!(await toloka.hasTasks(target, authorization))) {
      return {
        check,
        ok: false,
        detail: `${state.status}, no tasks`,
        fix: `upload tasks to ${check} before it opens`,
      };
    }
    return { check, ok: true, detail: `${state.status}, has tasks` };
  } catch (error) {
    if (error instanceof TolokaApiError && error.httpStatus === 404) {
      return {
        check,
        ok: false,
        detail: `does not exist in ${where}`,
        fix: 'check the ID and the configuration\'s "environment"',
      };
    }
    return { check, ok: false, detail: describe(error), fix: 'run doctor again' };
  }
}

function nameOf(error: unknown): string {
  return (error as { name?: string }).name ?? 'Error';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200);
}
