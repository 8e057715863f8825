#!/usr/bin/env node
/**
 * The CDK app. Pick the configuration file with `-c configFile=…` (relative paths are resolved
 * from the repository root, not the working directory) and, optionally, name the deployment:
 *
 *   npx cdk deploy -c configFile=config/my.jsonc -c deployment=sandbox
 *
 * Every problem a configuration can cause is printed as one line naming its field, and the app
 * exits with 1: no stack trace.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type AppConfig, checkDeploymentName, InvalidConfigurationError, loadConfig } from '../lib/config.ts';
import { InvalidTolokaPoolOpenerPropsError } from '../lib/opener-settings.ts';
import { stackIdOf, TolokaPoolOpenerStack } from '../lib/toloka-pool-opener-stack.ts';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const EXAMPLE_CONFIG_FILE = 'config/example.jsonc';

const app = new App();

function fail(lines: string): never {
  console.error(lines);
  process.exit(1);
}

const given: unknown = app.node.tryGetContext('configFile');
if (given !== undefined && (typeof given !== 'string' || given === '')) {
  fail(`Context "configFile" must be a file path (got ${JSON.stringify(given)})`);
}
const configFile = path.resolve(REPO_ROOT, given ?? EXAMPLE_CONFIG_FILE);

let config: AppConfig;
try {
  config = loadConfig(configFile);
} catch (error) {
  if (error instanceof InvalidConfigurationError) fail(error.message);
  throw error;
}

const deploymentContext: unknown = app.node.tryGetContext('deployment');
if (deploymentContext !== undefined) {
  const problem =
    typeof deploymentContext === 'string'
      ? checkDeploymentName(deploymentContext)
      : `must be a string (got ${JSON.stringify(deploymentContext)})`;
  if (problem !== undefined) fail(`Invalid context: - deployment: ${problem}`);
  config = { ...config, deployment: deploymentContext as string };
}
const deployment = config.deployment ?? undefined;

if (given === undefined) {
  // A plain `cdk deploy` would otherwise deploy the example's sample pools without a word.
  console.error(
    `Note: no -c configFile=… given, so this is the example configuration ${EXAMPLE_CONFIG_FILE} ` +
      '(sample pools 123456 and 98765); deploy your own with -c configFile=config/<yours>.jsonc',
  );
}

Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
);

try {
  new TolokaPoolOpenerStack(app, stackIdOf(deployment), {
    config,
    // The account and region of the credentials the CDK CLI runs with (AWS_PROFILE, AWS_REGION…).
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (error) {
  // loadConfig runs the construct's checks too, so this is a safety net, not the usual path.
  if (error instanceof InvalidTolokaPoolOpenerPropsError) {
    fail(`Invalid configuration in ${configFile}:\n - ${error.problems.join('\n - ')}`);
  }
  throw error;
}
