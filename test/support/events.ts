import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { fixtureJson } from './fixtures.ts';

const template = fixtureJson<SQSRecord>('events/sqs-record.json');

/** An SQS event as Lambda's event source mapping delivers it, one record per body. */
export function sqsEvent(bodies: string[], queueArn = template.eventSourceARN): SQSEvent {
  return {
    Records: bodies.map((body, index) => ({
      ...template,
      messageId: `message-${index}`,
      receiptHandle: `receipt-${index}`,
      body,
      eventSourceARN: queueArn,
    })),
  };
}

/** A Lambda context with the given time left, ticking in real time. */
export function lambdaContext(remainingMs = 60_000): Context {
  const end = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'toloka-pool-opener-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:toloka-pool-opener-test',
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    logGroupName: '/aws/lambda/toloka-pool-opener-test',
    logStreamName: '2026/11/28/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
