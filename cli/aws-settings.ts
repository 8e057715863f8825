/**
 * Whether the AWS SDK's default chain resolves a region and credentials (AWS_PROFILE, the
 * AWS_ACCESS_KEY_ID variables, SSO, instance roles; AWS_REGION or the profile's region), as the
 * CDK CLI resolves them, without a call to AWS: `doctor` and the deploy preflight ask the same.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';

export type AwsSettings = { readonly region: string } | { readonly missing: 'region' | 'credentials' };

/** The first that is missing, region then credentials, or the region when both resolve. */
export async function resolveAwsSettings(client: SSMClient): Promise<AwsSettings> {
  const region = await client.config.region().catch(() => undefined);
  if (region === undefined || region === '') return { missing: 'region' };
  try {
    await client.config.credentials();
  } catch {
    return { missing: 'credentials' };
  }
  return { region };
}
