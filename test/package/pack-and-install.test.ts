/**
 * The package as a user gets it: `npm pack` (which builds dist/), a fresh
 * `cdk init app --language typescript` in a temporary folder, its dependencies and the tarball
 * installed from the registry, README.md's "Use it in your own CDK app" stack synthesized with
 * cdk-nag's AwsSolutions pack (CommonJS, and the same stack from an ESM file), then, with the
 * app's dev dependencies pruned (no tsx, no TypeScript, no esbuild), the installed command line's
 * `--version` and an `open` against the emulator.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/support.ts';
import { runCommand } from '../support/child-run.ts';
import { type EmulatorCli, startEmulatorCli } from '../support/emulator-cli.ts';

const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const TOKEN = 'pack-test-token';

/** `command args` in `cwd`, to its end, with the test's environment and `env`. */
async function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = await runCommand(command, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', ...env },
  });
  return { ...result, output: `${result.stdout}${result.stderr}` };
}

/** `run`, failing with the command's output unless it exits with 0. */
async function runOk(command: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv) {
  const result = await run(command, args, cwd, env);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${result.code}:\n${result.output.slice(-4000)}`,
    );
  }
  return result;
}

/** The README block that begins with `// lib/app-stack.ts`, as written. */
function readmeStack(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /```ts\n(\/\/ lib\/app-stack\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no ```ts block starting with // lib/app-stack.ts');
  return block;
}

/** SHA-256 of every file under `dir`, by relative path. */
function digest(dir: string): Record<string, string> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(path.join(dir, file)).isFile())
    .sort();
  return Object.fromEntries(
    files.map((file) => [
      file,
      createHash('sha256')
        .update(readFileSync(path.join(dir, file)))
        .digest('hex'),
    ]),
  );
}

let work = '';
let app = '';
let tarball = '';
type Ran = Awaited<ReturnType<typeof run>>;
let synth: Ran;
let esmSynth: Ran;
let unsafeSynth: Ran;
let emulator: EmulatorCli | undefined;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'toloka-pack-'));
  app = path.join(work, 'app');
  const packed = await runOk('npm', ['pack', '--pack-destination', work], REPO_ROOT);
  tarball = path.join(work, packed.stdout.trim().split('\n').at(-1) ?? '');

  // cdk init refuses a folder that is not empty, and makes the app's name from the folder's.
  await runOk('mkdir', [app], work);
  await runOk(
    path.join(REPO_ROOT, 'node_modules/.bin/cdk'),
    ['init', 'app', '--language', 'typescript', '--generate-only'],
    app,
  );
  const manifest = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const ourNag = (
    JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    }
  ).devDependencies['cdk-nag'];
  manifest.dependencies['toloka-pool-opener'] = `file:${tarball}`;
  manifest.dependencies['cdk-nag'] = ourNag ?? 'latest';
  writeFileSync(path.join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await runOk('npm', ['install', '--no-audit', '--no-fund'], app);

  writeFileSync(path.join(app, 'lib', 'app-stack.ts'), readmeStack());
  writeFileSync(
    path.join(app, 'bin', 'app.ts'),
    [
      "import * as cdk from 'aws-cdk-lib/core';",
      "import * as sqs from 'aws-cdk-lib/aws-sqs';",
      "import { AwsSolutionsChecks } from 'cdk-nag';",
      "import { AppStack } from '../lib/app-stack';",
      '',
      'const app = new cdk.App();',
      'cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));',
      "const stack = new AppStack(app, 'AppStack');",
      '// The control: a queue cdk-nag must refuse, which shows the pack really runs.',
      "if (process.env.ADD_UNSAFE_QUEUE === '1') new sqs.Queue(stack, 'UnsafeQueue');",
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(app, 'bin', 'esm-app.mts'),
    [
      "import { App, Stack } from 'aws-cdk-lib';",
      "import { TolokaPoolOpener } from 'toloka-pool-opener';",
      '',
      "const app = new App({ outdir: 'cdk.out.esm' });",
      "const stack = new Stack(app, 'EsmStack');",
      "new TolokaPoolOpener(stack, 'Toloka', { tokenParameterName: '/toloka/api-token' });",
      'app.synth();',
      '',
    ].join('\n'),
  );

  synth = await run('npx', ['cdk', 'synth', '--quiet'], app);
  unsafeSynth = await run('npx', ['cdk', 'synth', '--quiet', '--output', 'cdk.out.unsafe'], app, {
    ADD_UNSAFE_QUEUE: '1',
  });
  esmSynth = await run('npx', ['tsx', 'bin/esm-app.mts'], app);

  await runOk('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund'], app);
  emulator = await startEmulatorCli(['--port', '0', '--token', TOKEN, '--pool', '1001']);
}, 900_000);

afterAll(async () => {
  await emulator?.stop();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the compiled faces and no sources, tests or lock file', () => {
    const installed = path.join(app, 'node_modules', 'toloka-pool-opener');
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'cli', 'config', 'dist', 'package.json']);
    expect(readdirSync(path.join(installed, 'cli'))).toEqual(['toloka-pool.mjs']);
    expect(readdirSync(path.join(installed, 'dist')).sort()).toEqual(['cli', 'handlers', 'lib', 'types']);
  });
});

describe("a `cdk init app --language typescript` app with README.md's stack", { timeout: 60_000 }, () => {
  it('type-checks and synthesizes, with the AwsSolutions pack, and no finding', () => {
    expect(synth.code, synth.output).toBe(0);
    const report = JSON.parse(readFileSync(path.join(app, 'cdk.out', 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { ruleName: string }[] }[];
    };
    expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((v) => v.ruleName))).toEqual([]);
  });

  it('fails that synth when a resource breaks the pack: cdk-nag really runs there', () => {
    expect(unsafeSynth.code).not.toBe(0);
    expect(unsafeSynth.output).toContain('AwsSolutions-SQS4');
    expect(unsafeSynth.output).toContain('AppStack/UnsafeQueue');
    expect(unsafeSynth.output).not.toMatch(/AppStack\/Toloka\/\S+\s/);
  });

  it("deploys the package's pre-bundled handlers as they are: Node.js 24, index.handler, nothing bundled at synth", () => {
    const template = JSON.parse(
      readFileSync(path.join(app, 'cdk.out', 'AppStack.template.json'), 'utf8'),
    ) as {
      Resources: Record<
        string,
        { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> }
      >;
    };
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2);
    const shipped = ['open-pool', 'check-operation'].map((name) =>
      digest(path.join(app, 'node_modules', 'toloka-pool-opener', 'dist', 'handlers', name)),
    );
    const deployed = functions.map((fn) => {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Architectures: ['arm64'],
      });
      return digest(path.join(app, 'cdk.out', fn.Metadata?.['aws:asset:path'] ?? 'missing'));
    });
    // The same two sets of files, byte for byte, whatever order the template lists the functions in.
    const inOrder = (sets: Record<string, string>[]) => sets.map((set) => JSON.stringify(set)).sort();
    expect(inOrder(deployed)).toEqual(inOrder(shipped));
    expect(Object.keys(shipped[0] ?? {})).toContain('index.mjs');
  });

  it('synthesizes the construct from an ESM module too', () => {
    expect(esmSynth.code, esmSynth.output).toBe(0);
    const template = readFileSync(path.join(app, 'cdk.out.esm', 'EsmStack.template.json'), 'utf8');
    expect(template).toContain('nodejs24.x');
  });
});

describe('the installed command line, with no dev dependency in the app', { timeout: 60_000 }, () => {
  it('has no tsx, TypeScript or esbuild left to lean on', () => {
    for (const name of ['tsx', 'typescript', 'esbuild', 'aws-cdk']) {
      expect(existsSync(path.join(app, 'node_modules', name)), name).toBe(false);
    }
  });

  it('prints its version', async () => {
    const result = await run('npx', ['--no-install', 'toloka-pool', '--version'], app);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout.trim()).toBe(VERSION);
  });

  it('opens a pool of the emulator and follows it to OPENED', async () => {
    expect(emulator?.base, emulator?.output()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const result = await run(
      'npx',
      ['--no-install', 'toloka-pool', 'open', '1001', '--api-url', emulator?.base ?? '', '--wait', '--json'],
      app,
      { TOLOKA_TOKEN: TOKEN },
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('→ 127.0.0.1:');
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'OPENED', poolId: '1001' });
    expect(result.output).not.toContain(TOKEN);
  });
});
