/**
 * Where the functions' code comes from. In the installed package (`npm run build`, then
 * `npm pack`) the handlers ship pre-bundled in `dist/handlers/<name>/`, so a consumer's synth
 * needs neither esbuild nor Docker, nor this repository's sources or lock file. In this
 * repository there is no such directory next to `lib/`, and `NodejsFunction` bundles the
 * TypeScript at synth, with the same esbuild options (lib/handler-bundle.mjs) the build uses.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

/**
 * The package root: this file is `<root>/lib/handler-code.ts` in the repository, and is bundled
 * into `<root>/dist/lib/index.js` in the package; either way its directory's parent.
 */
const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** The handlers' entry files, by the name of their pre-bundled directory. */
export const HANDLER_ENTRIES = {
  'open-pool': 'lambda/open-pool.ts',
  'check-operation': 'lambda/check-operation.ts',
} as const;

export type HandlerName = keyof typeof HANDLER_ENTRIES;

/** The pre-bundled handler's directory (`index.mjs` and its chunks), or undefined in the repository. */
export function prebuiltHandlerDir(name: HandlerName, root: string = ROOT): string | undefined {
  const dir = path.join(root, 'handlers', name);
  return existsSync(path.join(dir, 'index.mjs')) ? dir : undefined;
}

/** Everything of the function but its code: runtime, handler and bundling are decided here. */
export type HandlerFunctionProps = Omit<lambda.FunctionProps, 'code' | 'handler' | 'runtime'>;

/** The runtime the handlers are bundled for (`target: 'node24'`) and the tests run on. */
const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** A Node.js 24 function running `name`'s `handler`, from the package's bundle or from the sources. */
export function handlerFunction(
  scope: Construct,
  id: string,
  name: HandlerName,
  props: HandlerFunctionProps,
): lambda.Function {
  const fn = newHandlerFunction(scope, id, name, props);
  acknowledgeTestedRuntime(fn);
  return fn;
}

/**
 * cdk-nag AwsSolutions-L1 asks for the newest runtime of the family that the app's aws-cdk-lib
 * knows, so the finding appears in a consumer's app as soon as its aws-cdk-lib lists a newer
 * Node.js (2.278 lists nodejs26.x) even though nothing in the package changed. The runtime is
 * a decision of the package, not of the consumer's library version: the handlers are built for
 * it and every test runs on it; moving is a change of its own, with its tests on the new runtime.
 */
function acknowledgeTestedRuntime(fn: lambda.Function): void {
  const cfnFunction = fn.node.defaultChild;
  if (cfnFunction === undefined) throw new Error(`${fn.node.path} has no CloudFormation function`);
  Validations.of(cfnFunction).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      `The handlers are bundled for ${HANDLER_RUNTIME.name} and every test of the package runs on it; ` +
      'a newer Node.js runtime is adopted by a release of the package, with its tests run there, not by ' +
      "the consumer's aws-cdk-lib version.",
  });
}

function newHandlerFunction(
  scope: Construct,
  id: string,
  name: HandlerName,
  props: HandlerFunctionProps,
): lambda.Function {
  const runtime = HANDLER_RUNTIME;
  const prebuilt = prebuiltHandlerDir(name);
  if (prebuilt !== undefined) {
    return new lambda.Function(scope, id, {
      ...props,
      runtime,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(prebuilt),
    });
  }
  const entry = HANDLER_ENTRIES[name];
  return new nodejs.NodejsFunction(scope, id, {
    ...props,
    runtime,
    entry: path.join(ROOT, entry),
    handler: 'handler',
    projectRoot: ROOT,
    depsLockFilePath: path.join(ROOT, 'package-lock.json'),
    bundling: {
      // esbuild splits code only into a directory, which NodejsFunction's own run (one
      // --outfile) cannot take: afterBundling builds again, split, and replaces its output.
      // These options only make that first run quick; the deployed build is the one below.
      format: nodejs.OutputFormat.ESM,
      target: 'node24',
      sourceMap: false,
      // That first run's size report ("index.mjs 2.5mb ⚠️") is of the unsplit file that is
      // then replaced (the deployed index.mjs is about 360 KB): errors only.
      logLevel: nodejs.LogLevel.ERROR,
      // The AWS SDK is bundled rather than taken from the runtime: the version the tests ran
      // against, and code that imports faster than the SDK's many files (docs/benchmarks.md).
      externalModules: [],
      forceDockerBundling: false,
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // lib/handler-bundle.mjs: split, so that the SDK clients the handlers import with
        // import() (SSM, DynamoDB, SQS, EventBridge) are chunks that load on first use, not
        // code every cold start compiles, and the banner that maps stack traces to the
        // TypeScript. test/infra/bundle.test.ts checks it; scripts/build.ts uses it too.
        afterBundling: (inputDir: string, outputDir: string) => {
          const sh = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
          const script = path.join(ROOT, 'lib', 'handler-bundle.mjs');
          return [[process.execPath, script, path.join(inputDir, entry), outputDir].map(sh).join(' ')];
        },
      },
    },
  });
}
