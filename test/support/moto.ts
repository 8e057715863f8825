import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ParameterType, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export const REGION = 'eu-west-1';

/**
 * Points the AWS SDK at moto (at `endpoint`) through the SDK's standard settings, as a user
 * would: the app's code is unchanged. Returns the previous environment so a test can put it back.
 * Free of Vitest, so that the benchmark shares these helpers.
 */
export function useMoto(endpoint: string): { endpoint: string; restore: () => void } {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
  });
  return {
    endpoint,
    restore: () => {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    },
  };
}

export function clients(): { sqs: SQSClient; ssm: SSMClient } {
  return { sqs: new SQSClient({}), ssm: new SSMClient({}) };
}

export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

let counter = 0;

/** A queue with a dead-letter queue and a redrive policy, named uniquely for this test. */
export async function createQueueWithDlq(
  sqs: SQSClient,
  name: string,
  options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
): Promise<QueuePair> {
  const unique = `${name}-${process.pid}-${++counter}`;
  const dlqUrl = await createQueue(sqs, `${unique}-dlq`, {});
  const dlqArn = await queueArn(sqs, dlqUrl);
  const url = await createQueue(sqs, unique, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 1),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: options.maxReceiveCount ?? 3,
    }),
  });
  return { url, arn: await queueArn(sqs, url), dlqUrl, dlqArn };
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (QueueUrl === undefined) throw new Error(`moto created no URL for ${name}`);
  return QueueUrl;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`moto gave no ARN for ${url}`);
  return arn;
}

export async function queueCounts(
  sqs: SQSClient,
  url: string,
): Promise<{ visible: number; delayed: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesDelayed',
        'ApproximateNumberOfMessagesNotVisible',
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/** Every body currently in a queue (for dead-letter queues; receives with a long visibility time-out). */
export async function drainBodies(sqs: SQSClient, url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body ?? ''));
  }
}

export async function putSecureToken(ssm: SSMClient, name: string, token: string): Promise<void> {
  await ssm.send(
    new PutParameterCommand({ Name: name, Value: token, Type: ParameterType.SECURE_STRING, Overwrite: true }),
  );
}

/**
 * The openings table as the construct creates it (partition key `id`, TTL `expiration`, on
 * demand), with a fresh name: returns the name for `OPENINGS_TABLE`.
 */
export async function createOpeningsTable(prefix = 'openings'): Promise<string> {
  const dynamodb = new DynamoDBClient({});
  const name = `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    }),
  );
  dynamodb.destroy();
  return name;
}
