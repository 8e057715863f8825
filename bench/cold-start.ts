/**
 * Section 3: what a cold start costs. Each handler is bundled as lib/toloka-pool-opener.ts's
 * NodejsFunction bundles it (esbuild: ESM, minified, node24, mainFields module,main, the
 * createRequire banner; source maps off for measuring), once with the SDK bundled (as deployed)
 * and once with `@aws-sdk/*` external (as Lambda's runtime could provide it). Then fresh `node` processes import each bundle, alternating
 * with bare `node -e ""` starts; the ratio of the medians is the cost of the module initialisation.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { NODE_BIN, ROOT, withoutNodeOptions } from './infra.ts';
import { progress } from './output.ts';

/** As in lib/toloka-pool-opener.ts. */
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface Bundle {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly bytes: number;
  /** Packages by bytes in the output, largest first. */
  readonly packages: ReadonlyArray<{ name: string; bytes: number }>;
  /** External `@aws-sdk/*` modules the bundle imports statically (loaded at init) and with `import()`. */
  readonly staticExternals: readonly string[];
  readonly dynamicExternals: readonly string[];
}

export interface Variant {
  readonly name: string;
  readonly description: string;
  readonly kind: 'handler' | 'module' | 'first-invocation';
  readonly bundle: Bundle;
  readonly wallMs: number[];
  /** Measured inside the child: from just before `import()` to its end. */
  readonly importMs: number[];
  /** Measured inside the child (first-invocation variants): the handler call. */
  readonly invokeMs: number[];
  readonly failures: string[];
}

export interface ColdStartResult {
  readonly bareMs: number[];
  readonly variants: Variant[];
  readonly rounds: number;
}

const MODULE_ENTRIES: ReadonlyArray<{
  name: string;
  description: string;
  code: string;
  sdkExternal: boolean;
}> = [
  {
    name: 'undici',
    description: '`undici` (Agent, request)',
    code: "export { Agent, request } from 'undici';",
    sdkExternal: false,
  },
  {
    name: 'ssm (bundled SDK)',
    description: '`@aws-lambda-powertools/parameters/ssm` with `@aws-sdk/client-ssm` bundled',
    code: "export { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';",
    sdkExternal: false,
  },
  {
    name: 'ssm (SDK external)',
    description: '`@aws-lambda-powertools/parameters/ssm`, `@aws-sdk/*` from node_modules',
    code: "export { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';",
    sdkExternal: true,
  },
  {
    name: 'sqs (bundled)',
    description: '`@aws-sdk/client-sqs` bundled',
    code: "export { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';",
    sdkExternal: false,
  },
  {
    name: 'sqs (external)',
    description: '`@aws-sdk/client-sqs` from node_modules',
    code: "export { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';",
    sdkExternal: true,
  },
  {
    name: 'built-in fetch',
    description: "Node.js's own `fetch` (its internal undici), first touched",
    code: 'export const builtIn = [globalThis.fetch, new Headers()];',
    sdkExternal: false,
  },
  {
    name: 'logger',
    description: '`@aws-lambda-powertools/logger`',
    code: "export { Logger } from '@aws-lambda-powertools/logger';",
    sdkExternal: false,
  },
  {
    name: 'batch',
    description: '`@aws-lambda-powertools/batch`',
    code: "export { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';",
    sdkExternal: false,
  },
];

export async function runColdStart(options: {
  rounds: number;
  /** Environment for the first-invocation runs: the emulator, moto, the token parameter. */
  invocationEnv: Record<string, string>;
  /** A pool that answers 204. */
  openPoolId: string;
}): Promise<ColdStartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'toloka-bench-'));
  // External packages resolve from the bundle's folder upwards, as they do from /var/task in Lambda.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  try {
    progress('cold start: bundling');
    const bundles = new Map<string, Bundle>();
    for (const entry of ['open-pool', 'check-operation']) {
      for (const sdkExternal of [true, false]) {
        const name = `${entry} (${sdkExternal ? 'SDK external' : 'SDK bundled'})`;
        bundles.set(
          name,
          await bundle(dir, name, join(ROOT, 'lambda', `${entry}.ts`), sdkExternal, `lambda/${entry}.ts`),
        );
      }
    }
    for (const module of MODULE_ENTRIES) {
      const entry = join(dir, `${slug(module.name)}.ts`);
      writeFileSync(entry, `${module.code}\n`);
      bundles.set(module.name, await bundle(dir, module.name, entry, module.sdkExternal, module.description));
    }

    const variants: Variant[] = [];
    const add = (kind: Variant['kind'], bundleName: string, name = bundleName, description?: string) => {
      const found = bundles.get(bundleName);
      if (found === undefined) throw new Error(`no bundle ${bundleName}`);
      variants.push({
        name,
        description: description ?? found.description,
        kind,
        bundle: found,
        wallMs: [],
        importMs: [],
        invokeMs: [],
        failures: [],
      });
    };
    for (const name of bundles.keys()) {
      if (name.startsWith('open-pool') || name.startsWith('check-operation')) add('handler', name);
    }
    for (const module of MODULE_ENTRIES) add('module', module.name);
    for (const name of ['open-pool (SDK external)', 'open-pool (SDK bundled)']) {
      add(
        'first-invocation',
        name,
        `${name}: init + first invocation`,
        'import, then one direct invocation (204)',
      );
    }

    const bareMs: number[] = [];
    const baseEnv = withoutNodeOptions(process.env);
    // One warm-up of each, so the file cache is as warm for the first round as for the last.
    await runChild(['-e', '']);
    for (const variant of variants) await runVariant(variant, baseEnv, options, false);
    for (let round = 0; round < options.rounds; round++) {
      progress(`cold start: round ${round + 1}/${options.rounds}`);
      for (const variant of variants) {
        bareMs.push((await runChild(['-e', ''])).wallMs);
        await runVariant(variant, baseEnv, options, true);
      }
    }
    return { bareMs, variants, rounds: options.rounds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runVariant(
  variant: Variant,
  baseEnv: NodeJS.ProcessEnv,
  options: { invocationEnv: Record<string, string>; openPoolId: string },
  record: boolean,
): Promise<void> {
  const url = pathToFileURL(variant.bundle.file).href;
  let code: string;
  let env = baseEnv;
  if (variant.kind === 'first-invocation') {
    code =
      `const t0 = performance.now(); const m = await import(${JSON.stringify(url)}); const t1 = performance.now();` +
      ` const r = await m.handler({ poolId: ${JSON.stringify(options.openPoolId)} }); const t2 = performance.now();` +
      ` process.stderr.write('BENCH ' + JSON.stringify({ importMs: t1 - t0, invokeMs: t2 - t1, outcome: r.outcome }) + '\\n');` +
      ' process.exit(0);';
    env = { ...baseEnv, ...options.invocationEnv };
  } else {
    code =
      `const t0 = performance.now(); await import(${JSON.stringify(url)});` +
      ` process.stderr.write('BENCH ' + JSON.stringify({ importMs: performance.now() - t0 }) + '\\n');`;
  }
  const result = await runChild(['--input-type=module', '-e', code], env);
  if (!record) return;
  const line = result.stderr.split('\n').find((candidate) => candidate.startsWith('BENCH '));
  if (result.code !== 0 || line === undefined) {
    variant.failures.push(`exit ${result.code}: ${result.stderr.slice(-300)}`);
    return;
  }
  const measured = JSON.parse(line.slice('BENCH '.length)) as {
    importMs: number;
    invokeMs?: number;
    outcome?: string;
  };
  if (variant.kind === 'first-invocation' && measured.outcome !== 'ALREADY_OPEN') {
    variant.failures.push(`outcome ${measured.outcome}`);
    return;
  }
  variant.wallMs.push(result.wallMs);
  variant.importMs.push(measured.importMs);
  if (measured.invokeMs !== undefined) variant.invokeMs.push(measured.invokeMs);
}

function runChild(
  args: string[],
  env: NodeJS.ProcessEnv = withoutNodeOptions(process.env),
): Promise<{ wallMs: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE_BIN, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ wallMs: performance.now() - started, code, stderr }));
  });
}

async function bundle(
  dir: string,
  name: string,
  entry: string,
  sdkExternal: boolean,
  description: string,
): Promise<Bundle> {
  const outdir = join(dir, slug(name));
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, 'index.mjs');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    external: sdkExternal ? ['@aws-sdk/*'] : [],
    outfile: file,
    metafile: true,
    logLevel: 'silent',
  });
  const text = readFileSync(file, 'utf8');
  const unique = (pattern: RegExp) =>
    [...new Set([...text.matchAll(pattern)].map((match) => match[1] ?? ''))].sort();
  return {
    name,
    description,
    file,
    bytes: statSync(file).size,
    packages: packagesOf(result.metafile),
    // Only an SDK-external build has external SDK imports (a bundled SDK mentions module names in strings).
    staticExternals: sdkExternal ? unique(/(?:from\s*|(?:^|[;}])import\s*)"(@aws-sdk\/[^"]+)"/gm) : [],
    dynamicExternals: sdkExternal ? unique(/import\(\s*"(@aws-sdk\/[^"]+)"\s*\)/g) : [],
  };
}

function packagesOf(metafile: Metafile): Array<{ name: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
      const name = match?.[1] ?? '(app code)';
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function slug(name: string): string {
  return name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
}
