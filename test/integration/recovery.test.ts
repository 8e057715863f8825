/**
 * Recovery: what an operator and the world do after a failure, through the real handlers, the
 * real AWS SDK against moto (SQS, SSM, DynamoDB behind the fault proxy, which answers as DynamoDB
 * does where moto does not) and the Toloka emulator. Every trigger ends in one record or one dead
 * letter, a redriven dead letter does what it says, and no pool stays blocked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { handler as checkHandler, createCheckOperationHandler } from '../../lambda/check-operation.ts';
import { handler as openHandler } from '../../lambda/open-pool.ts';
import { lambdaRuntime, resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { OutputCapture } from '../support/capture-output.ts';
import { DynamoDbFaultProxy } from '../support/dynamodb-fault-proxy.ts';
import { lambdaContext } from '../support/events.ts';
import { useHandlerEnvironment } from '../support/handler-environment.ts';
import {
  clients,
  createOpeningsTable,
  createQueueWithDlq,
  putSecureToken,
  type QueuePair,
  queueCounts,
  useMoto,
} from '../support/moto.ts';
import { pollOnce, type SqsHandler } from '../support/sqs-event-source.ts';

const TOKEN = 'recovery-token-Zq81mWx5T';
const TOKEN_PARAMETER = `/toloka/recovery-${process.pid}/api-token`;
/** A schedule's occurrence, as Scheduler fills in `<schedule ARN>@<scheduled time>`. */
const OCCURRENCE = `arn:aws:scheduler:eu-west-1:123456789012:schedule/toloka/open-1001@${new Date().toISOString().slice(0, 10)}T09:00:00Z`;

let moto: ReturnType<typeof useMoto>;
let proxy: DynamoDbFaultProxy;
let sqs: SQSClient;
let ssm: SSMClient;
let emulator: TolokaEmulator;
let triggers: QueuePair;
let checks: QueuePair;
let table: string;
let output: OutputCapture;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), { transactionHoldMs: 5 });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = await proxy.start();
  ({ sqs, ssm } = clients());
  emulator = new TolokaEmulator({ tokens: [TOKEN] });
  await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
  await proxy.stop();
  moto.restore();
  resetLambdaRuntime();
});

beforeEach(async () => {
  await putSecureToken(ssm, TOKEN_PARAMETER, TOKEN);
  emulator.reset();
  proxy.clearFaults();
  // Two receives, then the dead-letter queue: as the stack's maxReceiveCount, only shorter.
  const options = { maxReceiveCount: 2, visibilityTimeoutSeconds: 1 };
  triggers = await createQueueWithDlq(sqs, 'recovery-triggers', options);
  checks = await createQueueWithDlq(sqs, 'recovery-checks', options);
  table = await createOpeningsTable('recovery');
  environment();
  output = new OutputCapture().start();
});

afterEach(() => {
  output.stop();
});

function environment(more: Record<string, string> = {}): void {
  useHandlerEnvironment(
    {
      tolokaApiUrl: emulator.url,
      tokenParameter: TOKEN_PARAMETER,
      checkQueueUrl: checks.url,
      openingsTable: table,
    },
    { REDELIVERY_SECONDS: '2', ...more },
  );
}

const contextOf = (awsRequestId = crypto.randomUUID()): Context => ({
  ...lambdaContext(60_000),
  awsRequestId,
});
const opener: SqsHandler = (event) => openHandler(event, contextOf());
const checker: SqsHandler = (event) => checkHandler(event, contextOf());
const records = (poolId: string) => output.outcomes().filter((record) => record.poolId === poolId);
const posts = (poolId: string) => emulator.countRequests('POST', `/pools/${poolId}/open`);
const always503 = (poolId: string) => {
  emulator.setPool(poolId, { openDurationMs: 0 });
  emulator.injectFault({
    kind: 'status',
    status: 503,
    method: 'POST',
    path: `/pools/${poolId}/open`,
    times: Infinity,
  });
};

async function send(queue: QueuePair, body: string): Promise<string> {
  const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  return MessageId ?? '';
}

/** Delivers `queue` to `handler` until it is empty (what is left in flight comes back after 1 s). */
async function drain(queue: QueuePair, handler: SqsHandler, withinMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + withinMs;
  while (Date.now() < giveUpAt) {
    await pollOnce(sqs, queue.url, queue.arn, handler, { waitSeconds: 1 });
    const counts = await queueCounts(sqs, queue.url);
    if (counts.visible + counts.inFlight + counts.delayed === 0) return;
  }
}

/** Runs the check queue until the pool has a record. */
async function followChecks(poolId: string, handler: SqsHandler = checker, withinMs = 20_000): Promise<void> {
  const giveUpAt = Date.now() + withinMs;
  while (records(poolId).length === 0 && Date.now() < giveUpAt) {
    await pollOnce(sqs, checks.url, checks.arn, handler, { waitSeconds: 1 });
  }
}

/** `start-message-move-task` from a dead-letter queue: each body sent again, with a new message ID. */
async function redrive(from: QueuePair, to: QueuePair): Promise<string[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: from.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  const ids: string[] = [];
  for (const message of Messages) {
    ids.push(await send(to, message.Body ?? ''));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: from.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
  }
  return ids;
}

/** A direct (asynchronous) invocation, with Lambda's two retries of a failed one. */
async function invokeAsync(payload: object): Promise<unknown> {
  const context = contextOf();
  let failure: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await openHandler(payload, context);
    } catch (error) {
      failure = error;
    }
  }
  return { failed: failure };
}

describe('a dead-lettered opening blocks nothing', () => {
  it('opens the pool when the trigger Toloka refused all morning is redriven, with one record', async () => {
    always503('7101');
    const first = await send(triggers, '{"poolId": "7101"}');
    await drain(triggers, opener);
    expect((await queueCounts(sqs, triggers.dlqUrl)).visible).toBe(1);
    expect(records('7101')).toEqual([]);
    emulator.clearFaults();
    await sleep(2_100); // past the redelivery window: nothing carries the opening any more

    const [redriven] = await redrive(triggers, triggers);
    await drain(triggers, opener);

    expect(records('7101')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', triggers: [`sqs:${redriven}`] }),
    ]);
    expect(JSON.stringify(records('7101'))).not.toContain(first);
    expect(emulator.getPoolState('7101')?.status).toBe('OPEN');
  });

  it('opens the pool on the next day’s trigger; the dead letter redriven after that is a trigger of its own', async () => {
    environment({ CHECK_DEADLINE_SECONDS: '2' });
    always503('7102');
    await send(triggers, '{"poolId": "7102"}');
    await drain(triggers, opener);
    emulator.clearFaults();
    await sleep(2_100); // past the opening's deadline and its redelivery window

    const next = await invokeAsync({ poolId: '7102', triggerId: 'next-day' });
    expect(next).toMatchObject({ outcome: 'OPENED', triggers: ['direct:next-day'] });
    const [redriven] = await redrive(triggers, triggers);
    await drain(triggers, opener);

    // The abandoned opening answered no trigger (its only one was the dead letter): no record of it.
    expect(records('7102').map((record) => [record.outcome, record.triggers])).toEqual([
      ['OPENED', ['direct:next-day']],
      ['ALREADY_OPEN', [`sqs:${redriven}`]],
    ]);
  });

  it('takes over an opening whose check was dead-lettered and follows its operation, with no second POST', async () => {
    emulator.setPool('7103', { openDurationMs: 1_500 });
    const first = await send(triggers, '{"poolId": "7103"}');
    await drain(triggers, opener);
    emulator.injectFault({
      kind: 'status',
      status: 503,
      method: 'GET',
      path: /^\/operations\//,
      times: Infinity,
    });
    await drain(checks, checker);
    expect((await queueCounts(sqs, checks.dlqUrl)).visible).toBe(1);
    emulator.clearFaults();
    await sleep(2_100);

    const next = await invokeAsync({ poolId: '7103', triggerId: 'pipeline-7103' });
    expect(next).toMatchObject({ outcome: 'PENDING' });
    await followChecks('7103');

    expect(posts('7103')).toBe(1);
    expect(records('7103')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', triggers: [`sqs:${first}`, 'direct:pipeline-7103'] }),
    ]);
    // The dead-lettered check, redriven now, is stale: no second record.
    await redrive(checks, checks);
    await drain(checks, checker);
    expect(records('7103')).toHaveLength(1);
  });
});

describe('every dead letter can be redriven', () => {
  it('keeps a schedule occurrence’s identity when Lambda’s dead letter of it is redriven to the trigger queue', async () => {
    always503('7201');
    const payload = { poolId: '7201', triggerId: OCCURRENCE };
    expect(await invokeAsync(payload)).toMatchObject({ failed: expect.any(Error) });
    emulator.clearFaults();
    // Lambda's asynchronous DLQ holds the event as it was invoked; the runbook moves it to the trigger queue.
    await send(triggers, JSON.stringify(payload));
    await drain(triggers, opener);

    expect(records('7201')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', triggers: [`direct:${OCCURRENCE}`] }),
    ]);
  });

  it('ends an opening TIMED_OUT, asking Toloka nothing, when its check is redriven 13 hours later', async () => {
    emulator.setPool('7202', { openDurationMs: 3_600_000 });
    await send(triggers, '{"poolId": "7202"}');
    await drain(triggers, opener);
    const checksBefore = emulator.countRequests('GET', '/operations/');
    const thirteenHoursLater = createCheckOperationHandler(() => {
      const runtime = lambdaRuntime();
      return { ...runtime, deps: { ...runtime.deps, now: () => Date.now() + 13 * 3_600_000 } };
    });

    await followChecks('7202', (event) => thirteenHoursLater(event, contextOf()));

    expect(records('7202')).toEqual([
      expect.objectContaining({ outcome: 'TIMED_OUT', code: 'DEADLINE_EXCEEDED', poolId: '7202' }),
    ]);
    expect(emulator.countRequests('GET', '/operations/')).toBe(checksBefore);
  });
});

describe('a write DynamoDB applied whose answer was lost still counts as the caller’s', () => {
  const isDecide = (body: Record<string, unknown>) =>
    String(body.UpdateExpression).includes('outcome = :outcome');
  const isAcquire = (body: Record<string, unknown>) =>
    String(body.UpdateExpression).includes('previousToken = :from');
  const isFirstTime = (body: Record<string, unknown>) =>
    JSON.stringify((body.Item as { id?: unknown } | undefined)?.id ?? '').includes('once#');

  it.each([
    ['the decision', 'UpdateItem', isDecide],
    ['a queued check taking its step', 'UpdateItem', isAcquire],
  ] as const)('writes one record when the answer to %s is lost', async (_, operation, when) => {
    const poolId = when === isDecide ? '7301' : '7302';
    emulator.setPool(poolId, { openDurationMs: when === isDecide ? 0 : 1_200 });
    const lostBefore = proxy.count('lost-answer', operation);
    proxy.loseAnswers({ operation, times: 1, when });
    await send(triggers, JSON.stringify({ poolId }));
    await drain(triggers, opener);
    await followChecks(poolId);

    expect(proxy.count('lost-answer', operation)).toBe(lostBefore + 1);
    expect(records(poolId)).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(posts(poolId)).toBe(1);
  });

  it('reports a bad message once when the answer to noting it is lost', async () => {
    const lostBefore = proxy.count('lost-answer', 'PutItem');
    proxy.loseAnswers({ operation: 'PutItem', times: 1, when: isFirstTime });
    const messageId = await send(triggers, '{"poolId": "73x"}');
    await drain(triggers, opener);

    expect(proxy.count('lost-answer', 'PutItem')).toBe(lostBefore + 1);
    expect(output.outcomes().filter((record) => record.messageId === messageId)).toEqual([
      expect.objectContaining({ code: 'INVALID_MESSAGE', field: 'poolId' }),
    ]);
  });
});

describe('contention as on DynamoDB', () => {
  it('makes one opening, one POST and one record of 50 triggers for one pool at once', async () => {
    // An operation of a few seconds, as Toloka's are: every trigger arrives while it runs. A step
    // lease longer than a step under this contention, as the stack's (twice the function time-out).
    environment({ STEP_LEASE_SECONDS: '30' });
    emulator.setPool('7401', { openDurationMs: 3_000 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, index) => invokeAsync({ poolId: '7401', triggerId: `burst-${index}` })),
    );

    expect(results.filter((result) => (result as { failed?: unknown }).failed !== undefined)).toEqual([]);
    expect(proxy.count('conflict')).toBeGreaterThan(0);
    await followChecks('7401');
    expect(posts('7401')).toBe(1);
    expect(records('7401')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(records('7401')[0]?.triggers).toHaveLength(50);
  });
});

describe('a trigger’s identity', () => {
  it('is one trigger for every retry of one schedule occurrence: one POST, one record', async () => {
    emulator.setPool('7501', { openDurationMs: 0 });
    const payload = { poolId: '7501', triggerId: OCCURRENCE };
    const [first, second] = [await invokeAsync(payload), await invokeAsync(payload)];
    expect(first).toMatchObject({ outcome: 'OPENED' });
    expect(second).toMatchObject({
      outcome: 'OPENED',
      openingId: (first as { openingId: string }).openingId,
    });
    expect(posts('7501')).toBe(1);
    expect(records('7501')).toHaveLength(1);
  });

  it('belongs to its target: the same triggerId sent for two pools opens both', async () => {
    emulator.setPool('7502', { openDurationMs: 0 });
    emulator.setPool('7503', { openDurationMs: 0 });
    await invokeAsync({ poolId: '7502', triggerId: 'shared-id' });
    await invokeAsync({ poolId: '7503', triggerId: 'shared-id' });
    expect(records('7502')).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '7502' })]);
    expect(records('7503')).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '7503' })]);
    expect([posts('7502'), posts('7503')]).toEqual([1, 1]);
  });
});

describe('never late, and Toloka’s waits honoured', () => {
  it('asks nothing of Toloka for a trigger retried after its deadline, and ends it TIMED_OUT', async () => {
    environment({ CHECK_DEADLINE_SECONDS: '1' });
    emulator.setPool('7601', { openDurationMs: 0 });
    emulator.injectFault({ kind: 'status', status: 503, method: 'POST', path: '/pools/7601/open', times: 2 });
    const context = contextOf();
    await expect(openHandler({ poolId: '7601', triggerId: 'late' }, context)).rejects.toThrow();
    await sleep(1_200);

    const late = await openHandler({ poolId: '7601', triggerId: 'late' }, context);

    expect(late).toMatchObject({ outcome: 'TIMED_OUT', code: 'DEADLINE_EXCEEDED', checks: 0 });
    expect(posts('7601')).toBe(2); // the two refused attempts of the first invocation, none after
    expect(emulator.getPoolState('7601')?.status).toBe('CLOSED');
  });

  it('waits out a Retry-After met on a fast-path check before the next check', async () => {
    environment({ FAST_PATH_SECONDS: '5' });
    emulator.setPool('7602', { openDurationMs: 60_000 });
    emulator.injectFault({
      kind: 'status',
      status: 429,
      method: 'GET',
      path: /^\/operations\//,
      headers: { 'Retry-After': '120' },
      times: Infinity,
    });
    const before = Date.now();
    const pending = await openHandler({ poolId: '7602' }, contextOf());

    expect(pending).toMatchObject({ outcome: 'PENDING', nextCheckInSeconds: 120 });
    expect(handOvers()).toEqual([{ nextCheckInSeconds: 120 }]);
    // The next check is not visible before Toloka's two minutes, and the fast path asked once.
    const counts = await queueCounts(sqs, checks.url);
    expect([counts.visible, counts.delayed]).toEqual([0, 1]);
    expect(emulator.countRequests('GET', '/operations/')).toBe(1);
    expect(Date.now() - before).toBeLessThan(110_000);
  });
});

describe('bounded sizes', () => {
  it('writes one FAILED record of a few KB, marked as cut, for a 409 whose payload is 500 KB', async () => {
    emulator.setPool('7701', { openDurationMs: 0 });
    emulator.injectFault({
      kind: 'status',
      status: 409,
      method: 'POST',
      path: '/pools/7701/open',
      body: {
        code: 'CONFLICT_STATE',
        message: 'the pool cannot be opened',
        payload: { detail: 'x'.repeat(500_000) },
      },
    });
    await send(triggers, '{"poolId": "7701"}');
    await drain(triggers, opener);

    const [record] = records('7701');
    expect(record).toMatchObject({ outcome: 'FAILED', code: 'CONFLICT_STATE', payload: { truncated: true } });
    expect(JSON.stringify(record).length).toBeLessThan(8_000);
    expect((await queueCounts(sqs, triggers.dlqUrl)).visible).toBe(0);
  });
});

/** What the step that handed over to the check queue logged: when the next check is due. */
function handOvers(): Array<{ nextCheckInSeconds?: number }> {
  return output
    .records()
    .filter((line) => line.message === 'opening in progress, status check enqueued')
    .map((line) => ({ nextCheckInSeconds: line.nextCheckInSeconds as number | undefined }));
}
