import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support.ts';

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
    const result = runApp({ configFile: 'test/fixtures/config/invalid.json' }, outdir);
    expect(result.status).toBe(1);
    const file = path.join(REPO_ROOT, 'test/fixtures/config/invalid.json');
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
});
