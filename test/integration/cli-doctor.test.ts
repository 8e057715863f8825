/**
 * `toloka-pool doctor` against real peers: moto for AWS (the token parameter, the CDK bootstrap
 * parameter) and the emulator for Toloka (`/requester`, the pools, `/tasks`), through the
 * installed command line as a child process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ParameterType, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { runNode } from '../support/child-run.ts';
import { clients, putSecureToken, REGION } from '../support/moto.ts';

const TOKEN = 'doctor-token-Vb82kLq';
const PARAMETER = `/toloka/doctor-${process.pid}/api-token`;
let emulator: TolokaEmulator;
let motoEndpoint = '';
const dir = mkdtempSync(path.join(tmpdir(), 'doctor-'));

beforeAll(async () => {
  motoEndpoint = inject('motoEndpoint');
  process.env.AWS_ENDPOINT_URL = motoEndpoint;
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  });
  const { ssm } = clients();
  await putSecureToken(ssm, PARAMETER, TOKEN);
  await ssm.send(
    new PutParameterCommand({
      Name: '/cdk-bootstrap/hnb659fds/version',
      Value: '28',
      Type: ParameterType.STRING,
      Overwrite: true,
    }),
  );
  await ssm.send(
    new PutParameterCommand({
      Name: `${PARAMETER}-plain`,
      Value: TOKEN,
      Type: ParameterType.STRING,
      Overwrite: true,
    }),
  );
  emulator = new TolokaEmulator({
    tokens: [TOKEN],
    pools: { '9101': {}, '9102': { status: 'ARCHIVED' }, '9103': { tasks: 0 } },
    trainings: { '9201': {} },
  });
  await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
});

const daily = [{ expression: 'rate(1 day)' }];

function configFile(name: string, content: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ environment: 'sandbox', tokenParameterName: PARAMETER, ...content }));
  return file;
}

/** A child's environment: moto for AWS, a home without ~/.aws, and what the test adds. */
const childEnv = (more: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  HOME: dir,
  NO_COLOR: '1',
  AWS_ENDPOINT_URL: motoEndpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  ...more,
});

const doctor = (args: string[], env: Record<string, string> = {}) =>
  runNode(['cli/toloka-pool.mjs', 'doctor', '--api-url', emulator.url, ...args], childEnv(env));

describe('toloka-pool doctor', { timeout: 60_000 }, () => {
  it('passes every check of a ready deployment: exit 0, one line each', async () => {
    const file = configFile('ready', {
      pools: [
        { poolId: '9101', schedules: daily },
        { trainingId: '9201', schedules: daily },
      ],
    });
    const run = await doctor(['-c', file]);
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      `✓ AWS credentials and region: resolved, region ${REGION}`,
      `✓ CDK bootstrap: version 28 in ${REGION}`,
      `✓ token parameter ${PARAMETER}: a SecureString, decrypted`,
      `✓ Toloka accepts the token: ${emulator.url}: requester Emulated requester`,
      '✓ balance: $100.00',
      '✓ pool 9101: CLOSED, has tasks',
      '✓ training 9201: CLOSED, has tasks',
      '',
    ]);
  });

  it('names each pool that cannot open, with the fix: archived, no tasks, unknown; exit 5', async () => {
    const file = configFile('pools', {
      pools: ['9102', '9103', '9104'].map((poolId) => ({ poolId, schedules: daily })),
    });
    const run = await doctor(['-c', file]);
    expect(run.code).toBe(5);
    expect(run.stderr, run.stderr).toContain('✗ pool 9102: archived');
    expect(run.stderr).toContain(
      '✗ pool 9103: CLOSED, no tasks\n    fix: upload tasks to pool 9103 before it opens',
    );
    expect(run.stderr).toContain(`✗ pool 9104: does not exist in ${emulator.url}`);
    expect(run.stderr).toContain('3 checks failed');
  });

  it('names a token parameter that is missing or not encrypted, with the command that fixes it', async () => {
    const missing = await doctor([
      '-c',
      configFile('missing', { tokenParameterName: '/toloka/nowhere/api-token' }),
    ]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('✗ token parameter /toloka/nowhere/api-token: does not exist');
    expect(missing.stderr).toContain(
      'fix: aws ssm put-parameter --type SecureString --name /toloka/nowhere/api-token',
    );
    const plain = await doctor(['-c', configFile('plain', { tokenParameterName: `${PARAMETER}-plain` })]);
    expect(plain.code).toBe(5);
    expect(plain.stderr).toContain('a String, not a SecureString');
    expect(plain.stderr).not.toContain(TOKEN);
  });

  it('says what to set without AWS credentials, and checks Toloka with TOLOKA_TOKEN', async () => {
    const run = await doctor([], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', TOLOKA_TOKEN: TOKEN });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('✗ AWS credentials and region: no credentials');
    expect(run.stderr).toContain(
      'fix: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION',
    );
    expect(run.stderr).toContain('✓ Toloka accepts the token');
  });

  it('reports a refused token and a zero balance', async () => {
    emulator.balance = 0;
    try {
      const zero = await doctor(['-c', configFile('zero', {})]);
      expect(zero.stderr).toContain('✗ balance: $0.00\n    fix: top up the account in Toloka');
    } finally {
      emulator.balance = 100;
    }
    const refused = await doctor([], { TOLOKA_TOKEN: 'not-a-token', AWS_ACCESS_KEY_ID: '' });
    expect(refused.stderr).toContain(`✗ Toloka accepts the token: ${emulator.url} refused it (HTTP 401)`);
  });
});

describe('npm run deploy', { timeout: 60_000 }, () => {
  const deploy = (args: string[], env: Record<string, string> = {}) =>
    runNode(['--import', 'tsx', 'scripts/deploy.ts', ...args], childEnv(env));

  it('runs doctor on the configuration it deploys, and stops before CDK when a check fails', async () => {
    const file = configFile('undeployable', { tokenParameterName: '/toloka/not-there/api-token' });
    for (const form of [
      ['-c', `configFile=${file}`],
      ['--context', `configFile=${file}`],
      [`--context=configFile=${file}`],
    ]) {
      const run = await deploy([...form, '--require-approval', 'never']);
      expect(run.code).toBe(5);
      expect(run.stderr).toContain('✗ token parameter /toloka/not-there/api-token: does not exist');
      expect(run.stderr).toContain('toloka-pool: not deploying: fix what doctor found above');
      expect(run.stdout + run.stderr).not.toMatch(/Bundling|cdk deploy|CloudFormation/);
    }
  });

  it('stops at once without AWS credentials, before doctor or CDK', async () => {
    const run = await deploy(['-c', 'configFile=config/example.jsonc'], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('toloka-pool: no AWS credentials');
    expect(run.stderr).not.toContain('✓');
  });
});
