/**
 * Before `npm run deploy` and `npm run diff` bundle anything: can the AWS credentials and region
 * be resolved the way the CDK CLI resolves them (the SDK's default chain: AWS_PROFILE, the
 * AWS_ACCESS_KEY_ID variables, SSO, instance roles; AWS_REGION or the profile's region)? If not,
 * one line says what to set, and the command stops with exit code 3, instead of CDK's generic
 * "Unable to resolve AWS account" after bundling. Nothing is sent to AWS.
 */
import { pathToFileURL } from 'node:url';
import { SSMClient } from '@aws-sdk/client-ssm';
import { resolveAwsSettings } from '../cli/aws-settings.ts';

const HINT =
  'set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and AWS_REGION, e.g. AWS_PROFILE=prod AWS_REGION=eu-central-1 npm run deploy';

export async function preflight(): Promise<string | undefined> {
  const client = new SSMClient({});
  try {
    const settings = await resolveAwsSettings(client);
    return 'missing' in settings ? `no AWS ${settings.missing}: ${HINT}` : undefined;
  } finally {
    client.destroy();
  }
}

// Run as a script (`npm run diff`); imported by scripts/deploy.ts, which runs it itself.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problem = await preflight();
  if (problem !== undefined) {
    process.stderr.write(`toloka-pool: ${problem}\n`);
    process.exit(3);
  }
}
