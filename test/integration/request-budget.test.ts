/**
 * The request budget through the real handlers, wired from their environment as the construct
 * sets it (`TOLOKA_REQUESTS_PER_SECOND`), against moto and real HTTP to the Toloka emulator: a
 * batch of ten triggers never sends Toloka more than the instance's share in any second, hands its
 * openings over to the check queue instead of following them in process, and every pool opens.
 * The same batch without a share is the control: it sends more, so the check can fail.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { handler as checkHandler } from '../../lambda/check-operation.ts';
import { handler as openHandler } from '../../lambda/open-pool.ts';
import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { OutputCapture } from '../support/capture-output.ts';
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
import { pollOnce, type SqsHandler } from '../support/sqs-event-source.ts';

const TOKEN = 'request-budget-token-Qd73Lm2x';
const TOKEN_PARAMETER = `/toloka/request-budget-${process.pid}/api-token`;
const POOLS = Array.from({ length: 10 }, (_, i) => String(8101 + i));

let moto: ReturnType<typeof useMoto>;
let sqs: SQSClient;
let ssm: SSMClient;
let emulator: TolokaEmulator;
let triggers: QueuePair;
let checks: QueuePair;
let output: OutputCapture;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  ({ sqs, ssm } = clients());
  emulator = new TolokaEmulator({ tokens: [TOKEN] });
  await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
  moto.restore();
  resetLambdaRuntime();
});

beforeEach(async () => {
  await putSecureToken(ssm, TOKEN_PARAMETER, TOKEN);
  emulator.reset();
  for (const poolId of POOLS) emulator.setPool(poolId, { status: 'CLOSED', openDurationMs: 2_000 });
  const queueOptions = { maxReceiveCount: 3, visibilityTimeoutSeconds: 30 };
  triggers = await createQueueWithDlq(sqs, 'request-budget-triggers', queueOptions);
  checks = await createQueueWithDlq(sqs, 'request-budget-checks', queueOptions);
  output = new OutputCapture().start();
});

afterEach(() => {
  output.stop();
});

const context = (): Context => ({ ...lambdaContext(60_000), awsRequestId: crypto.randomUUID() });
const opener: SqsHandler = (event) => openHandler(event, context());
const checker: SqsHandler = (event) => checkHandler(event, context());

/** The handlers as the stack configures them, with a fast path long enough to hold the openings. */
async function configure(share: string | undefined): Promise<void> {
  useHandlerEnvironment(
    {
      tolokaApiUrl: emulator.url,
      tokenParameter: TOKEN_PARAMETER,
      checkQueueUrl: checks.url,
      openingsTable: await createOpeningsTable('request-budget'),
    },
    { FAST_PATH_SECONDS: '20', ...(share === undefined ? {} : { TOLOKA_REQUESTS_PER_SECOND: share }) },
  );
}

/** Ten triggers sent together, received as one batch, then the check queue until every pool has its record. */
async function burst(): Promise<{ openerMs: number; checkMessages: number }> {
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: triggers.url,
      Entries: POOLS.map((poolId) => ({ Id: poolId, MessageBody: JSON.stringify({ poolId }) })),
    }),
  );
  const started = Date.now();
  const received = await pollOnce(sqs, triggers.url, triggers.arn, opener, { waitSeconds: 0 });
  expect(received.received).toBe(10);
  const openerMs = Date.now() - started;
  let checkMessages = 0;
  const giveUpAt = Date.now() + 60_000;
  while (output.outcomes().length < POOLS.length && Date.now() < giveUpAt) {
    checkMessages += (await pollOnce(sqs, checks.url, checks.arn, checker, { waitSeconds: 1 })).received;
  }
  return { openerMs, checkMessages };
}

/** The most API requests the emulator got within any one second (half-open, as Toloka counts). */
function peakPerSecond(): number {
  const times = emulator.requests.map((request) => request.at).sort((a, b) => a - b);
  let peak = 0;
  for (let end = 0, start = 0; end < times.length; end++) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= 1000) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

describe('the Toloka request budget, through the real handlers', () => {
  it('keeps a batch of ten to the instance’s share of 3 a second, hands the openings to the check queue, and opens every pool', async () => {
    await configure('3');
    const { openerMs, checkMessages } = await burst();
    expect(output.outcomes().map((record) => record.outcome)).toEqual(Array(10).fill('OPENED'));
    expect(peakPerSecond()).toBeLessThanOrEqual(3);
    expect(emulator.requests.filter((request) => request.status === 429)).toEqual([]);
    // Ten POSTs at 3 a second take about 3 s; the fast path would have held them for 2 s each after that.
    expect(openerMs).toBeLessThan(6_000);
    expect(checkMessages).toBeGreaterThanOrEqual(10);
  }, 90_000);

  it('sends more than that in some second without a share (the control)', async () => {
    await configure(undefined);
    await burst();
    expect(output.outcomes().map((record) => record.outcome)).toEqual(Array(10).fill('OPENED'));
    expect(peakPerSecond()).toBeGreaterThan(3);
  }, 90_000);
});
