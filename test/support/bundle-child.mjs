/**
 * One invocation of a function as `cdk synth` bundled it, in a process of its own: the asset
 * folder and the template's `Handler` string (`index.handler`) are resolved as Lambda's Node.js
 * runtime resolves them (the module `index`, as `index.mjs`, `index.js` or `index.cjs`, and its
 * export `handler`). The environment is this process's (the template's variables, resolved).
 * Reads `{"assetDir", "handler", "event", "remainingMs", "awsRequestId"}` on stdin and writes
 * `{"result": …}` or `{"error": …}` as the last line of stderr; stdout is the function's log.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { assetDir, handler, event, remainingMs, awsRequestId } = JSON.parse(
  Buffer.concat(chunks).toString('utf8'),
);

const dot = handler.lastIndexOf('.');
const moduleName = handler.slice(0, dot);
const exportName = handler.slice(dot + 1);
const file = ['.mjs', '.js', '.cjs']
  .map((extension) => path.join(assetDir, `${moduleName}${extension}`))
  .find((candidate) => existsSync(candidate));
if (file === undefined) throw new Error(`no module ${moduleName} in ${assetDir}`);
const module = await import(pathToFileURL(file).href);
const endsAt = Date.now() + remainingMs;
const context = {
  awsRequestId,
  functionName: 'bundle-under-test',
  getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
};
try {
  const result = await module[exportName](event, context);
  process.stderr.write(`\n${JSON.stringify({ result: result ?? null })}\n`);
} catch (error) {
  process.stderr.write(`\n${JSON.stringify({ error: String(error?.message ?? error) })}\n`);
}
