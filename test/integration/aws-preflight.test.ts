import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/support.ts';
import { runNode } from '../support/child-run.ts';

// `npm run deploy` and `npm run diff` first check that AWS credentials and a region resolve, and
// say in one line what to set when they do not, before CDK bundles anything.

const preflight = (env: Record<string, string>) =>
  runNode(['--import', 'tsx', 'scripts/aws-preflight.ts'], {
    PATH: process.env.PATH ?? '',
    // A home without ~/.aws: only what the test gives counts.
    HOME: '/nonexistent-home-for-preflight',
    ...env,
  });

describe('the AWS preflight of deploy and diff', { timeout: 30_000 }, () => {
  it('runs before cdk diff, and first thing in scripts/deploy.ts', () => {
    const scripts = (
      JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.deploy).toBe('tsx scripts/deploy.ts');
    expect(scripts.diff).toBe('tsx scripts/aws-preflight.ts && cdk diff');
  });

  it('says in one line what to set without a region, and exits 3', async () => {
    const run = await preflight({});
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('toloka-pool: no AWS region: set AWS_PROFILE');
  });

  it('says in one line what to set without credentials, and exits 3', async () => {
    const run = await preflight({ AWS_REGION: 'eu-west-1' });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      'toloka-pool: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION',
    );
  });

  it('lets the command go on when both resolve, without calling AWS', async () => {
    const run = await preflight({
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('toloka-pool:');
  });
});
