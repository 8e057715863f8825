/**
 * The openings ledger's guarantees, through the real handlers and the real AWS SDK against moto
 * (SSM, SQS, DynamoDB, EventBridge over the wire) and real HTTP to the Toloka emulator, with SQS
 * delivering at least once (test/support/sqs-event-source.ts: twice in a row, twice at once, or
 * to a function killed mid-batch in a child process): every opening asks Toloka once, follows
 * one chain of checks and ends in exactly one outcome record (and one outcome event), however
 * often its trigger or its checks are delivered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import { handler as checkHandler, createCheckOperationHandler } from '../../lambda/check-operation.ts';
import { createOpenPoolHandler, handler as openHandler } from '../../lambda/open-pool.ts';
import type { Opening } from '../../lambda/runtime/openings-ledger.ts';
import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { OutputCapture } from '../support/capture-output.ts';
import { DynamoDbFaultProxy } from '../support/dynamodb-fault-proxy.ts';
import { lambdaContext } from '../support/events.ts';
import { useHandlerEnvironment } from '../support/handler-environment.ts';
import { LambdaProcess } from '../support/lambda-process.ts';
import { leasedRuntime } from '../support/leased-runtime.ts';
import {
  clients,
  createOpeningsTable,
  createQueueWithDlq,
  drainBodies,
  putSecureToken,
  type QueuePair,
  queueCounts,
  useMoto,
} from '../support/moto.ts';
import { type Delivery, pollOnce, pollOnceKilled, type SqsHandler } from '../support/sqs-event-source.ts';
import { TokenGate } from '../support/token-gate.ts';

const TOKEN = 'exactly-once-token-Hq27vLm4X9';
const ROTATED = 'exactly-once-rotated-Pw83nKd2Y';
// A name of this file's own: the rotation tests change it, and other files share moto.
const TOKEN_PARAMETER = `/toloka/exactly-once-${process.pid}/api-token`;
const EVENT_BUS = `exactly-once-${process.pid}`;
const EVENT_RULE = `exactly-once-outcomes-${process.pid}`;
/** The visibility time-out of both queues here: longer than the short report leases below, as in the stack (360 s > 120 s). */
const VISIBILITY_SECONDS = 2;

let moto: ReturnType<typeof useMoto>;
/** DynamoDB as AWS answers it (contention, idempotent transactions, item size) in front of moto. */
let proxy: DynamoDbFaultProxy;
let sqs: SQSClient;
let ssm: SSMClient;
let events: EventBridgeClient;
let emulator: TolokaEmulator;
let triggers: QueuePair;
let checks: QueuePair;
let eventTarget: QueuePair;
let table: string;
let output: OutputCapture;
const publishedEvents: Array<{ detail: Record<string, unknown> }> = [];

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), { transactionHoldMs: 2 });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = await proxy.start();
  ({ sqs, ssm } = clients());
  events = new EventBridgeClient({});
  emulator = new TolokaEmulator({ tokens: [TOKEN] });
  await emulator.start();
  // Outcome events go to a bus of this file's own, and from there to a queue the tests read.
  eventTarget = await createQueueWithDlq(sqs, 'exactly-once-events');
  await events.send(new CreateEventBusCommand({ Name: EVENT_BUS }));
  await events.send(
    new PutRuleCommand({
      Name: EVENT_RULE,
      EventBusName: EVENT_BUS,
      EventPattern: JSON.stringify({ source: ['toloka-pool-opener'] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: EVENT_RULE,
      EventBusName: EVENT_BUS,
      Targets: [{ Id: 'queue', Arn: eventTarget.arn }],
    }),
  );
});

afterAll(async () => {
  await events.send(new RemoveTargetsCommand({ Rule: EVENT_RULE, EventBusName: EVENT_BUS, Ids: ['queue'] }));
  await events.send(new DeleteRuleCommand({ Name: EVENT_RULE, EventBusName: EVENT_BUS }));
  await events.send(new DeleteEventBusCommand({ Name: EVENT_BUS }));
  await emulator.stop();
  expect(proxy.count('forwarded', 'TransactWriteItems')).toBeGreaterThan(0);
  await proxy.stop();
  moto.restore();
  resetLambdaRuntime();
});

beforeEach(async () => {
  await putSecureToken(ssm, TOKEN_PARAMETER, TOKEN);
  emulator.reset();
  const queueOptions = { maxReceiveCount: 3, visibilityTimeoutSeconds: VISIBILITY_SECONDS };
  triggers = await createQueueWithDlq(sqs, 'exactly-once-triggers', queueOptions);
  checks = await createQueueWithDlq(sqs, 'exactly-once-checks', queueOptions);
  table = await createOpeningsTable('exactly-once');
  useHandlerEnvironment(
    {
      tolokaApiUrl: emulator.url,
      tokenParameter: TOKEN_PARAMETER,
      checkQueueUrl: checks.url,
      openingsTable: table,
    },
    { OUTCOME_EVENT_BUS: EVENT_BUS },
  );
  output = new OutputCapture().start();
});

afterEach(() => {
  output.stop();
  vi.restoreAllMocks();
});

/** Lambda's context for one invocation, with its own request ID. */
function contextOf(awsRequestId: string, remainingMs = 60_000): Context {
  return { ...lambdaContext(remainingMs), awsRequestId };
}

const opener: SqsHandler = (event) => openHandler(event, contextOf(crypto.randomUUID()));
const checker: SqsHandler = (event) => checkHandler(event, contextOf(crypto.randomUUID()));

async function send(queue: QueuePair, body: string): Promise<string> {
  const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  return MessageId ?? '';
}

/** The outcome records this process wrote (its log stream), for one pool. */
function recordsOf(poolId: string): Array<Record<string, unknown>> {
  return output.outcomes().filter((record) => record.poolId === poolId);
}

/** The outcome events published for one pool so far. */
async function eventsOf(poolId: string): Promise<Array<Record<string, unknown>>> {
  for (const body of await drainBodies(sqs, eventTarget.url)) {
    publishedEvents.push(JSON.parse(body) as { detail: Record<string, unknown> });
  }
  return publishedEvents.map((event) => event.detail).filter((detail) => detail.poolId === poolId);
}

async function openingsOf(poolId: string): Promise<Opening[]> {
  return new DynamoDbOpeningsLedger(table).list({ target: { kind: 'pool', id: poolId } });
}

async function messagesIn(queue: QueuePair): Promise<number> {
  const counts = await queueCounts(sqs, queue.url);
  return counts.visible + counts.delayed + counts.inFlight;
}

const posts = (poolId: string, action: 'open' | 'close' = 'open') =>
  emulator.countRequests('POST', `/pools/${poolId}/${action}`);

/**
 * Runs the check queue through `handler` until the pool has an outcome record (or `withinMs`
 * passes), and returns the most check messages the queue held between two polls.
 */
async function followChecks(
  poolId: string,
  options: { delivery?: Delivery; handler?: SqsHandler; withinMs?: number } = {},
): Promise<{ mostQueued: number }> {
  const giveUpAt = Date.now() + (options.withinMs ?? 20_000);
  let mostQueued = await messagesIn(checks);
  while (recordsOf(poolId).length === 0 && Date.now() < giveUpAt) {
    await pollOnce(sqs, checks.url, checks.arn, options.handler ?? checker, {
      waitSeconds: 1,
      delivery: options.delivery ?? 'once',
    });
    mostQueued = Math.max(mostQueued, await messagesIn(checks));
  }
  return { mostQueued };
}

/** Polls `queue` through `handler` until it has delivered something or `withinMs` passes. */
async function pollUntilReceived(
  queue: QueuePair,
  handler: SqsHandler,
  withinMs = 10_000,
): Promise<{ received: number; failed: string[] }> {
  const giveUpAt = Date.now() + withinMs;
  for (;;) {
    const result = await pollOnce(sqs, queue.url, queue.arn, handler, { waitSeconds: 1 });
    if (result.received > 0 || Date.now() >= giveUpAt) return result;
  }
}

describe('a trigger message delivered twice', () => {
  const deliveries = [
    ['in a row', 'twice-in-a-row'],
    ['at once', 'twice-at-once'],
  ] as const;

  /** Toloka takes this long to answer a POST (acting on it at once): the two deliveries overlap it. */
  const slowPost = (poolId: string) =>
    emulator.injectFault({ kind: 'delay', delayMs: 500, method: 'POST', path: `/pools/${poolId}/open` });

  it.each(deliveries)(
    'opens the pool once, with one outcome record and one event, when delivered %s',
    async (_, delivery) => {
      const poolId = delivery === 'twice-in-a-row' ? '6101' : '6102';
      emulator.setPool(poolId, { openDurationMs: 0 });
      slowPost(poolId);
      const messageId = await send(triggers, JSON.stringify({ poolId }));

      const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener, { delivery });

      expect(failed).toEqual([]);
      expect(posts(poolId)).toBe(1);
      expect(recordsOf(poolId)).toEqual([
        expect.objectContaining({ outcome: 'OPENED', triggers: [`sqs:${messageId}`] }),
      ]);
      expect(await eventsOf(poolId)).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
      expect(await openingsOf(poolId)).toEqual([
        expect.objectContaining({ state: 'DECIDED', reportedAtMs: expect.any(Number) }),
      ]);
      expect(await messagesIn(triggers)).toBe(0);
    },
  );

  it.each(deliveries)(
    'writes one INVALID_MESSAGE record for a bad trigger message delivered %s',
    async (_, delivery) => {
      const messageId = await send(triggers, '{"poolId": "61x"}');

      const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener, { delivery });

      expect(failed).toEqual([]);
      expect(emulator.requests).toEqual([]);
      expect(output.outcomes().filter((record) => record.messageId === messageId)).toEqual([
        expect.objectContaining({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'poolId' }),
      ]);
    },
  );

  it.each(deliveries)(
    'keeps one chain of checks when delivered %s while its opening is followed',
    async (_, delivery) => {
      const poolId = delivery === 'twice-in-a-row' ? '6103' : '6104';
      emulator.setPool(poolId, { openDurationMs: 2_500 });
      slowPost(poolId);
      await send(triggers, JSON.stringify({ poolId }));

      await pollOnce(sqs, triggers.url, triggers.arn, opener, { delivery });
      const queuedAfterTrigger = await messagesIn(checks);
      await followChecks(poolId);

      expect(posts(poolId)).toBe(1);
      expect(recordsOf(poolId)).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
      expect(await eventsOf(poolId)).toHaveLength(1);
      // One check message for the opening, not one per delivery of its trigger.
      expect(queuedAfterTrigger).toBe(1);
    },
  );
});

describe('a direct invocation retried', () => {
  it('opens the pool once when the same triggerId comes twice, as Scheduler retries', async () => {
    emulator.setPool('6201', { openDurationMs: 0 });
    const payload = { poolId: '6201', triggerId: 'scheduler-execution-6201' };

    // Each retry of a Scheduler run is a new invocation, with a request ID of its own.
    const first = await openHandler(payload, contextOf(crypto.randomUUID()));
    const second = await openHandler(payload, contextOf(crypto.randomUUID()));

    expect(posts('6201')).toBe(1);
    expect(recordsOf('6201')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', triggers: ['direct:scheduler-execution-6201'] }),
    ]);
    expect(first).toMatchObject({ outcome: 'OPENED' });
    // The retry answers with the opening's outcome, without a second record.
    expect(second).toMatchObject({
      outcome: 'OPENED',
      openingId: (first as { openingId?: string }).openingId,
    });
    expect(await eventsOf('6201')).toHaveLength(1);
  });

  it('opens the pool once when an invocation without triggerId is retried with its request ID', async () => {
    emulator.setPool('6202', { openDurationMs: 0 });
    const requestId = crypto.randomUUID();

    // Lambda keeps the request ID of an asynchronous invocation through its retries.
    await openHandler({ poolId: '6202' }, contextOf(requestId));
    await openHandler({ poolId: '6202' }, contextOf(requestId));

    expect(posts('6202')).toBe(1);
    expect(recordsOf('6202')).toEqual([
      expect.objectContaining({ outcome: 'OPENED', triggers: [`invocation:${requestId}`] }),
    ]);
  });
});

describe('two triggers for one pool while its opening is in flight', () => {
  it('asks Toloka once and writes one record that lists both triggers', async () => {
    emulator.setPool('6301', { openDurationMs: 2_500 });
    const messageId = await send(triggers, '{"poolId": "6301"}');
    await pollOnce(sqs, triggers.url, triggers.arn, opener);
    const requestId = crypto.randomUUID();

    const joined = await openHandler({ poolId: '6301' }, contextOf(requestId));
    await followChecks('6301');

    expect(joined).toMatchObject({ outcome: 'PENDING', openingId: expect.any(String) });
    expect(posts('6301')).toBe(1);
    const records = recordsOf('6301');
    expect(records).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(records[0]?.triggers).toEqual([`sqs:${messageId}`, `invocation:${requestId}`]);
    expect(records[0]?.openingId).toBe((joined as { openingId?: string }).openingId);
  });
});

describe('a POST that reached Toloka though the client gave up on it', () => {
  it('follows the running operation it finds after 409 POOL_LOCKED_BY_ANOTHER_OPERATION, retried in process', async () => {
    Object.assign(process.env, { TOLOKA_REQUEST_TIMEOUT_MS: '800' });
    resetLambdaRuntime();
    emulator.setPool('6401', { openDurationMs: 2_500 });
    // Toloka acts on the POST at once and answers after the client's time-out.
    emulator.injectFault({ kind: 'delay', delayMs: 1_500, method: 'POST', path: '/pools/6401/open' });
    await send(triggers, '{"poolId": "6401"}');

    const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener);
    await followChecks('6401');

    expect(failed).toEqual([]);
    expect(
      emulator.requests.slice(0, 3).map(({ method, path, status }) => `${method} ${path} ${status}`),
    ).toEqual(['POST /pools/6401/open 202', 'POST /pools/6401/open 409', 'GET /operations 200']);
    // The operation the first POST started, the only one there is.
    const [operationId, ...others] = await openOperationsOf('6401');
    expect(others).toEqual([]);
    expect(recordsOf('6401')).toEqual([expect.objectContaining({ outcome: 'OPENED', operationId })]);
  });

  it('follows the running operation it finds after 409 POOL_LOCKED_BY_ANOTHER_OPERATION, retried by SQS', async () => {
    Object.assign(process.env, { TOLOKA_REQUEST_TIMEOUT_MS: '800', TOLOKA_MAX_ATTEMPTS: '1' });
    resetLambdaRuntime();
    emulator.setPool('6402', { openDurationMs: 4_000 });
    emulator.injectFault({ kind: 'delay', delayMs: 1_500, method: 'POST', path: '/pools/6402/open' });
    await send(triggers, '{"poolId": "6402"}');

    const first = await pollOnce(sqs, triggers.url, triggers.arn, opener);
    const redelivered = await pollUntilReceived(triggers, opener);
    await followChecks('6402');

    expect(first.failed).toHaveLength(1);
    expect(redelivered).toMatchObject({ received: 1, failed: [] });
    expect(posts('6402')).toBe(2);
    expect(emulator.countRequests('GET', /^\/operations$/)).toBe(1);
    const [operationId, ...others] = await openOperationsOf('6402');
    expect(others).toEqual([]);
    expect(recordsOf('6402')).toEqual([expect.objectContaining({ outcome: 'OPENED', operationId })]);
  });
});

/** The IDs of the open operations Toloka has for the pool (asked as a client would; logged by the emulator). */
async function openOperationsOf(poolId: string, type = 'POOL.OPEN'): Promise<string[]> {
  const response = await fetch(`${emulator.url}/api/v1/operations?type=${type}&limit=500`, {
    headers: { authorization: `OAuth ${TOKEN}` },
  });
  const { items } = (await response.json()) as {
    items: Array<{ id: string; parameters: { pool_id?: string } }>;
  };
  return items.filter((item) => item.parameters.pool_id === poolId).map((item) => item.id);
}

describe('a check message delivered twice', () => {
  it.each([
    ['in a row', 'twice-in-a-row'],
    ['at once', 'twice-at-once'],
  ] as const)('keeps one chain of checks and writes one record when delivered %s', async (_, delivery) => {
    const poolId = delivery === 'twice-in-a-row' ? '6501' : '6502';
    emulator.setPool(poolId, { openDurationMs: 3_500 });
    // Each check takes Toloka 0.3 s to answer: the two deliveries of a check overlap it.
    emulator.injectFault({
      kind: 'delay',
      delayMs: 300,
      method: 'GET',
      path: /^\/operations\//,
      times: Number.POSITIVE_INFINITY,
    });
    await send(triggers, JSON.stringify({ poolId }));
    await pollOnce(sqs, triggers.url, triggers.arn, opener);

    const { mostQueued } = await followChecks(poolId, { delivery });

    const records = recordsOf(poolId);
    expect(records).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    // At most one check message of the opening waits in the queue between two polls.
    expect(mostQueued).toBeLessThanOrEqual(1);
    expect(await messagesIn(checks)).toBe(0);
    expect(await eventsOf(poolId)).toHaveLength(1);
    if (delivery === 'twice-in-a-row') {
      // A duplicate is dropped before it asks Toloka anything: one GET per check in the record.
      expect(emulator.countRequests('GET', '/operations/')).toBe(records[0]?.checks);
    }
  });
});

describe('a function killed between the decision and the record', () => {
  const LEASE_MS = 1_000;
  /** Waits until the report lease of the step that decided `opening` (and died) has run out. */
  const pastReportLease = async (opening: { reportLeaseUntilMs?: number } | undefined) => {
    await sleep(Math.max(0, (opening?.reportLeaseUntilMs ?? 0) - Date.now() + 50));
  };

  /** An open, and a close of a pool that starts open, as each action's run begins in the emulator. */
  const ACTIONS = [
    { action: 'open', done: 'OPENED', pools: ['6601', '6611', '6612', '6613'] },
    { action: 'close', done: 'CLOSED', pools: ['6701', '6711', '6712', '6713'] },
  ] as const;
  const startsFor = (action: 'open' | 'close', durationMs: number) =>
    action === 'open'
      ? { openDurationMs: durationMs }
      : { status: 'OPEN' as const, closeDurationMs: durationMs };
  const body = (poolId: string, action: 'open' | 'close') =>
    JSON.stringify(action === 'open' ? { poolId } : { poolId, action });

  it.each(ACTIONS)(
    '$action: writes the record on the redelivery of the trigger, once',
    async ({ action, done, pools }) => {
      const [poolId = ''] = pools;
      emulator.setPool(poolId, startsFor(action, 0));
      await send(triggers, body(poolId, action));
      const lambda = new LambdaProcess('open-pool', { reportLeaseMs: LEASE_MS });

      const killed = await pollOnceKilled(sqs, triggers.url, triggers.arn, lambda, { at: 'outcome-record' });
      const decided = await openingsOf(poolId);
      // SQS delivers the batch again after its visibility time-out; taken past the report lease (a
      // child slow to start under load can decide late enough for the redelivery to come within it).
      await pastReportLease(decided[0]);
      const redelivered = await pollUntilReceived(triggers, (event) =>
        createOpenPoolHandler(leasedRuntime(LEASE_MS))(event, contextOf(crypto.randomUUID())),
      );

      expect(killed?.run).toMatchObject({ killed: true, killedBy: 'outcome-record', outcomes: [] });
      expect(decided).toEqual([expect.objectContaining({ state: 'DECIDED' })]);
      expect(decided[0]?.reportedAtMs).toBeUndefined();
      expect(redelivered).toMatchObject({ received: 1, failed: [] });
      expect(recordsOf(poolId)).toEqual([expect.objectContaining({ outcome: done, action })]);
      expect(posts(poolId, action)).toBe(1);
      expect(await eventsOf(poolId)).toHaveLength(1);
      expect(await openingsOf(poolId)).toEqual([
        expect.objectContaining({ reportedAtMs: expect.any(Number) }),
      ]);
    },
  );

  it('writes the record on the redelivery of the check, once', async () => {
    emulator.setPool('6602', { openDurationMs: 1_500 });
    await send(triggers, '{"poolId": "6602"}');
    await pollOnce(sqs, triggers.url, triggers.arn, opener);
    const lambda = new LambdaProcess('check-operation', { reportLeaseMs: LEASE_MS });

    // Every check runs in a child until the one that decides is killed before its record.
    let killed = false;
    const giveUpAt = Date.now() + 15_000;
    while (!killed && Date.now() < giveUpAt) {
      const polled = await pollOnceKilled(
        sqs,
        checks.url,
        checks.arn,
        lambda,
        { at: 'outcome-record' },
        { waitSeconds: 1 },
      );
      killed = polled?.run.killed ?? false;
      if (polled !== undefined) expect(polled.run.outcomes).toEqual([]);
    }
    await pastReportLease((await openingsOf('6602'))[0]);
    const redelivered = await pollUntilReceived(checks, (event) =>
      createCheckOperationHandler(leasedRuntime(LEASE_MS))(
        event as Parameters<ReturnType<typeof createCheckOperationHandler>>[0],
        contextOf(crypto.randomUUID()),
      ),
    );

    expect(killed).toBe(true);
    expect(redelivered).toMatchObject({ received: 1, failed: [] });
    expect(recordsOf('6602')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(await messagesIn(checks)).toBe(0);
    expect(await eventsOf('6602')).toHaveLength(1);
  });

  it("writes the record on Lambda's later retry of a direct invocation, failing the one that comes within the lease", async () => {
    // Lambda retries a failed asynchronous invocation about a minute after it failed, and a
    // time-out is a failure; the domain's report lease is two minutes. Scaled down: a 4 s lease,
    // a first retry 0.3 s after the kill (inside it), a second one after it.
    const lease = 4_000;
    emulator.setPool('6603', { openDurationMs: 0 });
    const payload = { poolId: '6603', triggerId: 'scheduler-execution-6603' };
    const lambda = new LambdaProcess('open-pool', { reportLeaseMs: lease });

    const killed = await lambda.invoke(payload, { killAt: 'outcome-record' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Within the lease the killed one might still be writing: this retry must not succeed (Lambda
    // would not retry again, and the record would be lost), so it fails and Lambda tries again.
    const handler = createOpenPoolHandler(leasedRuntime(lease));
    await expect(handler(payload, contextOf(crypto.randomUUID()))).rejects.toMatchObject({
      code: 'OPENING_BUSY',
    });
    expect(recordsOf('6603')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, lease));
    const retried = await handler(payload, contextOf(crypto.randomUUID()));

    expect(killed).toMatchObject({ killed: true, outcomes: [] });
    expect(retried).toMatchObject({ outcome: 'OPENED' });
    expect(recordsOf('6603')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
  });

  it.each(ACTIONS)(
    '$action: asks Toloka once, when killed mid-batch while a POST was in flight, and ends every run once',
    async ({ action, done, pools }) => {
      const [, first = '', second = '', slow = ''] = pools;
      emulator.setPool(first, startsFor(action, 0));
      emulator.setPool(second, startsFor(action, 0));
      // Still running when the batch comes back, so that the retried POST meets 409 (done by then,
      // it would meet 204 and end ALREADY_OPEN or ALREADY_CLOSED, which is true of the pool too).
      emulator.setPool(slow, startsFor(action, 5_000));
      // The POST of the slow pool reaches Toloka, which answers only after the function is dead.
      emulator.injectFault({
        kind: 'delay',
        delayMs: 3_000,
        method: 'POST',
        path: `/pools/${slow}/${action}`,
      });
      for (const poolId of [first, second, slow]) await send(triggers, body(poolId, action));
      const lambda = new LambdaProcess('open-pool');

      let killed: Awaited<ReturnType<typeof pollOnceKilled>>;
      // Three messages may come in more than one receive from moto; the kill hits the slow pool's.
      let received = 0;
      do {
        killed = await pollOnceKilled(sqs, triggers.url, triggers.arn, lambda, { afterMs: 1_500 });
        received += killed?.received ?? 0;
      } while (killed !== undefined && !killed.run.killed);
      const childRecords = killed?.run.outcomes ?? [];
      // The whole batch comes back after its visibility time-out, to a new execution environment.
      let redelivered = 0;
      const giveUpAt = Date.now() + 10_000;
      while (redelivered < (killed?.received ?? 0) && Date.now() < giveUpAt) {
        redelivered += (await pollUntilReceived(triggers, opener)).received;
      }
      await followChecks(slow);

      expect(received).toBe(3);
      expect(killed?.run.killedBy).toBe('delay');
      for (const poolId of [first, second, slow]) {
        const records = [...childRecords, ...output.outcomes()].filter((record) => record.poolId === poolId);
        expect(records, `records of pool ${poolId}`).toEqual([expect.objectContaining({ outcome: done })]);
        expect(posts(poolId, action), `POSTs of pool ${poolId}`).toBe(poolId === slow ? 2 : 1);
      }
      // The retried POST met the operation the first one started (POOL.OPEN or POOL.CLOSE), the only one there is.
      expect(await openOperationsOf(slow, `POOL.${action.toUpperCase()}`)).toEqual([
        recordsOf(slow)[0]?.operationId,
      ]);
    },
  );
});

describe('a token rotated in SSM while the functions are warm', () => {
  let gate: TokenGate;
  let ssmReads: () => number;

  beforeEach(async () => {
    gate = new TokenGate([TOKEN, ROTATED]);
    await gate.start();
    gate.accept(TOKEN);
    process.env.TOLOKA_API_URL = gate.url;
    resetLambdaRuntime();
    const send = vi.spyOn(SSMClient.prototype, 'send');
    ssmReads = () => send.mock.calls.filter(([command]) => command instanceof GetParameterCommand).length;
  });

  afterEach(async () => {
    await gate.stop();
  });

  /** Opens a first pool, so that the functions hold the token as it was. */
  async function warmUp(poolId: string): Promise<void> {
    gate.toloka.setPool(poolId, { openDurationMs: 0 });
    await send(triggers, JSON.stringify({ poolId }));
    await pollOnce(sqs, triggers.url, triggers.arn, opener);
    expect(recordsOf(poolId)).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
  }

  async function rotate(): Promise<void> {
    await putSecureToken(ssm, TOKEN_PARAMETER, ROTATED);
    gate.accept(ROTATED);
  }

  it('reads SSM again once after the 401 and opens with the new token', async () => {
    await warmUp('6701');
    const readsWhenWarm = ssmReads();
    // The cold start read the token once; warm invocations use the cached one.
    expect(readsWhenWarm).toBe(1);
    await rotate();
    gate.toloka.setPool('6702', { openDurationMs: 0 });
    await send(triggers, '{"poolId": "6702"}');

    const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener);

    expect(failed).toEqual([]);
    expect(recordsOf('6702')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(ssmReads() - readsWhenWarm).toBe(1);
    expect(gate.refusing.requests.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
      'POST /pools/6702/open 401',
    ]);
    expect(gate.toloka.countRequests('POST', '/pools/6702/open')).toBe(1);
  });

  it('reads SSM again once after the 401 on a status check and follows with the new token', async () => {
    await warmUp('6703');
    gate.toloka.setPool('6704', { openDurationMs: 1_500 });
    await send(triggers, '{"poolId": "6704"}');
    await pollOnce(sqs, triggers.url, triggers.arn, opener);
    const readsWhenWarm = ssmReads();
    await rotate();

    await followChecks('6704');

    expect(recordsOf('6704')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(ssmReads() - readsWhenWarm).toBe(1);
    expect(gate.refusing.requests).toHaveLength(1);
    expect(gate.refusing.requests[0]).toMatchObject({ method: 'GET', status: 401 });
  });

  it('reports FAILED at once on the opener when Toloka refuses a token that has not changed', async () => {
    await warmUp('6705');
    const readsWhenWarm = ssmReads();
    gate.accept(ROTATED); // revoked at Toloka, not yet replaced in SSM
    gate.toloka.setPool('6706', { openDurationMs: 0 });
    await send(triggers, '{"poolId": "6706"}');

    const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener);

    expect(failed).toEqual([]);
    expect(recordsOf('6706')).toEqual([
      expect.objectContaining({ outcome: 'FAILED', httpStatus: 401, code: 'AUTHENTICATION_ERROR' }),
    ]);
    expect(ssmReads() - readsWhenWarm).toBe(1);
    expect(gate.refusing.countRequests('POST', '/pools/6706/open')).toBe(1);
    expect(await drainBodies(sqs, triggers.dlqUrl)).toEqual([]);
  });

  it('returns a status check to its queue, with no FAILED record, when Toloka refuses a token that has not changed', async () => {
    // A check queue that gives up sooner (2 receives, 1 s apart), to keep the test short.
    checks = await createQueueWithDlq(sqs, 'exactly-once-checks', {
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 1,
    });
    process.env.CHECK_QUEUE_URL = checks.url;
    resetLambdaRuntime();
    gate.toloka.setPool('6707', { openDurationMs: 1_500 });
    await send(triggers, '{"poolId": "6707"}');
    await pollOnce(sqs, triggers.url, triggers.arn, opener);
    gate.accept(ROTATED);

    const giveUpAt = Date.now() + 20_000;
    let returned = 0;
    while (Date.now() < giveUpAt && (await messagesIn(checks)) > 0) {
      returned += (await pollOnce(sqs, checks.url, checks.arn, checker, { waitSeconds: 1 })).failed.length;
    }

    expect(returned).toBe(2);
    expect(recordsOf('6707')).toEqual([]);
    // After maxReceiveCount receives, the check is in the dead-letter queue, where its alarm rings.
    expect(await drainBodies(sqs, checks.dlqUrl)).toEqual([expect.stringContaining('"poolId":"6707"')]);
    expect(await openingsOf('6707')).toEqual([expect.objectContaining({ state: 'FOLLOWING' })]);
  });
});

describe("Toloka's Retry-After", () => {
  const WAIT_S = 3;

  beforeEach(() => {
    // One attempt per step: Toloka's wait is longer than any step's retries.
    process.env.TOLOKA_MAX_ATTEMPTS = '1';
    resetLambdaRuntime();
  });

  it('holds a status check on the check queue until the wait is over, and never dead-letters it', async () => {
    emulator.setPool('6801', { openDurationMs: 2_500 });
    emulator.injectFault({
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': String(WAIT_S) },
      method: 'GET',
      path: /^\/operations\//,
    });
    await send(triggers, '{"poolId": "6801"}');
    await pollOnce(sqs, triggers.url, triggers.arn, opener);

    const first = await pollUntilReceived(checks, checker);
    const afterRefusal = await queueCounts(sqs, checks.url);
    await followChecks('6801');

    expect(first).toMatchObject({ received: 1, failed: [] });
    // The next check waits as a delayed message, not as an invisible failed one.
    expect(afterRefusal).toMatchObject({ delayed: 1, visible: 0 });
    const refusedAt = emulator.requests.find((request) => request.status === 429)?.at ?? 0;
    const after = emulator.requests.filter((request) => request.at > refusedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after.map((request) => request.at)) - refusedAt).toBeGreaterThanOrEqual(WAIT_S * 1000);
    expect(recordsOf('6801')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(await drainBodies(sqs, checks.dlqUrl)).toEqual([]);
  });

  it('holds the open itself on the check queue until the wait is over, and never dead-letters the trigger', async () => {
    emulator.setPool('6802', { openDurationMs: 0 });
    emulator.injectFault({
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': String(WAIT_S) },
      method: 'POST',
      path: '/pools/6802/open',
    });
    await send(triggers, '{"poolId": "6802"}');

    const { failed } = await pollOnce(sqs, triggers.url, triggers.arn, opener);
    const afterRefusal = await queueCounts(sqs, checks.url);
    await followChecks('6802');

    expect(failed).toEqual([]);
    expect(afterRefusal).toMatchObject({ delayed: 1, visible: 0 });
    const [refused, retried, ...more] = emulator.requests;
    expect(refused).toMatchObject({ method: 'POST', status: 429 });
    expect(retried).toMatchObject({ method: 'POST', status: 202 });
    expect(more).toEqual([]);
    expect((retried?.at ?? 0) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(WAIT_S * 1000);
    expect(recordsOf('6802')).toEqual([expect.objectContaining({ outcome: 'OPENED' })]);
    expect(await drainBodies(sqs, triggers.dlqUrl)).toEqual([]);
    expect(await messagesIn(triggers)).toBe(0);
  });
});

describe('what makes a batch', () => {
  it('parses {"Records": [...]} without eventSource aws:sqs as a direct invocation, and refuses it naming the field', async () => {
    const result = await openHandler(
      { Records: [{ body: '{"poolId":"1"}' }] },
      contextOf(crypto.randomUUID()),
    );

    expect(result).not.toHaveProperty('batchItemFailures');
    expect(result).toMatchObject({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'Records' });
    expect(output.outcomes()).toEqual([
      expect.objectContaining({ code: 'INVALID_MESSAGE', field: 'Records' }),
    ]);
    expect(emulator.requests).toEqual([]);
  });

  it('treats a batch with one record not from aws:sqs as a direct invocation too', async () => {
    const sqsRecord = {
      messageId: 'm-1',
      body: '{"poolId":"1"}',
      eventSource: 'aws:sqs',
      eventSourceARN: triggers.arn,
    };
    const result = await openHandler(
      { Records: [sqsRecord, { ...sqsRecord, messageId: 'm-2', eventSource: 'aws:sns' }] },
      contextOf(crypto.randomUUID()),
    );

    expect(result).not.toHaveProperty('batchItemFailures');
    expect(result).toMatchObject({ outcome: 'FAILED', field: 'Records' });
    expect(emulator.requests).toEqual([]);
  });
});
