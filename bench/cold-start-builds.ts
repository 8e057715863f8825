/**
 * The builds section 3 compares: the construct's esbuild build (lib/handler-bundle.mjs) with its
 * techniques switched one at a time, the deployed assets as `cdk synth` makes them, and what is
 * in each (files, bytes at init, packages).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { handlerBuildOptions } from '../lib/handler-bundle.mjs';
import { ROOT, withoutNodeOptions } from './infra.ts';

/** The banner before: `require` for the CommonJS inside; the deployed one is lib/handler-bundle.mjs's. */
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
export const SOURCE_MAPS_FLAG = '--enable-source-maps';

/** The build switches: `DEPLOYED` is what lib/toloka-pool-opener.ts builds. */
export interface Techniques {
  readonly undiciIndex: boolean;
  readonly split: boolean;
  readonly sourcesContent: boolean;
  /** Maps without sourceMappingURL, read by the banner when a stack is formatted; no flag. */
  readonly lazyMaps: boolean;
  /** Built-ins through `process.getBuiltinModule()`, not ESM imports (no module facades). */
  readonly noFacades?: boolean;
  readonly directSsm?: boolean;
  readonly powertoolsCjs?: boolean;
}
export const BEFORE: Techniques = {
  undiciIndex: true,
  split: false,
  sourcesContent: true,
  lazyMaps: false,
};
export const DEPLOYED: Techniques = {
  undiciIndex: false,
  split: true,
  sourcesContent: false,
  lazyMaps: true,
};

/** Each step adds one technique to the row above; the last is the deployed build itself. */
export const STEPS: ReadonlyArray<{ name: string; techniques: Techniques }> = [
  {
    name: 'before: undici through its index, one file, maps with their sources, `--enable-source-maps`',
    techniques: BEFORE,
  },
  {
    name: "undici's Agent, request and errors modules instead of its index",
    techniques: { ...BEFORE, undiciIndex: false },
  },
  {
    name: 'code splitting: the SDK clients in chunks loaded on first use',
    techniques: { ...BEFORE, undiciIndex: false, split: true },
  },
  {
    name: 'source maps without `sourcesContent`',
    techniques: { ...BEFORE, undiciIndex: false, split: true, sourcesContent: false },
  },
  {
    name: 'source maps read when a stack is formatted, not `--enable-source-maps` (the deployed bundle, from `cdk synth`)',
    techniques: DEPLOYED,
  },
];
/** Tried on top of the deployed build, not adopted. */
export const TRIES: ReadonlyArray<{ name: string; techniques: Techniques }> = [
  {
    name: '`GetParameterCommand` directly instead of Powertools Parameters',
    techniques: { ...DEPLOYED, directSsm: true },
  },
  {
    name: 'Powertools as CommonJS (its built-ins through `require()`)',
    techniques: { ...DEPLOYED, powertoolsCjs: true },
  },
  {
    name: "built-ins through `process.getBuiltinModule()`, not ESM imports, so that no module facade loads Node's own undici",
    techniques: { ...DEPLOYED, noFacades: true },
  },
];

/** The SSMProvider the token source uses, done with the SDK alone, as a direct version would. */
const DIRECT_SSM = `import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
export class SSMProvider {
  #client = new SSMClient({});
  #cache = new Map();
  async get(name, { decrypt, maxAge }) {
    const hit = this.#cache.get(name);
    if (hit !== undefined && hit.until > Date.now()) return hit.value;
    const out = await this.#client.send(new GetParameterCommand({ Name: name, WithDecryption: decrypt }));
    this.#cache.set(name, { value: out.Parameter?.Value, until: Date.now() + maxAge * 1000 });
    return out.Parameter?.Value;
  }
}`;

export interface BundleSize {
  readonly files: number;
  readonly bytes: number;
  /** index.mjs and what it imports statically: the code a cold start compiles. */
  readonly initBytes: number;
  readonly mapBytes: number;
  /** undici's files in the bundle (bench builds: from the metafile). */
  readonly undiciFiles?: number;
  /** Packages by bytes in the code loaded at init, largest first (bench builds). */
  readonly initPackages?: ReadonlyArray<{ name: string; bytes: number }>;
}

/** `cdk synth` into `out`: the opener's and the checker's asset directories and NODE_OPTIONS. */
export async function synthDeployed(
  out: string,
): Promise<Record<'open-pool' | 'check-operation', { dir: string; size: BundleSize; nodeOptions: string }>> {
  // Without the handlers' AWS settings, which point at this process: the CLI would look up the account there.
  const env = Object.fromEntries(
    Object.entries(withoutNodeOptions(process.env)).filter(([name]) => !name.startsWith('AWS_')),
  );
  const cdk = spawn(
    join(ROOT, 'node_modules/.bin/cdk'),
    ['synth', '--quiet', '--no-notices', '--output', out],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    cdk.once('error', reject);
    cdk.once('close', resolve);
  });
  if (code !== 0) throw new Error(`cdk synth exited with ${code}`);
  const template = JSON.parse(readFileSync(join(out, 'TolokaPoolOpener.template.json'), 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Metadata?: Record<string, string>; Properties: Record<string, unknown> }
    >;
  };
  const find = (suffix: string) => {
    const resource = Object.values(template.Resources).find(
      (candidate) =>
        candidate.Type === 'AWS::Lambda::Function' && candidate.Metadata?.['aws:cdk:path']?.endsWith(suffix),
    );
    if (resource === undefined) throw new Error(`no function …${suffix} in the synthesized template`);
    const key = (resource.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const variables = (resource.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const dir = join(out, `asset.${key}`);
    return { dir, size: sizeOf(dir), nodeOptions: variables.NODE_OPTIONS ?? '' };
  };
  return { 'open-pool': find('/Opener/Resource'), 'check-operation': find('/Checker/Resource') };
}

/** esbuild as the construct runs it (lib/handler-bundle.mjs), with the techniques switched as asked. */
export async function bundle(entry: string, out: string, techniques: Techniques): Promise<BundleSize> {
  mkdirSync(out, { recursive: true });
  const deployed = handlerBuildOptions(entry, out);
  const result = await build({
    ...deployed,
    sourcemap: techniques.lazyMaps ? 'external' : true,
    sourcesContent: techniques.sourcesContent,
    banner: techniques.lazyMaps ? deployed.banner : { js: BANNER },
    absWorkingDir: ROOT,
    // The pieces' entries live in a temporary folder.
    nodePaths: [join(ROOT, 'node_modules')],
    splitting: techniques.split,
    ...(techniques.powertoolsCjs === true ? { conditions: ['module', 'require'] } : {}),
    plugins: [
      ...(techniques.noFacades === true ? [builtinsWithoutFacade] : []),
      ...(techniques.undiciIndex ? [undiciThroughIndex] : []),
      ...(techniques.directSsm === true ? [directSsm] : []),
    ],
    metafile: true,
    logLevel: 'silent',
  });
  return sizeOf(out, result.metafile);
}

const rootRequire = createRequire(join(ROOT, 'package.json'));

/** The deep undici imports of lambda/adapters/http-toloka-api.ts, each loading the package index first. */
const undiciThroughIndex: Plugin = {
  name: 'undici-through-index',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^undici\/lib\// }, (args) => ({
      path: rootRequire.resolve(args.path),
      namespace: 'undici-index',
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'undici-index' }, (args) => ({
      contents: `require('undici'); module.exports = require(${JSON.stringify(args.path)});`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * Node.js built-ins that ESM code imports (the AWS SDK's `import { request } from "node:https"`)
 * reached through `process.getBuiltinModule()` instead of an ESM `import`: an ESM import of a
 * built-in builds its module facade, which reads every export, and `node:http`'s lazy `WebSocket`
 * getter then loads Node's own undici on the first invocation. Each shim is CommonJS to esbuild,
 * whose interop copies every export as a getter, which costs back part of what it saves.
 */
const builtinsWithoutFacade: Plugin = {
  name: 'builtins-without-facade',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) =>
      BUILTINS.has(args.path) && args.kind !== 'require-call'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'node-builtin' }
        : undefined,
    );
    esbuild.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

const directSsm: Plugin = {
  name: 'direct-ssm',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^@aws-lambda-powertools\/parameters\/ssm$/ }, () => ({
      path: 'ssm',
      namespace: 'direct-ssm',
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'direct-ssm' }, () => ({
      contents: DIRECT_SSM,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

function sizeOf(dir: string, metafile?: Metafile): BundleSize {
  const files = readdirSync(dir);
  const bytes = (name: string) => statSync(join(dir, name)).size;
  const code = files.filter((name) => name.endsWith('.mjs'));
  const atInit = ['index.mjs'];
  for (let i = 0; i < atInit.length; i++) {
    const text = readFileSync(join(dir, atInit[i] ?? ''), 'utf8');
    for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*"\.\/([^"]+\.mjs)"/g)) {
      if (match[1] !== undefined && !atInit.includes(match[1])) atInit.push(match[1]);
    }
  }
  const size = {
    files: code.length,
    bytes: code.reduce((sum, name) => sum + bytes(name), 0),
    initBytes: atInit.reduce((sum, name) => sum + bytes(name), 0),
    mapBytes: files.filter((name) => name.endsWith('.map')).reduce((sum, name) => sum + bytes(name), 0),
  };
  if (metafile === undefined) return size;
  const packages = new Map<string, number>();
  const undici = new Set<string>();
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    const atInitOutput = atInit.some((name) => output.endsWith(`/${name}`));
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
      const name = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? '(app code)';
      if (name === 'undici' && !input.includes(':')) undici.add(input);
      if (atInitOutput) packages.set(name, (packages.get(name) ?? 0) + bytesInOutput);
    }
  }
  return {
    ...size,
    undiciFiles: undici.size,
    initPackages: [...packages].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}
