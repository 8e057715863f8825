/**
 * `npm run build`: the package's two faces, in `dist/` (what `npm pack` ships, with
 * `cli/toloka-pool.mjs`):
 *
 * - `dist/lib/index.js`: the construct library (lib/index.ts), one CommonJS file, as aws-cdk-lib
 *   and constructs are: `require` from a `cdk init` app and `import` from an ESM one both load
 *   it, and there is one copy of each class (no dual-package hazard for `instanceof`);
 *   `dist/types/`: its declarations, from tsc;
 * - `dist/handlers/<name>/`: the two handlers bundled as the construct bundles them at synth in
 *   this repository (lib/handler-bundle.mjs), so that a consumer's synth bundles nothing;
 * - `dist/cli/main.mjs`: the command line, compiled, so `npx toloka-pool` needs no tsx.
 *
 * Dependencies stay external: the package's `dependencies` and `peerDependencies` provide them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { handlerBuildOptions } from '../lib/handler-bundle.mjs';
import { HANDLER_ENTRIES } from '../lib/handler-code.ts';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
/** The oldest Node.js the package's `engines` admit; the handlers target Lambda's Node.js 24. */
const NODE_TARGET = 'node20';

const started = Date.now();
rmSync(DIST, { recursive: true, force: true });

await build({
  absWorkingDir: ROOT,
  entryPoints: ['lib/index.ts'],
  outfile: path.join(DIST, 'lib', 'index.js'),
  bundle: true,
  packages: 'external',
  platform: 'node',
  target: NODE_TARGET,
  format: 'cjs',
  // import.meta.url has no CommonJS meaning: the file's own URL stands in for it.
  define: { 'import.meta.url': '__packageFileUrl' },
  banner: { js: "const __packageFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// `dist/` is CommonJS inside a "type": "module" package: said here for Node.js and for tsc.
for (const dir of ['lib', 'types']) {
  mkdirSync(path.join(DIST, dir), { recursive: true });
  writeFileSync(path.join(DIST, dir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
}
execFileSync(
  process.execPath,
  [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
// tsc keeps the sources' `./x.ts` specifiers in declarations; a consumer's tsc resolves `./x.js`.
for (const file of readdirSync(path.join(DIST, 'types'), { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue;
  const at = path.join(DIST, 'types', file);
  writeFileSync(at, readFileSync(at, 'utf8').replace(/(from\s+'\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
}

for (const [name, entry] of Object.entries(HANDLER_ENTRIES)) {
  await build(handlerBuildOptions(path.join(ROOT, entry), path.join(DIST, 'handlers', name)));
}

await build({
  absWorkingDir: ROOT,
  entryPoints: ['cli/main.ts'],
  outfile: path.join(DIST, 'cli', 'main.mjs'),
  bundle: true,
  packages: 'external',
  platform: 'node',
  target: NODE_TARGET,
  format: 'esm',
  logLevel: 'warning',
});

console.log(`dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
