/**
 * Section 1: how soon each client knows that an opening finished, and what it cost to know.
 *
 * The app runs as deployed, minus AWS: the real opener and checker handlers, their real AWS SDK
 * clients talking to moto (through a counting proxy), real delayed SQS messages, and an event-source
 * driver in place of Lambda's. toloka-kit runs `open_pool` in a Python process against a second
 * emulator. Both emulators time the operations; their finish time is the reference for the lag.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ParameterType, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSEvent } from 'aws-lambda';
import type { RequestLogEntry, TolokaEmulator } from '../emulator/toloka-emulator.ts';
import { handler as checkHandler } from '../lambda/check-operation.ts';
import { handler as openHandler } from '../lambda/open-pool.ts';
import { resetLambdaRuntime } from '../lambda/wiring/lambda-dependencies.ts';
import { createQueueWithDlq } from '../test/support/moto.ts';
import { EventSource } from './event-source.ts';
import { type AwsCall, awsEnvironment, type CountingProxy, DRIVER_HEADER, REGION, ROOT } from './infra.ts';
import { DYNAMODB_SERVICE, itemSizes, type LedgerUsage, ledgerUsage, touchedIds } from './ledger-cost.ts';
import { OutputCapture, progress } from './output.ts';

/** Started longest first, so that the whole section takes about as long as the longest opening. */
export const DURATIONS_MS = [60_000, 10_000, 3_000, 1_000, 0] as const;
export const RUNS = 3;
/** Between two openings of the same client: each trigger gets a batch of its own. */
export const STAGGER_MS = 1_500;
const GIVE_UP_MS = 200_000;

/** Environment variables of the functions that the bench leaves at the app's defaults. */
const DEFAULTED = [
  'TOLOKA_ENVIRONMENT',
  'FAST_PATH_SECONDS',
  'CHECK_DEADLINE_SECONDS',
  'CHECK_MIN_DELAY_SECONDS',
  'CHECK_MAX_DELAY_SECONDS',
  'CHECK_BACKOFF_FACTOR',
  'TOLOKA_REQUEST_TIMEOUT_MS',
  'TOLOKA_MAX_ATTEMPTS',
  'TOKEN_CACHE_SECONDS',
  'OUTCOME_EVENT_BUS',
];

export interface AppOpening {
  readonly durationMs: number;
  readonly run: number;
  readonly poolId: string;
  readonly outcome: string | undefined;
  readonly operationId: string | undefined;
  readonly finishedAt: number;
  readonly lagMs: number;
  readonly getCalls: number;
  readonly postCalls: number;
  /** The `checks` field of the outcome record. */
  readonly checksField: number | undefined;
  readonly openerInvocations: number;
  readonly checkerInvocations: number;
  readonly handlerMs: readonly number[];
  readonly checkMessages: number;
  /** When each GET /operations happened, ms after the operation was submitted. */
  readonly getOffsetsMs: readonly number[];
  /** The openings ledger's DynamoDB calls for this opening (its trigger, target and opening items). */
  readonly ledger: LedgerUsage;
}

export interface KitOpening {
  readonly durationMs: number;
  readonly run: number;
  readonly poolId: string;
  readonly ok: boolean;
  readonly error: string | undefined;
  readonly operationId: string | undefined;
  readonly finishedAt: number;
  readonly lagMs: number;
  readonly getCalls: number;
  readonly postCalls: number;
  readonly poolGets: number;
}

export interface ConfirmationResult {
  readonly app: AppOpening[];
  readonly kit: KitOpening[];
  readonly ssmGetParameter: number;
  readonly appSqsCalls: Record<string, number>;
  readonly triggerSource: SourceStats;
  readonly checkSource: SourceStats;
  /** For each check message: received − (SentTimestamp + DelaySeconds), ms. */
  readonly checkDeliveryLagMs: number[];
  readonly sharedBatches: number;
  /** The app's DynamoDB calls that touched no item of any opening (expected: none). */
  readonly ledgerUnattributed: number;
  /** The largest ledger item at the end of the run, bytes. */
  readonly largestLedgerItem: number;
  readonly wallMs: number;
}

export interface SourceStats {
  readonly receives: number;
  readonly emptyReceives: number;
  readonly deletes: number;
  readonly invocations: number;
}

export const TOKEN = 'bench-token-7QmV2xR9pL';
export const TOKEN_PARAMETER = '/toloka/bench/api-token';

export async function runConfirmation(options: {
  proxyUrl: string;
  motoUrl: string;
  /** The openings ledger's table in moto. */
  openingsTable: string;
  proxy: CountingProxy;
  appEmulator: TolokaEmulator;
  kitEmulator: TolokaEmulator;
  durationsMs?: readonly number[];
  runs?: number;
}): Promise<ConfirmationResult> {
  const { proxy, appEmulator, kitEmulator } = options;
  const durations = options.durationsMs ?? DURATIONS_MS;
  const runs = options.runs ?? RUNS;
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };
  // The driver's own calls go through the proxy too (queue URLs name it), marked so they are told apart.
  const sqs = new SQSClient({ endpoint: options.proxyUrl, region: REGION, credentials });
  sqs.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers[DRIVER_HEADER] = '1';
      return next(args);
    },
    { step: 'build', name: 'benchDriverHeader' },
  );
  const ssm = new SSMClient({ endpoint: options.motoUrl, region: REGION, credentials });
  await ssm.send(
    new PutParameterCommand({
      Name: TOKEN_PARAMETER,
      Value: TOKEN,
      Type: ParameterType.SECURE_STRING,
      Overwrite: true,
    }),
  );
  // As deployed: 6 × the 60 s function time-out, redrive after 5 receives.
  const asDeployed = { visibilityTimeoutSeconds: 360, maxReceiveCount: 5 };
  const triggers = await createQueueWithDlq(sqs, 'bench-triggers', asDeployed);
  const checks = await createQueueWithDlq(sqs, 'bench-checks', asDeployed);

  const schedule: Array<{
    durationMs: number;
    run: number;
    offsetMs: number;
    appPool: string;
    kitPool: string;
  }> = [];
  for (let run = 0; run < runs; run++) {
    durations.forEach((durationMs, index) => {
      schedule.push({
        durationMs,
        run,
        offsetMs: (run * durations.length + index) * STAGGER_MS,
        appPool: String(1000 + index * 10 + run + 1),
        kitPool: String(2000 + index * 10 + run + 1),
      });
    });
  }
  for (const item of schedule) {
    appEmulator.setPool(item.appPool, { openDurationMs: item.durationMs });
    kitEmulator.setPool(item.kitPool, { openDurationMs: item.durationMs });
  }

  for (const name of DEFAULTED) delete process.env[name];
  Object.assign(process.env, awsEnvironment(options.proxyUrl), {
    TOLOKA_API_URL: appEmulator.url,
    TOLOKA_TOKEN_PARAMETER: TOKEN_PARAMETER,
    CHECK_QUEUE_URL: checks.url,
    OPENINGS_TABLE: options.openingsTable,
  });
  resetLambdaRuntime();
  proxy.calls.length = 0;

  const capture = new OutputCapture().start();
  const keyOf = (body: string) => {
    try {
      const parsed = JSON.parse(body) as { poolId?: unknown };
      return String(parsed.poolId ?? 'unknown');
    } catch {
      return 'unparsable';
    }
  };
  const triggerSource = new EventSource(sqs, {
    name: 'opener',
    queueUrl: triggers.url,
    queueArn: triggers.arn,
    handler: (event: SQSEvent, context: Context) => openHandler(event, context),
    keyOf,
  });
  const checkSource = new EventSource(sqs, {
    name: 'checker',
    queueUrl: checks.url,
    queueArn: checks.arn,
    handler: (event: SQSEvent, context: Context) => checkHandler(event, context),
    keyOf,
  });
  const started = Date.now();
  const kitRun = runTolokaKit(kitEmulator.url, schedule);
  try {
    triggerSource.start();
    checkSource.start();
    progress(
      `confirmation: ${schedule.length} openings per client, ${STAGGER_MS} ms apart, ` +
        `operations of ${durations.map((ms) => ms / 1000).join(', ')} s`,
    );
    const t0 = Date.now();
    for (const item of schedule) {
      const wait = t0 + item.offsetMs - Date.now();
      if (wait > 0) await sleep(wait);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: triggers.url,
          MessageBody: JSON.stringify({ poolId: item.appPool }),
        }),
      );
    }
    let reported = -1;
    while (capture.outcomes.length < schedule.length && Date.now() - started < GIVE_UP_MS) {
      if (capture.outcomes.length !== reported) {
        reported = capture.outcomes.length;
        progress(`confirmation: ${reported}/${schedule.length} app outcomes`);
      }
      await sleep(250);
    }
    progress(
      `confirmation: ${capture.outcomes.length}/${schedule.length} app outcomes; waiting for toloka-kit`,
    );
    const giveUp = sleep(Math.max(0, GIVE_UP_MS - (Date.now() - started)), undefined, { ref: false });
    await Promise.race([kitRun.done, giveUp]);
  } finally {
    kitRun.stop();
    await Promise.all([triggerSource.stop(), checkSource.stop()]);
    capture.stop();
  }
  const kitLines = kitRun.lines;
  const wallMs = Date.now() - started;

  const appCalls = proxy.calls.filter((call) => !call.driver);
  const sends = appCalls.filter((call) => call.action === 'SendMessage');
  const ledgerCalls = appCalls.filter((call) => call.service === DYNAMODB_SERVICE);
  const sizes = await itemSizes(options.motoUrl, options.openingsTable);
  const ledgerIds = (poolId: string, record: Record<string, unknown> | undefined) => {
    const triggers = Array.isArray(record?.triggers) ? record.triggers.map(String) : [];
    return new Set([
      `target#pool:${poolId}`,
      `opening#${String(record?.openingId ?? '')}`,
      ...triggers.map((trigger) => `trigger#${trigger}`),
    ]);
  };
  const recordOf = (poolId: string) =>
    capture.outcomes.find((outcome) => outcome.record.poolId === poolId)?.record;
  const allIds = new Set(schedule.flatMap((item) => [...ledgerIds(item.appPool, recordOf(item.appPool))]));
  const app = schedule.map((item): AppOpening => {
    const captured = capture.outcomes.find((outcome) => outcome.record.poolId === item.appPool);
    const operationId =
      typeof captured?.record.operationId === 'string' ? captured.record.operationId : undefined;
    const operation = operationId === undefined ? undefined : appEmulator.getOperation(operationId);
    const submittedAt = operation === undefined ? Number.NaN : Date.parse(`${operation.submitted}Z`);
    const finishedAt = operation?.finished === undefined ? Number.NaN : Date.parse(`${operation.finished}Z`);
    const gets = operationId === undefined ? [] : operationGets(appEmulator.requests, operationId);
    const served = [...triggerSource.invocations, ...checkSource.invocations].filter((invocation) =>
      invocation.keys.includes(item.appPool),
    );
    return {
      durationMs: item.durationMs,
      run: item.run,
      poolId: item.appPool,
      outcome: typeof captured?.record.outcome === 'string' ? captured.record.outcome : undefined,
      operationId,
      finishedAt,
      lagMs: captured === undefined ? Number.NaN : captured.capturedAt - finishedAt,
      getCalls: gets.length,
      postCalls: countRequests(appEmulator.requests, 'POST', `/pools/${item.appPool}/open`),
      checksField: typeof captured?.record.checks === 'number' ? captured.record.checks : undefined,
      openerInvocations: served.filter((invocation) => invocation.queue === 'opener').length,
      checkerInvocations: served.filter((invocation) => invocation.queue === 'checker').length,
      handlerMs: served.map((invocation) => invocation.durationMs),
      checkMessages: sends.filter((call) => keyOfSend(call) === item.appPool).length,
      getOffsetsMs: gets.map((entry) => entry.at - submittedAt),
      ledger: ledgerUsage(ledgerCalls, ledgerIds(item.appPool, recordOf(item.appPool)), sizes),
    };
  });

  const kit = schedule.map((item): KitOpening => {
    const line = kitLines.find((candidate) => candidate.poolId === item.kitPool);
    const operationId = typeof line?.operationId === 'string' ? line.operationId : undefined;
    const operation = operationId === undefined ? undefined : kitEmulator.getOperation(operationId);
    const finishedAt = operation?.finished === undefined ? Number.NaN : Date.parse(`${operation.finished}Z`);
    const returnedAt = typeof line?.returnedAtMs === 'number' ? line.returnedAtMs : Number.NaN;
    return {
      durationMs: item.durationMs,
      run: item.run,
      poolId: item.kitPool,
      ok: line?.ok === true,
      error: typeof line?.error === 'string' ? line.error : line === undefined ? 'no result' : undefined,
      operationId,
      finishedAt,
      lagMs: returnedAt - finishedAt,
      getCalls: operationId === undefined ? 0 : operationGets(kitEmulator.requests, operationId).length,
      postCalls: countRequests(kitEmulator.requests, 'POST', `/pools/${item.kitPool}/open`),
      poolGets: countRequests(kitEmulator.requests, 'GET', `/pools/${item.kitPool}`),
    };
  });

  const checkDeliveryLagMs: number[] = [];
  for (const delivery of checkSource.deliveries) {
    const send = sends.find((call) => call.body?.MessageBody === delivery.body);
    const delaySeconds = Number(send?.body?.DelaySeconds ?? 0);
    checkDeliveryLagMs.push(delivery.receivedAt - (delivery.sentAt + delaySeconds * 1000));
  }
  const countBy = (action: string) => appCalls.filter((call) => call.action === action).length;
  const stats = (source: EventSource): SourceStats => ({
    receives: source.receives,
    emptyReceives: source.emptyReceives,
    deletes: source.deletes,
    invocations: source.invocations.length,
  });
  return {
    app,
    kit,
    ssmGetParameter: countBy('GetParameter'),
    appSqsCalls: Object.fromEntries(
      [...new Set(appCalls.map((call) => call.action))].map((action) => [action, countBy(action)]),
    ),
    triggerSource: stats(triggerSource),
    checkSource: stats(checkSource),
    checkDeliveryLagMs,
    sharedBatches: [...triggerSource.invocations, ...checkSource.invocations].filter(
      (invocation) => new Set(invocation.keys).size > 1,
    ).length,
    ledgerUnattributed: ledgerCalls.filter((call) => !touchedIds(call).some((id) => allIds.has(id))).length,
    largestLedgerItem: Math.max(0, ...sizes.values()),
    wallMs,
  };
}

function operationGets(requests: readonly RequestLogEntry[], operationId: string): RequestLogEntry[] {
  return requests.filter((entry) => entry.method === 'GET' && entry.path === `/operations/${operationId}`);
}

function countRequests(requests: readonly RequestLogEntry[], method: string, path: string): number {
  return requests.filter((entry) => entry.method === method && entry.path === path).length;
}

function keyOfSend(call: AwsCall): string | undefined {
  const body = call.body?.MessageBody;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as { poolId?: unknown };
    return parsed.poolId === undefined ? undefined : String(parsed.poolId);
  } catch {
    return undefined;
  }
}

/** Runs bench/toloka_kit_open.py for every toloka-kit opening of the schedule, collecting its lines. */
function runTolokaKit(
  url: string,
  schedule: ReadonlyArray<{ kitPool: string; offsetMs: number }>,
): { lines: Array<Record<string, unknown>>; done: Promise<void>; stop(): void } {
  const args = [`${ROOT}bench/toloka_kit_open.py`, '--url', url];
  for (const item of schedule) args.push('--pool', `${item.kitPool}:${item.offsetMs}`);
  const child = spawn(`${ROOT}.venv/bin/python`, args, {
    cwd: ROOT,
    env: { ...process.env, TOLOKA_TOKEN: TOKEN, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const reader = createInterface({ input: child.stdout ?? process.stdin });
  reader.on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.ready === true) progress('toloka-kit: Python ready, opening');
      else {
        lines.push(parsed);
        progress(`toloka-kit: ${lines.length}/${schedule.length} open_pool calls returned`);
      }
    } catch {
      progress(`toloka-kit: unexpected output ${line.slice(0, 200)}`);
    }
  });
  const done = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      if (code !== 0) progress(`toloka-kit: exited with ${code}: ${stderr}`);
      resolve();
    });
  });
  return {
    lines,
    done,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
