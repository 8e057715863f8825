/**
 * The real handlers, with the real AWS SDK talking to moto (SSM, SQS, EventBridge) through the SDK's standard
 * endpoint settings, and real HTTP to the Toloka emulator. Nothing in the app is swapped out.
 */

import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import { SsmTokenSource } from '../../lambda/adapters/token-sources.ts';
import { handler as checkHandler } from '../../lambda/check-operation.ts';
import { handler as openHandler } from '../../lambda/open-pool.ts';
import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { OutputCapture } from '../support/capture-output.ts';
import { lambdaContext } from '../support/events.ts';
import { useHandlerEnvironment } from '../support/handler-environment.ts';
import { seedFollowing } from '../support/ledger-seed.ts';
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
import { pollOnce } from '../support/sqs-event-source.ts';

const TOKEN = 'moto-scenario-token-Zq81xK5vP0';
const TOKEN_PARAMETER = '/toloka/test/api-token';

let moto: ReturnType<typeof useMoto>;
let sqs: SQSClient;
let ssm: SSMClient;
let emulator: TolokaEmulator;
let triggers: QueuePair;
let checks: QueuePair;
const everything = new OutputCapture();
let output: OutputCapture;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  ({ sqs, ssm } = clients());
  await putSecureToken(ssm, TOKEN_PARAMETER, TOKEN);
  emulator = new TolokaEmulator({ tokens: [TOKEN] });
  await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
  moto.restore();
  resetLambdaRuntime();
});

beforeEach(async () => {
  triggers = await createQueueWithDlq(sqs, 'triggers', { maxReceiveCount: 2 });
  checks = await createQueueWithDlq(sqs, 'checks', { maxReceiveCount: 2 });
  useHandlerEnvironment({
    tolokaApiUrl: emulator.url,
    tokenParameter: TOKEN_PARAMETER,
    checkQueueUrl: checks.url,
    openingsTable: await createOpeningsTable(),
  });
  output = new OutputCapture().start();
});

afterEach(() => {
  output.stop();
  everything.chunks.push(...output.chunks);
});

const openFrom = (queue: QueuePair) =>
  pollOnce(sqs, queue.url, queue.arn, (event) => openHandler(event, lambdaContext()));
const checkFrom = (queue: QueuePair, waitSeconds = 1) =>
  pollOnce(sqs, queue.url, queue.arn, (event) => checkHandler(event, lambdaContext()), { waitSeconds });

async function send(queue: QueuePair, body: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
}

describe('the token in SSM Parameter Store', () => {
  it('is read from the SecureString decrypted, where a plain read would return another value', async () => {
    const plain = await new SSMClient({}).send(new GetParameterCommand({ Name: TOKEN_PARAMETER }));
    expect(plain.Parameter?.Type).toBe('SecureString');
    // The check below can only catch a missing WithDecryption because this differs.
    expect(plain.Parameter?.Value).not.toBe(TOKEN);
    await expect(new SsmTokenSource(TOKEN_PARAMETER, 0).getToken()).resolves.toBe(TOKEN);
  });

  it('reaches Toloka as the Authorization the emulator accepts', async () => {
    emulator.setPool('5101', { status: 'OPEN' });
    await send(triggers, '{"poolId": "5101"}');
    await openFrom(triggers);
    expect(output.outcomes()).toEqual([expect.objectContaining({ outcome: 'ALREADY_OPEN', poolId: '5101' })]);
    expect(emulator.requests.at(-1)).toMatchObject({
      path: '/pools/5101/open',
      status: 204,
      authScheme: 'OAuth',
    });
  });

  it('returns the message to its queue, reporting nothing, when the parameter cannot be read', async () => {
    process.env.TOLOKA_TOKEN_PARAMETER = '/toloka/test/missing';
    resetLambdaRuntime();
    await send(triggers, '{"poolId": "5102"}');
    const { failed } = await openFrom(triggers);
    expect(failed).toHaveLength(1);
    expect(output.outcomes()).toEqual([]);
    expect(output.text).toContain('TOKEN_UNAVAILABLE');
  });
});

describe('delayed status checks on SQS', () => {
  it('holds the first check back for its DelaySeconds, then delivers it', async () => {
    emulator.setPool('5201', { openDurationMs: 30_000 });
    await send(triggers, '{"poolId": "5201"}');
    await openFrom(triggers);
    expect(await queueCounts(sqs, checks.url)).toMatchObject({ visible: 0, delayed: 1 });
    const early = await checkFrom(checks, 0);
    expect(early.received).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const later = await checkFrom(checks, 1);
    expect(later.received).toBe(1);
  });

  it('follows an opening from an SQS trigger to OPENED through real delayed messages', async () => {
    emulator.setPool('5202', { openDurationMs: 2_500 });
    await send(triggers, '{"poolId": "5202"}');
    await openFrom(triggers);
    const giveUpAt = Date.now() + 20_000;
    while (output.outcomes().length === 0 && Date.now() < giveUpAt) await checkFrom(checks, 1);
    expect(output.outcomes()).toEqual([expect.objectContaining({ outcome: 'OPENED', poolId: '5202' })]);
    expect(await queueCounts(sqs, checks.url)).toEqual({ visible: 0, delayed: 0, inFlight: 0 });
  });

  it('keeps every delay within the SQS maximum of 900 seconds, which SQS accepts', async () => {
    emulator.setPool('5203', { openDurationMs: 86_400_000 });
    // An opening the ledger has followed for ten hours (opened at Toloka directly, not by a trigger).
    await fetch(`${emulator.url}/api/v1/pools/5203/open`, {
      method: 'POST',
      headers: { authorization: `OAuth ${TOKEN}` },
    });
    const operationId = emulator.getPoolState('5203')?.activeOperationId;
    // A check of an opening that has been going for ten hours would wait 2 h without the 900 s cap of SQS.
    const hours = (n: number) => new Date(Date.now() + n * 3_600_000).toISOString();
    const ledger = new DynamoDbOpeningsLedger(process.env.OPENINGS_TABLE ?? '');
    const { opening } = await ledger.claim({
      triggerId: 'ten-hours-ago',
      target: { kind: 'pool', id: '5203' },
      nowMs: Date.now() - 10 * 3_600_000,
      deadlineMs: Date.now() + 2 * 3_600_000,
      leaseMs: 60_000,
    });
    await seedFollowing(ledger, opening.openingId, operationId ?? '', 'live-check', 29);
    process.env.CHECK_DEADLINE_SECONDS = String(12 * 3600);
    resetLambdaRuntime();
    await send(
      checks,
      JSON.stringify({
        version: 2,
        poolId: '5203',
        openingId: opening.openingId,
        checkToken: 'live-check',
        operationId,
        requestedAt: hours(-10),
        deadline: hours(2),
        attempt: 30,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { received, failed } = await checkFrom(checks, 1);
    expect(received).toBeGreaterThanOrEqual(1);
    expect(failed).toEqual([]);
    const next = output.records().find((record) => record.checks === 30);
    // Ten hours in, checks are 900 s apart (capped): the next one is due between 450 s and 900 s from now.
    expect(next?.nextCheckInSeconds).toBeGreaterThan(450);
    expect(next?.nextCheckInSeconds).toBeLessThanOrEqual(900);
  });
});

describe('redrive and partial batch responses', () => {
  it('moves a trigger that keeps failing to the dead-letter queue after maxReceiveCount, body intact', async () => {
    emulator.injectFault({
      kind: 'status',
      status: 503,
      path: '/pools/5301/open',
      times: Number.POSITIVE_INFINITY,
    });
    const body = '{"poolId": "5301"}';
    await send(triggers, body);
    const giveUpAt = Date.now() + 15_000;
    let receives = 0;
    while (Date.now() < giveUpAt) {
      const { received } = await pollOnce(
        sqs,
        triggers.url,
        triggers.arn,
        (event) => openHandler(event, lambdaContext()),
        {
          waitSeconds: 1,
        },
      );
      receives += received;
      const counts = await queueCounts(sqs, triggers.url);
      if (received === 0 && counts.visible + counts.inFlight === 0) break;
    }
    emulator.clearFaults();
    expect(receives).toBe(2);
    expect(await drainBodies(sqs, triggers.dlqUrl)).toEqual([body]);
    expect(output.outcomes()).toEqual([]);
    expect(emulator.countRequests('POST', '/pools/5301/open')).toBe(4);
  });

  it('fails only the one failing message in a batch of ten', async () => {
    emulator.injectFault({
      kind: 'status',
      status: 503,
      path: '/pools/5409/open',
      times: Number.POSITIVE_INFINITY,
    });
    const bodies = [
      ...Array.from({ length: 8 }, (_, index) => `{"poolId": "${5401 + index}"}`),
      '{"poolId": "5409"}',
      '{"poolId": "not-a-number"}',
    ];
    for (const id of [5401, 5402, 5403, 5404, 5405, 5406, 5407, 5408])
      emulator.setPool(String(id), { openDurationMs: 0 });
    for (const body of bodies) await send(triggers, body);
    const { received, failed } = await openFrom(triggers);
    emulator.clearFaults();
    expect(received).toBe(10);
    expect(failed).toHaveLength(1);
    const outcomes = output.outcomes();
    expect(outcomes.filter((record) => record.outcome === 'OPENED')).toHaveLength(8);
    expect(outcomes).toContainEqual(
      expect.objectContaining({ outcome: 'FAILED', code: 'INVALID_MESSAGE', field: 'poolId' }),
    );
    expect(outcomes).toHaveLength(9);
  });
});

describe('outcome events on EventBridge', () => {
  it('publishes each outcome on the bus, where a rule can route it', async () => {
    const events = new EventBridgeClient({});
    const target = await createQueueWithDlq(sqs, 'outcome-events');
    const rule = `toloka-outcomes-${process.pid}`;
    await events.send(
      new PutRuleCommand({
        Name: rule,
        EventBusName: 'default',
        EventPattern: JSON.stringify({
          source: ['toloka-pool-opener'],
          'detail-type': ['Toloka pool opening finished'],
        }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: rule,
        EventBusName: 'default',
        Targets: [{ Id: 'queue', Arn: target.arn }],
      }),
    );
    process.env.OUTCOME_EVENT_BUS = 'default';
    resetLambdaRuntime();
    try {
      emulator.setPool('5501', { status: 'OPEN' });
      await send(triggers, '{"poolId": "5501"}');
      await openFrom(triggers);
      const [body, ...more] = await drainBodies(sqs, target.url);
      expect(more).toEqual([]);
      const event = JSON.parse(body ?? '{}') as {
        source: string;
        'detail-type': string;
        detail: Record<string, unknown>;
      };
      expect(event.source).toBe('toloka-pool-opener');
      expect(event['detail-type']).toBe('Toloka pool opening finished');
      expect(event.detail).toMatchObject({ version: 1, outcome: 'ALREADY_OPEN', poolId: '5501' });
      // The opening's identity in the ledger: the same on every copy of this outcome.
      expect(event.detail.dedupeKey).toEqual(event.detail.openingId);
      expect(event.detail.dedupeKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(event)).not.toContain(TOKEN);
    } finally {
      delete process.env.OUTCOME_EVENT_BUS;
      await events.send(new RemoveTargetsCommand({ Rule: rule, EventBusName: 'default', Ids: ['queue'] }));
      await events.send(new DeleteRuleCommand({ Name: rule, EventBusName: 'default' }));
    }
  });
});

describe('the token', () => {
  it('never appears in anything the scenarios above wrote', () => {
    expect(everything.chunks.length).toBeGreaterThan(0);
    expect(everything.text).not.toContain(TOKEN);
  });
});
