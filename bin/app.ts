#!/usr/bin/env node
/**
 * The CDK app. Pick the configuration file with `-c configFile=…` (relative paths are
 * resolved from the repository root, not the working directory):
 *
 *   npx cdk deploy -c configFile=config/my.json
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InvalidConfigurationError, loadConfig } from '../lib/config.ts';
import { TolokaPoolOpenerStack } from '../lib/toloka-pool-opener-stack.ts';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const DEFAULT_CONFIG_FILE = 'config/example.jsonc';

const app = new App();

const configFile: unknown = app.node.tryGetContext('configFile') ?? DEFAULT_CONFIG_FILE;
if (typeof configFile !== 'string' || configFile === '') {
  console.error(`Context "configFile" must be a file path (got ${JSON.stringify(configFile)})`);
  process.exit(1);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(path.resolve(REPO_ROOT, configFile));
} catch (error) {
  if (error instanceof InvalidConfigurationError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
);

new TolokaPoolOpenerStack(app, 'TolokaPoolOpener', {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
