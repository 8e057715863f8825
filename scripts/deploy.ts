/**
 * `npm run deploy -- -c configFile=config/my.jsonc [cdk deploy options]`: the checks that can be
 * made before CloudFormation does anything, then `cdk deploy` with the same arguments. First the
 * AWS preflight (credentials and region, exit 3), then `toloka-pool doctor` on the configuration
 * file the deploy will use (the token parameter, Toloka, the pools: exit 5 on any failed check),
 * which is how a new deployment's first opening would otherwise fail. `TOLOKA_SKIP_DOCTOR=1`
 * deploys anyway (say, pools whose tasks come later).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli/program.ts';
import { preflight } from './aws-preflight.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** bin/app.ts's default, when no `-c configFile=` is given. */
const EXAMPLE_CONFIG_FILE = 'config/example.jsonc';

/** The value of `-c key=value`, `--context key=value` or `--context=key=value` among `args`. */
export function contextValue(args: readonly string[], key: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const inline = /^--context=(.*)$/.exec(arg)?.[1];
    const value = inline ?? (arg === '-c' || arg === '--context' ? args[i + 1] : undefined);
    if (value?.startsWith(`${key}=`)) return value.slice(key.length + 1);
  }
  return undefined;
}

const args = process.argv.slice(2);
const problem = await preflight();
if (problem !== undefined) {
  process.stderr.write(`toloka-pool: ${problem}\n`);
  process.exit(3);
}
if (process.env.TOLOKA_SKIP_DOCTOR !== '1') {
  const configFile = path.resolve(REPO_ROOT, contextValue(args, 'configFile') ?? EXAMPLE_CONFIG_FILE);
  const code = await runCli(['doctor', '-c', configFile], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onInterrupt: () => () => undefined,
  });
  if (code !== 0) {
    process.stderr.write(
      'toloka-pool: not deploying: fix what doctor found above, or deploy anyway with TOLOKA_SKIP_DOCTOR=1\n',
    );
    process.exit(code);
  }
}
const cdk = spawn('npx', ['cdk', 'deploy', ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
cdk.on('exit', (code) => process.exit(code ?? 1));
