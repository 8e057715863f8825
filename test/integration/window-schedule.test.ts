/**
 * The issue's "done when": a window with a holiday calendar, written as in config/example.jsonc,
 * synthesized into the stack, opens and closes its pool at the right local times through a
 * daylight-saving change, skips the holiday, and every trigger ends in exactly one record.
 *
 * The schedules are read from the synthesized template (expression, time zone, target input).
 * When Scheduler fires them is modelled by lib/schedule-occurrences.ts (its rules: a local time
 * on both sides of the change); each firing is then delivered as Scheduler delivers it: the
 * template's input with `<aws.scheduler.*>` filled in, sent to the trigger queue (the schedules'
 * target) and handed to the real opener handler as its event source does, one SQS event of one
 * record (one occurrence twice, as a retry), against moto and the Toloka emulator. The change is the
 * next one of Europe/Berlin after today and the holiday a weekday after it: no fixed date.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { handler as openHandler } from '../../lambda/open-pool.ts';
import { localDateOf } from '../../lambda/runtime/schedule-rules.ts';
import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';
import { loadConfig } from '../../lib/config.ts';
import { nextOccurrences } from '../../lib/schedule-occurrences.ts';
import { TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import { newApp, TEST_ENV } from '../infra/support.ts';
import { OutputCapture } from '../support/capture-output.ts';
import { DynamoDbFaultProxy } from '../support/dynamodb-fault-proxy.ts';
import { lambdaContext, sqsEvent } from '../support/events.ts';
import { useHandlerEnvironment } from '../support/handler-environment.ts';
import {
  clients,
  createOpeningsTable,
  createQueueWithDlq,
  putSecureToken,
  useMoto,
} from '../support/moto.ts';

const ZONE = 'Europe/Berlin';
const POOL = '8101';
const TOKEN = 'window-schedule-token-Rt52bX';
const TOKEN_PARAMETER = `/toloka/window-${process.pid}/api-token`;
const DAY = 86_400_000;

const offsetAt = (ms: number) =>
  new Intl.DateTimeFormat('en-US', { timeZone: ZONE, timeZoneName: 'longOffset' })
    .formatToParts(ms)
    .find((part) => part.type === 'timeZoneName')?.value;
const localTime = (ms: number) => new Date(ms).toLocaleString('sv-SE', { timeZone: ZONE }).slice(11, 16);

/** Noon UTC of the first day after today on which Berlin's UTC offset differs from the day before. */
function nextChange(fromMs: number): number {
  const start = Math.floor(fromMs / DAY) * DAY + DAY / 2;
  for (let day = start; day < start + 400 * DAY; day += DAY) {
    if (offsetAt(day) !== offsetAt(day - DAY)) return day;
  }
  throw new Error(`no daylight-saving change in ${ZONE} within 400 days`);
}

interface Firing {
  readonly atMs: number;
  readonly schedule: string;
  readonly action: 'open' | 'close';
  readonly input: string;
  readonly arn: string;
}

let moto: ReturnType<typeof useMoto>;
let proxy: DynamoDbFaultProxy;
let emulator: TolokaEmulator;
let output: OutputCapture;
let firings: Firing[];
let holiday: string;
let change: number;

beforeAll(async () => {
  change = nextChange(Date.now());
  // The fourth weekday after the change is the holiday.
  const weekdays: number[] = [];
  for (let day = change + DAY; weekdays.length < 4; day += DAY) {
    if (![0, 6].includes(new Date(day).getUTCDay())) weekdays.push(day);
  }
  holiday = localDateOf(weekdays[3] ?? 0, ZONE);

  // The configuration, written as config/example.jsonc writes it.
  const dir = mkdtempSync(path.join(tmpdir(), 'window-'));
  const file = path.join(dir, 'window.jsonc');
  writeFileSync(
    file,
    JSON.stringify({
      environment: 'sandbox',
      tokenParameterName: '/toloka/sandbox/api-token',
      pools: [
        {
          poolId: POOL,
          schedules: [
            {
              name: 'office-hours',
              window: { open: 'cron(0 9 ? * MON-FRI *)', close: 'cron(0 18 ? * MON-FRI *)', timeZone: ZONE },
              skip: ['holidays'],
            },
          ],
        },
      ],
      // Another holiday, a year before today, which no firing of the test falls on.
      calendars: { holidays: [localDateOf(Date.now() - 365 * 86_400_000, ZONE), holiday] },
    }),
  );
  const app = newApp({ bundle: false });
  const stack = new TolokaPoolOpenerStack(app, 'WindowStack', { config: loadConfig(file), env: TEST_ENV });
  const template = Template.fromStack(stack);
  const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
    (resource) =>
      resource.Properties as {
        Name: string;
        ScheduleExpression: string;
        ScheduleExpressionTimezone: string;
        Target: { Arn: unknown; Input: string };
      },
  );
  const triggerQueue = stack.node.findAll().find((c) => c.node.path.endsWith('/TriggerQueue/Resource'));
  for (const schedule of schedules) {
    expect(schedule.Target.Arn).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(triggerQueue as never), 'Arn'] });
  }
  // From the start (UTC) of the fourth day before the change: each weekday opens, then closes.
  const fromMs = Math.floor((change - 4 * DAY) / DAY) * DAY;
  firings = schedules
    .flatMap((schedule) =>
      nextOccurrences(
        { expression: schedule.ScheduleExpression, timeZone: schedule.ScheduleExpressionTimezone },
        fromMs,
        9,
      ).map((atMs) => ({
        atMs,
        schedule: schedule.Name,
        action: (JSON.parse(schedule.Target.Input) as { action: 'open' | 'close' }).action,
        input: schedule.Target.Input,
        arn: `arn:aws:scheduler:${TEST_ENV.region}:${TEST_ENV.account}:schedule/WindowStack/${schedule.Name}`,
      })),
    )
    .sort((a, b) => a.atMs - b.atMs);

  moto = useMoto(inject('motoEndpoint'));
  proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), { transactionHoldMs: 2 });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = await proxy.start();
  const { sqs, ssm } = clients();
  emulator = new TolokaEmulator({
    tokens: [TOKEN],
    pools: { [POOL]: { openDurationMs: 0, closeDurationMs: 0 } },
  });
  await emulator.start();
  await putSecureToken(ssm, TOKEN_PARAMETER, TOKEN);
  const checks = await createQueueWithDlq(sqs, 'window-checks');
  useHandlerEnvironment(
    {
      tolokaApiUrl: emulator.url,
      tokenParameter: TOKEN_PARAMETER,
      checkQueueUrl: checks.url,
      openingsTable: await createOpeningsTable('window'),
    },
    { FAST_PATH_SECONDS: '10' },
  );
  output = new OutputCapture().start();
}, 60_000);

afterAll(async () => {
  output?.stop();
  await emulator?.stop();
  await proxy?.stop();
  moto?.restore();
  resetLambdaRuntime();
});

/**
 * What the opener gets for one firing: the message Scheduler sends to the trigger queue (the
 * target input with its context attributes filled in), in an SQS event of its own.
 */
function scheduledEvent(firing: Firing): SQSEvent {
  const time = new Date(firing.atMs).toISOString().replace('.000Z', 'Z');
  const body = firing.input
    .replaceAll('<aws.scheduler.scheduled-time>', time)
    .replaceAll('<aws.scheduler.schedule-arn>', firing.arn);
  return sqsEvent([body]);
}

describe('a window with a holiday calendar, from the configuration to the pool, through a daylight-saving change', () => {
  it('fires the open at 09:00 and the close at 18:00 Berlin time on both sides of the change', () => {
    expect(firings).toHaveLength(18);
    for (const firing of firings) {
      expect(localTime(firing.atMs), firing.schedule).toBe(firing.action === 'open' ? '09:00' : '18:00');
      expect(firing.schedule).toBe(`office-hours-${firing.action}`);
    }
    const offsets = new Set(firings.map((firing) => offsetAt(firing.atMs)));
    expect(offsets.size, 'the firings straddle the change').toBe(2);
    expect(firings.some((firing) => firing.atMs < change)).toBe(true);
    expect(firings.some((firing) => firing.atMs > change)).toBe(true);
  });

  it('opens and closes the pool at each firing, skips the holiday, and ends every trigger in one record', async () => {
    const expected: string[] = [];
    for (const [i, firing] of firings.entries()) {
      const event = scheduledEvent(firing);
      const onHoliday = localDateOf(firing.atMs, ZONE) === holiday;
      expect(await openHandler(event, lambdaContext(60_000))).toEqual({ batchItemFailures: [] });
      // One occurrence delivered again (Scheduler's retry: a new message of the same trigger): nothing new.
      if (i === 4) await openHandler(scheduledEvent(firing), lambdaContext(60_000));
      expected.push(
        onHoliday
          ? `${firing.action} SKIPPED`
          : `${firing.action} ${firing.action === 'open' ? 'OPENED' : 'CLOSED'}`,
      );
      const status = emulator.getPoolState(POOL)?.status;
      if (!onHoliday)
        expect(status, new Date(firing.atMs).toISOString()).toBe(
          firing.action === 'open' ? 'OPEN' : 'CLOSED',
        );
    }
    const records = output.outcomes().filter((record) => record.poolId === POOL);
    expect(records.map((record) => `${String(record.action)} ${String(record.outcome)}`)).toEqual(expected);
    expect(records.filter((record) => record.outcome === 'SKIPPED')).toEqual([
      expect.objectContaining({ reason: 'CALENDAR', calendar: 'holidays', date: holiday, action: 'open' }),
      expect.objectContaining({ reason: 'CALENDAR', calendar: 'holidays', date: holiday, action: 'close' }),
    ]);
    expect(emulator.countRequests('POST', `/pools/${POOL}/open`)).toBe(8);
    expect(emulator.countRequests('POST', `/pools/${POOL}/close`)).toBe(8);
  });
});
