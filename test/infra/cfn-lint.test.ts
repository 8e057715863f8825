import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { stackIdOf, TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import { fixturePath, newApp, REPO_ROOT, TEST_ENV } from './support.ts';

// AWS's own CloudFormation linter (cfn-lint, from PyPI, in .venv with the other Python peers) on
// every template the app synthesizes from the example configuration and from the fixtures:
// zero errors and zero warnings. The rules it ignores are listed, each with its reason, in
// .cfnlintrc.yaml. Bundling is skipped: the linter reads the template, not the code assets.

const execFileAsync = promisify(execFile);
const CFN_LINT = path.join(REPO_ROOT, '.venv/bin/cfn-lint');

interface Finding {
  readonly Rule: { readonly Id: string };
  readonly Level: string;
  readonly Message: string;
  readonly Filename: string;
}

const outdir = mkdtempSync(path.join(tmpdir(), 'toloka-cfn-lint-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Synthesizes the stack from a configuration file and writes its template; returns the path. */
function writeTemplate(name: string, configFile: string, deployment?: string): string {
  const app = newApp({ bundle: false });
  const config = loadConfig(configFile);
  const stack = new TolokaPoolOpenerStack(app, stackIdOf(deployment), {
    config: deployment === undefined ? config : { ...config, deployment },
    env: TEST_ENV,
  });
  const template = app.synth().getStackByName(stack.stackName).template;
  const file = path.join(outdir, `${name}.template.json`);
  writeFileSync(file, JSON.stringify(template, null, 1));
  return file;
}

/** cfn-lint's findings for these templates, with the project's settings (.cfnlintrc.yaml). */
async function lint(files: readonly string[]): Promise<Finding[]> {
  try {
    const { stdout } = await execFileAsync(
      CFN_LINT,
      ['--config-file', path.join(REPO_ROOT, '.cfnlintrc.yaml'), '--format', 'json', '--', ...files],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    return JSON.parse(stdout || '[]') as Finding[];
  } catch (error) {
    // cfn-lint exits non-zero when it finds something (2 errors, 4 warnings, 8 informational).
    const { stdout, code } = error as { stdout?: string; code?: number };
    const output = stdout ?? '';
    if (typeof code === 'number' && code > 0 && output.trim().startsWith('[')) {
      return JSON.parse(output) as Finding[];
    }
    throw error;
  }
}

const templates = new Map<string, string>();
beforeAll(() => {
  templates.set('example', writeTemplate('example', path.join(REPO_ROOT, 'config/example.jsonc')));
  templates.set('full', writeTemplate('full', fixturePath('full.json')));
  templates.set('minimal', writeTemplate('minimal', fixturePath('minimal.json')));
  templates.set('named', writeTemplate('named', fixturePath('full.json'), 'sandbox'));
});

describe('cfn-lint', () => {
  it('finds no error and no warning in any synthesized template', async () => {
    const findings = await lint([...templates.values()]);
    const shown = findings.map((f) => `${path.basename(f.Filename)} ${f.Rule.Id} ${f.Message}`);
    expect(shown).toEqual([]);
  }, 120_000);

  it('ignores only the rules listed with their reason in .cfnlintrc.yaml', () => {
    const settings = readFileSync(path.join(REPO_ROOT, '.cfnlintrc.yaml'), 'utf8');
    const ignored = [...settings.matchAll(/^\s+- ([EWI][0-9]{4})$/gm)].map((m) => m[1]);
    expect(ignored).toEqual(['W3005']);
    // Each ignored rule is preceded by its reason.
    for (const id of ignored)
      expect(settings).toMatch(new RegExp(`# ${id} [^\\n]+\\n(\\s+#[^\\n]*\\n)*\\s+- ${id}`));
  });

  it('would report a template that CloudFormation refuses, so a clean run means something', async () => {
    const file = templates.get('minimal') ?? '';
    const broken = JSON.parse(readFileSync(file, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const queue = Object.values(broken.Resources).find((r) => r.Type === 'AWS::SQS::Queue');
    if (queue === undefined) throw new Error('no queue in the template');
    queue.Properties.VisibilityTimeout = 'soon';
    queue.Properties.DelaySeconds = 9_000;
    const brokenFile = path.join(outdir, 'broken.template.json');
    writeFileSync(brokenFile, JSON.stringify(broken));
    const findings = await lint([brokenFile]);
    expect(findings.filter((f) => f.Level === 'Error').length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
