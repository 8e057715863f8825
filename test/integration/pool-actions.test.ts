/**
 * Closes, the order of actions on one pool, and a schedule's triggers that must not act, through
 * the real handlers and the real AWS SDK against moto (behind the DynamoDB fault proxy, which
 * answers as DynamoDB does where moto does not) and real HTTP to the Toloka emulator, with SQS
 * delivering at least once (test/support/sqs-event-source.ts).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { handler as checkHandler } from '../../lambda/check-operation.ts';
import { handler as openHandler } from '../../lambda/open-pool.ts';
import { localDateOf } from '../../lambda/runtime/schedule-rules.ts';
import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
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
  useMoto,
} from '../support/moto.ts';
import { type Delivery, pollOnce, type SqsHandler } from '../support/sqs-event-source.ts';

const TOKEN = 'pool-actions-token-Vb83kQ2m';
const TOKEN_PARAMETER = `/toloka/pool-actions-${process.pid}/api-token`;

let moto: ReturnType<typeof useMoto>;
let proxy: DynamoDbFaultProxy;
let sqs: SQSClient;
let ssm: SSMClient;
let emulator: TolokaEmulator;
let triggers: QueuePair;
let checks: QueuePair;
let output: OutputCapture;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), { transactionHoldMs: 2 });
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
  const queueOptions = { maxReceiveCount: 3, visibilityTimeoutSeconds: 2 };
  triggers = await createQueueWithDlq(sqs, 'pool-actions-triggers', queueOptions);
  checks = await createQueueWithDlq(sqs, 'pool-actions-checks', queueOptions);
  useHandlerEnvironment({
    tolokaApiUrl: emulator.url,
    tokenParameter: TOKEN_PARAMETER,
    checkQueueUrl: checks.url,
    openingsTable: await createOpeningsTable('pool-actions'),
  });
  output = new OutputCapture().start();
});

afterEach(() => {
  output.stop();
});

const context = (): Context => ({ ...lambdaContext(60_000), awsRequestId: crypto.randomUUID() });
const opener: SqsHandler = (event) => openHandler(event, context());
const checker: SqsHandler = (event) => checkHandler(event, context());

async function send(body: object): Promise<string> {
  const { MessageId } = await sqs.send(
    new SendMessageCommand({ QueueUrl: triggers.url, MessageBody: JSON.stringify(body) }),
  );
  return MessageId ?? '';
}

function recordsOf(poolId: string): Array<Record<string, unknown>> {
  return output.outcomes().filter((record) => record.poolId === poolId);
}

const posts = (poolId: string, action: 'open' | 'close') =>
  emulator.countRequests('POST', `/pools/${poolId}/${action}`);

/** The POSTs of a pool's opens and closes, in the order Toloka got them. */
const actionsAsked = (poolId: string) =>
  emulator.requests
    .filter((request) => request.method === 'POST' && request.path.startsWith(`/pools/${poolId}/`))
    .map((request) => request.path.split('/').at(-1));

/** Polls the trigger and check queues until `poolId` has `count` records (or 30 s pass). */
async function settle(poolId: string, count: number, delivery: Delivery = 'once'): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (recordsOf(poolId).length < count && Date.now() < giveUpAt) {
    await pollOnce(sqs, triggers.url, triggers.arn, opener, { waitSeconds: 0, delivery });
    await pollOnce(sqs, checks.url, checks.arn, checker, { waitSeconds: 1, delivery });
  }
}

describe('a close, through the real handlers', () => {
  it('is CLOSED in the 202 itself, from the trigger queue: one POST …/close, one record with action close', async () => {
    emulator.setPool('7101', { status: 'OPEN', closeDurationMs: 0 });
    const messageId = await send({ poolId: '7101', action: 'close' });
    await settle('7101', 1);
    expect(posts('7101', 'close')).toBe(1);
    expect(recordsOf('7101')).toEqual([
      expect.objectContaining({ outcome: 'CLOSED', action: 'close', triggers: [`sqs:${messageId}`] }),
    ]);
    expect(emulator.getPoolState('7101')?.status).toBe('CLOSED');
  });

  it('is CLOSED in the fast path of a direct invocation (aws lambda invoke)', async () => {
    useHandlerEnvironment(
      {
        tolokaApiUrl: emulator.url,
        tokenParameter: TOKEN_PARAMETER,
        checkQueueUrl: checks.url,
        openingsTable: await createOpeningsTable('pool-actions-fast'),
      },
      { FAST_PATH_SECONDS: '10' },
    );
    emulator.setPool('7102', { status: 'OPEN', closeDurationMs: 1_500 });
    const result = await openHandler({ poolId: '7102', action: 'close' }, context());
    expect(result).toMatchObject({ outcome: 'CLOSED', action: 'close', poolId: '7102' });
    expect(recordsOf('7102')).toHaveLength(1);
  });

  it('is CLOSED through the check queue when the close outlasts the fast path', async () => {
    emulator.setPool('7103', { status: 'OPEN', closeDurationMs: 2_500 });
    await send({ poolId: '7103', action: 'close' });
    await settle('7103', 1);
    expect(recordsOf('7103')).toEqual([
      expect.objectContaining({ outcome: 'CLOSED', checks: expect.any(Number) }),
    ]);
    expect(Number(recordsOf('7103')[0]?.checks)).toBeGreaterThan(0);
  });

  it("reports Toloka's 204 as ALREADY_CLOSED and its 409 as FAILED, each with action close", async () => {
    emulator.setPool('7104', { status: 'CLOSED' });
    emulator.setPool('7105', { status: 'OPEN', refuseClose: { code: 'CONFLICT_STATE', message: 'not now' } });
    await send({ poolId: '7104', action: 'close' });
    await send({ poolId: '7105', action: 'close' });
    await settle('7104', 1);
    await settle('7105', 1);
    expect(recordsOf('7104')).toEqual([
      expect.objectContaining({ outcome: 'ALREADY_CLOSED', action: 'close' }),
    ]);
    expect(recordsOf('7105')).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        action: 'close',
        code: 'CONFLICT_STATE',
        httpStatus: 409,
      }),
    ]);
  });
});

describe('a close delivered at least once', () => {
  it.each([
    ['in a row', 'twice-in-a-row', '7401'],
    ['at once', 'twice-at-once', '7402'],
  ] as const)(
    'closes the pool once, with one record, when its trigger and checks are delivered twice %s',
    async (_, delivery, poolId) => {
      emulator.setPool(poolId, { status: 'OPEN', closeDurationMs: 1_500 });
      // Toloka takes this long to answer the POST: the two deliveries overlap it.
      emulator.injectFault({ kind: 'delay', delayMs: 500, method: 'POST', path: `/pools/${poolId}/close` });
      const messageId = await send({ poolId, action: 'close' });
      await settle(poolId, 1, delivery);
      // A little longer: a duplicate that would write a second record has its chance.
      await pollOnce(sqs, checks.url, checks.arn, checker, { waitSeconds: 2, delivery });
      expect(posts(poolId, 'close')).toBe(1);
      expect(recordsOf(poolId)).toEqual([
        expect.objectContaining({ outcome: 'CLOSED', action: 'close', triggers: [`sqs:${messageId}`] }),
      ]);
    },
  );
});

describe('open and close asked at once for one pool, each delivered twice at once', () => {
  it.each([
    ['open', 'close', '7201'],
    ['close', 'open', '7202'],
  ] as const)(
    '%s then %s: Toloka is asked once each, in that order, never both at once; one record each',
    async (first, second, poolId) => {
      emulator.setPool(poolId, {
        status: first === 'open' ? 'CLOSED' : 'OPEN',
        openDurationMs: 2_000,
        closeDurationMs: 2_000,
      });
      await send({ poolId, action: first });
      await pollOnce(sqs, triggers.url, triggers.arn, opener, { waitSeconds: 1, delivery: 'twice-at-once' });
      await send({ poolId, action: second });
      await settle(poolId, 2, 'twice-at-once');
      expect(actionsAsked(poolId)).toEqual([first, second]);
      // Never a 409 POOL_LOCKED_BY_ANOTHER_OPERATION: the second waited for the first to end.
      expect(emulator.requests.filter((request) => request.status === 409)).toEqual([]);
      const done = { open: 'OPENED', close: 'CLOSED' } as const;
      expect(recordsOf(poolId).map((record) => [record.action, record.outcome])).toEqual([
        [first, done[first]],
        [second, done[second]],
      ]);
      expect(emulator.getPoolState(poolId)?.status).toBe(second === 'open' ? 'OPEN' : 'CLOSED');
    },
  );
});

describe("a schedule's trigger that must not act", () => {
  it('on a date of a calendar it skips (in its time zone) ends SKIPPED once, however often it is invoked', async () => {
    emulator.setPool('7301', { status: 'CLOSED' });
    const scheduledTime = new Date(Math.floor(Date.now() / 60_000) * 60_000)
      .toISOString()
      .replace('.000Z', 'Z');
    const today = localDateOf(Date.parse(scheduledTime), 'Asia/Tokyo');
    const input = {
      poolId: '7301',
      action: 'open',
      triggerId: `arn:aws:scheduler:eu-central-1:123456789012:schedule/g/s@${scheduledTime}`,
      scheduledTime,
      maxLatenessMinutes: 60,
      timeZone: 'Asia/Tokyo',
      skip: { holidays: [localDateOf(Date.parse(scheduledTime) - 365 * 86_400_000, 'Asia/Tokyo'), today] },
    };
    for (let attempt = 0; attempt < 3; attempt++) await openHandler(input, context());
    expect(posts('7301', 'open')).toBe(0);
    expect(recordsOf('7301')).toEqual([
      expect.objectContaining({
        outcome: 'SKIPPED',
        reason: 'CALENDAR',
        calendar: 'holidays',
        date: today,
        scheduledTime: new Date(scheduledTime).toISOString(),
      }),
    ]);
  });

  it('redriven days later ends SKIPPED (LATE), with the command that acts now, and Toloka is not asked', async () => {
    emulator.setPool('7302', { status: 'OPEN' });
    const scheduledTime = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const dead = {
      poolId: '7302',
      action: 'close',
      triggerId: `arn:aws:scheduler:eu-central-1:123456789012:schedule/g/close@${scheduledTime}`,
      scheduledTime,
      maxLatenessMinutes: 60,
    };
    await send(dead);
    await settle('7302', 1, 'twice-in-a-row');
    expect(posts('7302', 'close')).toBe(0);
    expect(recordsOf('7302')).toEqual([
      expect.objectContaining({
        outcome: 'SKIPPED',
        reason: 'LATE',
        action: 'close',
        maxLatenessMinutes: 60,
        command: 'npx toloka-pool close 7302',
        lateSeconds: expect.any(Number),
      }),
    ]);
    expect(Number(recordsOf('7302')[0]?.lateSeconds)).toBeGreaterThanOrEqual(3 * 86_400);
  });

  it('refuses a bad action, naming the field, and reports it once', async () => {
    const messageId = await send({ poolId: '7303', action: 'reopen' });
    const giveUpAt = Date.now() + 10_000;
    while (
      output.outcomes().filter((record) => record.messageId === messageId).length === 0 &&
      Date.now() < giveUpAt
    ) {
      await pollOnce(sqs, triggers.url, triggers.arn, opener, { waitSeconds: 1, delivery: 'twice-in-a-row' });
    }
    expect(output.outcomes().filter((record) => record.messageId === messageId)).toEqual([
      expect.objectContaining({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'action' }),
    ]);
  });
});
