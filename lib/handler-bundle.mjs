/**
 * How the construct bundles a handler for Lambda: esbuild, ESM split into chunks, minified, for
 * Node.js 24, external source maps without their sources, and the banner below. Run by the
 * construct's afterBundling hook (`node lib/handler-bundle.mjs <entry> <outdir>`); bench/cold-start.ts
 * builds with the same pieces, a technique at a time. Plain JavaScript: it runs in the hook's own
 * `node`, before anything is compiled.
 */
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * `require` for the CommonJS inside, and stack traces that name the TypeScript file, line and
 * function from the source maps, read when a stack is first formatted instead of at every module
 * load (as `--enable-source-maps` does).
 */
export const HANDLER_BANNER = [
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  '(() => {',
  "const installed = Symbol.for('toloka-pool-opener.source-maps');",
  'if (globalThis[installed]) return;',
  'globalThis[installed] = true;',
  'const maps = new Map();',
  'const mapOf = (file) => {',
  'if (!maps.has(file)) {',
  'try {',
  "const { SourceMap } = require('node:module');",
  "maps.set(file, new SourceMap(JSON.parse(require('node:fs').readFileSync(new URL(file + '.map'), 'utf8'))));",
  '} catch {',
  'maps.set(file, undefined);',
  '}',
  '}',
  'return maps.get(file);',
  '};',
  'const frame = (site, caller) => {',
  'const text = String(site), file = site.getFileName(), line = site.getLineNumber(), column = site.getColumnNumber();',
  "const map = file?.startsWith('file:') ? mapOf(file) : undefined;",
  'const at = map?.findEntry(line - 1, column - 1);',
  'if (!at?.originalSource) return text;',
  "const source = require('node:url').fileURLToPath(new URL(at.originalSource, file));",
  "const located = text.replace(file + ':' + line + ':' + column, source + ':' + (at.originalLine + 1) + ':' + (at.originalColumn + 1));",
  'const name = map.findEntry(site.getEnclosingLineNumber() - 1, site.getEnclosingColumnNumber() - 1).name ?? (caller?.getFileName() === file ? map.findEntry(caller.getLineNumber() - 1, caller.getColumnNumber() - 1).name : undefined);',
  'const minified = site.getFunctionName();',
  "const k = name && minified ? [' (', ' ['].map((end) => located.indexOf(minified + end)).find((index) => index === 0 || (index > 0 && ' .'.includes(located[index - 1]))) : undefined;",
  'return k === undefined ? located : located.slice(0, k) + name + located.slice(k + minified.length);',
  '};',
  "Error.prepareStackTrace = (error, sites) => Error.prototype.toString.call(error) + sites.map((site, i) => '\\n    at ' + frame(site, sites[i + 1])).join('');",
  '})();',
].join(' ');

/** The construct's esbuild options for `entry` into `outdir`. */
export function handlerBuildOptions(entry, outdir) {
  return {
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    target: 'node24',
    minify: true,
    sourcemap: 'external',
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: { js: HANDLER_BANNER },
    logLevel: 'warning',
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, outdir] = process.argv.slice(2);
  if (entry === undefined || outdir === undefined) {
    process.stderr.write('usage: node lib/handler-bundle.mjs <entry> <outdir>\n');
    process.exit(2);
  }
  await build(handlerBuildOptions(entry, outdir));
}
