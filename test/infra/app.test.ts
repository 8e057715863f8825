import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixturePath, REPO_ROOT } from './support.ts';

const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * Runs bin/app.ts the way the CDK CLI does (context in CDK_CONTEXT_JSON, output to CDK_OUTDIR),
 * from another working directory: relative config paths must still resolve from the repo root.
 */
function runApp(context: Record<string, unknown>, outdir: string) {
  return spawnSync(process.execPath, ['--import', TSX_LOADER, path.join(REPO_ROOT, 'bin/app.ts')], {
    cwd: outdir,
    encoding: 'utf8',
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
    timeout: 120_000,
  });
}

const outdirs: string[] = [];
const newOutdir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toloka-cdk-app-'));
  outdirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('bin/app.ts', () => {
  it('fails with every configuration problem when the configuration file is bad', () => {
    const outdir = newOutdir();
    const file = fixturePath('invalid.json');
    const result = runApp({ configFile: file }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`Invalid configuration in ${file}:\n - region: unknown key`);
    expect(result.stderr).toContain(
      ' - pools[0].schedules[0].timeZone: "Mars/Base" is not an IANA time zone',
    );
    expect(existsSync(path.join(outdir, 'manifest.json'))).toBe(false);
  });

  it('synthesizes the TolokaPoolOpener stack from the configuration file given as context', () => {
    const outdir = newOutdir();
    const result = runApp(
      { configFile: 'test/fixtures/config/minimal.json', 'aws:cdk:bundling-stacks': [] },
      outdir,
    );
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.status).toBe(0);
    const template = JSON.parse(readFileSync(path.join(outdir, 'TolokaPoolOpener.template.json'), 'utf8'));
    type Resource = { Type: string; Properties: { Environment?: { Variables?: Record<string, string> } } };
    const variables = Object.values(template.Resources as Record<string, Resource>)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties.Environment?.Variables?.TOLOKA_TOKEN_PARAMETER);
    expect(variables).toEqual(['toloka-sandbox-token', 'toloka-sandbox-token']);
  });

  it('says in one line that it deploys the example configuration when no configuration file is given', () => {
    const outdir = newOutdir();
    const result = runApp({ 'aws:cdk:bundling-stacks': [] }, outdir);
    expect(result.status).toBe(0);
    const notes = result.stderr.split('\n').filter((line) => line.includes('example configuration'));
    expect(notes).toEqual([
      expect.stringMatching(
        /^Note: no -c configFile=… given, so this is the example configuration config\/example\.jsonc/,
      ),
    ]);
    expect(existsSync(path.join(outdir, 'TolokaPoolOpener.template.json'))).toBe(true);
  });

  it('names the stack and its resources after the deployment, from the file or from -c deployment', () => {
    const dir = newOutdir();
    const file = path.join(dir, 'named.json');
    writeFileSync(file, JSON.stringify({ ...MINIMAL, deployment: 'sandbox' }));
    const fromFile = newOutdir();
    expect(runApp({ configFile: file, 'aws:cdk:bundling-stacks': [] }, fromFile).status).toBe(0);
    expect(existsSync(path.join(fromFile, 'TolokaPoolOpener-sandbox.template.json'))).toBe(true);

    const fromContext = newOutdir();
    const result = runApp(
      { configFile: file, deployment: 'prod', 'aws:cdk:bundling-stacks': [] },
      fromContext,
    );
    expect(result.status).toBe(0);
    const text = readFileSync(path.join(fromContext, 'TolokaPoolOpener-prod.template.json'), 'utf8');
    expect(text).not.toContain('TolokaPoolOpener-sandbox');
    type Resource = { Type: string; Properties: Record<string, unknown> };
    const resources = Object.values(JSON.parse(text).Resources as Record<string, Resource>);
    const ofType = (type: string) => resources.filter((r) => r.Type === type).map((r) => r.Properties);
    const namespaces = ofType('AWS::Logs::MetricFilter').flatMap((p) =>
      (p.MetricTransformations as { MetricNamespace: string }[]).map((m) => m.MetricNamespace),
    );
    expect(namespaces.length).toBeGreaterThan(0);
    expect(new Set(namespaces)).toEqual(new Set(['TolokaPoolOpener/prod']));
    // The dashboard name ends in the region, which the template leaves to CloudFormation.
    expect(ofType('AWS::CloudWatch::Dashboard').map((p) => JSON.stringify(p.DashboardName))).toEqual([
      expect.stringContaining('"TolokaPoolOpener-prod-Toloka-"'),
    ]);
    const alarmNames = ofType('AWS::CloudWatch::Alarm').map((p) => String(p.AlarmName));
    expect(alarmNames.length).toBeGreaterThan(0);
    for (const name of alarmNames) expect(name).toMatch(/^TolokaPoolOpener-prod-/);
  });

  // Every problem a configuration can cause ends as configuration errors naming its fields: one
  // line each, exit code 1, no stack trace. The dates are relative to the clock the app reads.
  const day = 86_400_000;
  const badConfigs: readonly {
    readonly name: string;
    readonly config: object;
    readonly lines: readonly string[];
  }[] = [
    {
      name: 'a fast path the function time-out cannot hold',
      config: { ...MINIMAL, poll: { fastPathSeconds: 55 } },
      lines: [
        "poll.fastPathSeconds: 55 must be at most 48: the opener's 60 s time-out must leave 12 s after the fast path (one Toloka request and a margin)",
      ],
    },
    {
      name: 'a start date that has passed',
      config: withSchedules(
        { expression: 'rate(1 day)' },
        { expression: 'rate(2 days)', startDate: iso(-2 * day) },
      ),
      lines: ['pools[0].schedules[1].startDate: '],
    },
    {
      name: 'a cron field out of its range',
      config: withSchedules({ expression: 'cron(61 25 ? * MON-FRI *)' }),
      lines: [
        'pools[0].schedules[0].expression: "cron(61 25 ? * MON-FRI *)" has an invalid minutes field "61"',
      ],
    },
    {
      name: 'a bad deployment name',
      config: { ...MINIMAL, deployment: 'my sandbox' },
      lines: ['deployment: "my sandbox" must be 1-32 letters, digits and hyphens, starting with a letter'],
    },
  ];

  it.each(badConfigs)('reports $name as a configuration error naming the field', ({ config, lines }) => {
    const dir = newOutdir();
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(config));
    const result = runApp({ configFile: file, 'aws:cdk:bundling-stacks': [] }, dir);
    expect(result.status).toBe(1);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('TolokaPoolOpener props');
    const [first, ...problems] = result.stderr.trim().split('\n');
    expect(first).toBe(`Invalid configuration in ${file}:`);
    expect(problems).toEqual(lines.map((line) => expect.stringContaining(` - ${line}`)));
  });

  it('refuses a bad -c deployment in one line', () => {
    const dir = newOutdir();
    const result = runApp({ configFile: 'test/fixtures/config/minimal.json', deployment: '1st' }, dir);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid context: - deployment: "1st" must be 1-32 letters, digits and hyphens, starting with a letter',
    );
  });
});

const MINIMAL = { environment: 'sandbox', tokenParameterName: 'toloka-sandbox-token' };

function iso(fromNowMs: number): string {
  return new Date(Date.now() + fromNowMs).toISOString();
}

function withSchedules(...schedules: object[]): object {
  return { ...MINIMAL, pools: [{ poolId: '7', schedules }] };
}
