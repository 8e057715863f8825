import { Duration, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type PoolSchedule,
  resolveTolokaPoolOpenerProps,
  TolokaPoolOpener,
  type TolokaPoolOpenerProps,
} from '../../lib/toloka-pool-opener.ts';
import { logicalId, newApp, propertiesOf, roleStatements, TEST_ENV } from './support.ts';

const DAY_MS = 86_400_000;
/** `at(...)` for the UTC wall clock this far from now (negative: the past). */
const atIn = (ms: number) => `at(${new Date(Date.now() + ms).toISOString().slice(0, 19)})`;

/** The construct's validation problems for these props (none = []). */
const problemsOf = (props: TolokaPoolOpenerProps) => resolveTolokaPoolOpenerProps(props).problems;

// One synth for the file: the construct used directly with non-default props and a KMS key in
// the same stack. Bundling is skipped: stack.test.ts checks the bundle.
let template: Template;
let construct: TolokaPoolOpener;
let key: kms.Key;
let annotations: Annotations;

beforeAll(() => {
  const stack = new Stack(newApp({ bundle: false }), 'ConstructTest', { env: TEST_ENV });
  key = new kms.Key(stack, 'TokenKey');
  construct = new TolokaPoolOpener(stack, 'Opener', {
    tokenParameterName: '/team/toloka/token',
    tokenKey: key,
    functionTimeout: Duration.seconds(30),
    // 30 s hold a fast path of 18 s at most: one Toloka request (10 s) and 2 s of margin.
    poll: { fastPath: Duration.seconds(15) },
    memorySize: 512,
    logRetention: logs.RetentionDays.TWO_WEEKS,
    maxReceiveCount: 3,
    queueRetention: Duration.days(2),
    dlqRetention: Duration.days(7),
    triggerBatchSize: 4,
    maxConcurrency: 20,
    schedules: [
      { poolId: '11', expression: 'rate(1 day)' },
      { poolId: '11', expression: 'rate(2 days)' },
      { trainingId: '22', expression: 'cron(0 0 1 * ? *)' },
      { name: 'past-once', poolId: '33', expression: atIn(-2 * DAY_MS), timeZone: 'Asia/Tokyo' },
      {
        name: 'past-end',
        poolId: '33',
        expression: 'rate(1 day)',
        endDate: new Date(Date.now() - DAY_MS),
      },
      { name: 'future-once', poolId: '33', expression: atIn(30 * DAY_MS) },
      {
        name: 'future-start',
        poolId: '33',
        expression: 'rate(1 day)',
        startDate: new Date(Date.now() + 30 * DAY_MS),
      },
    ],
  });
  template = Template.fromStack(stack);
  annotations = Annotations.fromStack(stack);
});

describe('TolokaPoolOpener with custom props', () => {
  it('defaults to production Toloka', () => {
    const env = propertiesOf(template, logicalId(construct.opener)).Environment as {
      Variables: Record<string, unknown>;
    };
    expect(env.Variables.TOLOKA_ENVIRONMENT).toBe('production');
    expect(env.Variables.TOLOKA_API_URL).toBeUndefined();
  });

  it('derives the visibility timeout from the function timeout', () => {
    for (const fn of [construct.opener, construct.checker]) {
      expect(propertiesOf(template, logicalId(fn))).toMatchObject({ Timeout: 30, MemorySize: 512 });
    }
    for (const queue of [construct.triggerQueue, construct.checkQueue]) {
      expect(propertiesOf(template, logicalId(queue))).toMatchObject({
        VisibilityTimeout: 180,
        MessageRetentionPeriod: 2 * 86_400,
        RedrivePolicy: { maxReceiveCount: 3 },
      });
    }
    for (const dlq of [construct.triggerDeadLetterQueue, construct.checkDeadLetterQueue]) {
      expect(propertiesOf(template, logicalId(dlq)).MessageRetentionPeriod).toBe(7 * 86_400);
    }
  });

  it('applies the batch size to the trigger queue only and the concurrency cap to both event sources', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(construct.opener) },
      BatchSize: 4,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(construct.checker) },
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it('gives each function instance an equal share of the default request budget: 50 over 2 × 20 instances', () => {
    for (const fn of [construct.opener, construct.checker]) {
      const env = propertiesOf(template, logicalId(fn)).Environment as { Variables: Record<string, unknown> };
      expect(env.Variables.TOLOKA_REQUESTS_PER_SECOND).toBe('1');
    }
  });

  it('keeps logs as long as configured', () => {
    for (const group of [construct.openerLogGroup, construct.checkerLogGroup]) {
      expect(propertiesOf(template, logicalId(group)).RetentionInDays).toBe(14);
    }
  });

  it('lets the functions decrypt with a key of the same stack only through SSM', () => {
    for (const fn of [construct.opener, construct.checker]) {
      if (fn.role === undefined) throw new Error('function without role');
      const kmsStatements = roleStatements(template, logicalId(fn.role)).filter((st) =>
        st.action.startsWith('kms:'),
      );
      expect(kmsStatements).toEqual([
        {
          effect: 'Allow',
          action: 'kms:Decrypt',
          resource: JSON.stringify({ 'Fn::GetAtt': [logicalId(key), 'Arn'] }),
          condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        },
      ]);
    }
  });

  /** What a schedule sends the opener: target, action, identity and occurrence. */
  const scheduleInput = (target: object) =>
    JSON.stringify({
      ...target,
      action: 'open',
      triggerId: '<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      maxLatenessMinutes: 60,
    });

  it('names unnamed schedules after their pool or training, in UTC unless told otherwise', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((r) => ({
      name: r.Properties.Name,
      timeZone: r.Properties.ScheduleExpressionTimezone,
      input: r.Properties.Target.Input,
    }));
    expect(schedules.slice(0, 3)).toEqual([
      {
        name: 'pool-11-1',
        timeZone: 'UTC',
        input: scheduleInput({ poolId: '11' }),
      },
      {
        name: 'pool-11-2',
        timeZone: 'UTC',
        input: scheduleInput({ poolId: '11' }),
      },
      {
        name: 'training-22-1',
        timeZone: 'UTC',
        input: scheduleInput({ trainingId: '22' }),
      },
    ]);
    expect(construct.schedules).toHaveLength(7);
  });

  it('warns at synth time about a one-time schedule or an end date that has passed, naming the schedule', () => {
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('schedule-in-the-past'));
    const messages = warnings.map((w) => String(w.entry.data));
    expect(messages).toEqual([
      expect.stringMatching(/^schedules\[3\]\.expression: at\([0-9T:-]+\) \(Asia\/Tokyo\) has passed: /),
      expect.stringMatching(
        /^schedules\[4\]\.endDate: [0-9T:.-]+Z has passed: the schedule will not open pool 33 again/,
      ),
    ]);
  });
});

describe('TolokaPoolOpener dates', () => {
  const now = new Date('2031-05-06T07:08:09Z');
  const problemsAt = (schedule: object) =>
    resolveTolokaPoolOpenerProps(
      { tokenParameterName: '/t', schedules: [{ poolId: '1', ...schedule } as PoolSchedule] },
      { now },
    ).problems;

  it('refuses a start date more than 5 minutes before the clock, as Scheduler does', () => {
    expect(problemsAt({ expression: 'rate(1 day)', startDate: new Date(now.getTime() - 301_000) })).toEqual([
      'schedules[0].startDate: 2031-05-06T07:03:08.000Z has passed, and EventBridge Scheduler refuses a start date more than 5 minutes in the past; remove it (the schedule then starts when deployed) or move it forward',
    ]);
    expect(problemsAt({ expression: 'rate(1 day)', startDate: new Date(now.getTime() - 299_000) })).toEqual(
      [],
    );
  });

  it('names a schedule by its label when it has one', () => {
    expect(
      problemsAt({
        label: 'pools[2].schedules[1]',
        expression: 'rate(1 day)',
        startDate: new Date(now.getTime() - DAY_MS),
      }),
    ).toEqual([expect.stringMatching(/^pools\[2\]\.schedules\[1\]\.startDate: .* has passed/)]);
  });

  it('accepts an at() that has passed, with a warning rather than a problem', () => {
    const resolved = resolveTolokaPoolOpenerProps(
      { tokenParameterName: '/t', schedules: [{ poolId: '1', expression: 'at(2031-05-06T07:08:00)' }] },
      { now },
    );
    expect(resolved.problems).toEqual([]);
    expect(resolved.warnings).toEqual([
      {
        schedule: 0,
        id: 'toloka-pool-opener:schedule-in-the-past',
        message: expect.stringMatching(
          /^schedules\[0\]\.expression: at\(2031-05-06T07:08:00\) \(UTC\) has passed/,
        ),
      },
    ]);
    const later = resolveTolokaPoolOpenerProps(
      { tokenParameterName: '/t', schedules: [{ poolId: '1', expression: 'at(2031-05-06T07:09:00)' }] },
      { now },
    );
    expect(later.warnings).toEqual([]);
  });
});

describe('TolokaPoolOpener props validation', () => {
  it('refuses a function time-out too short for the fast path, one Toloka request and a margin', () => {
    const stack = new Stack(newApp({ bundle: false }), 'FastPath');
    expect(
      () =>
        new TolokaPoolOpener(stack, 'Opener', {
          tokenParameterName: '/toloka/token',
          poll: { fastPath: Duration.seconds(55) },
        }),
    ).toThrow(
      'poll.fastPath: 55s must be at least 12 s less than functionTimeout (60s): one Toloka request and a margin',
    );
    expect(
      problemsOf({
        tokenParameterName: '/t',
        functionTimeout: Duration.seconds(31),
        poll: { fastPath: Duration.seconds(20) },
      }),
    ).toEqual([
      'poll.fastPath: 20s must be at least 12 s less than functionTimeout (31s): one Toloka request and a margin',
    ]);
    expect(
      problemsOf({
        tokenParameterName: '/t',
        functionTimeout: Duration.seconds(32),
        poll: { fastPath: Duration.seconds(20) },
      }),
    ).toEqual([]);
  });

  it('refuses a request budget below one request a second for each instance that can run at once', () => {
    expect(problemsOf({ tokenParameterName: '/t', maxConcurrency: 10, tolokaRequestsPerSecond: 19 })).toEqual(
      [
        'tolokaRequestsPerSecond: 19 must be at least 20: one request a second for each function instance that can run at once (2 × maxConcurrency 10); raise it, or lower maxConcurrency to at most 9',
      ],
    );
    expect(problemsOf({ tokenParameterName: '/t', maxConcurrency: 10, tolokaRequestsPerSecond: 20 })).toEqual(
      [],
    );
    expect(problemsOf({ tokenParameterName: '/t', tolokaRequestsPerSecond: 2.5 })).toEqual([
      'tolokaRequestsPerSecond: must be an integer (got 2.5)',
    ]);
  });

  it('throws one error that names every bad prop', () => {
    // Both dates in the future, whatever the clock says: only their order is wrong.
    const inOneYear = new Date(Date.now() + 365 * DAY_MS);
    const inTwoYears = new Date(Date.now() + 2 * 365 * DAY_MS);
    const stack = new Stack(newApp({ bundle: false }), 'Invalid');
    const create = () =>
      new TolokaPoolOpener(stack, 'Opener', {
        tolokaEnvironment: 'staging' as 'production',
        tokenParameterName: 'toloka/token',
        apiUrl: 'https://toloka.example.com?debug=1',
        poll: {
          deadline: Duration.hours(13),
          minDelay: Duration.millis(1500),
          fastPath: Duration.seconds(55),
          maxDelay: Duration.minutes(20),
          backoffFactor: 11,
        },
        functionTimeout: Duration.minutes(16),
        memorySize: 100,
        maxReceiveCount: 0,
        dlqRetention: Duration.days(3),
        triggerBatchSize: 11,
        maxConcurrency: 1,
        tolokaRequestsPerSecond: 301,
        schedules: [
          { name: 'daily', poolId: '1', expression: 'rate(1 day)', timeZone: 'UTC' },
          {
            poolId: '1',
            trainingId: '2',
            name: 'daily',
            expression: 'cron(0 9 * * *)',
            timeZone: 'Mars/Base',
            flexibleWindow: Duration.seconds(90),
            startDate: inTwoYears,
            endDate: inOneYear,
          },
          { poolId: 'abc', expression: 'at(2026-01-01T00:00:00)', endDate: new Date('nope') },
        ],
        outcomeEventBus: true as unknown as false,
        alarmEmail: 'ops at example.com',
        metricNamespace: 'AWS/Toloka',
        dashboardName: 'toloka pool opener',
        triggerQueueAgeAlarmThreshold: Duration.seconds(30),
      });
    let message = '';
    try {
      create();
    } catch (error) {
      message = (error as Error).message;
    }
    const [first, ...lines] = message.split('\n');
    expect(first).toBe('Invalid TolokaPoolOpener props (Invalid/Opener):');
    const expected = [
      'tolokaEnvironment: must be "production" or "sandbox" (got "staging")',
      'tokenParameterName: "toloka/token" contains "/" so it must start with "/"',
      'apiUrl: "https://toloka.example.com?debug=1" must be an origin',
      'poll.deadline: 46800 s is out of range (1..43200 s)',
      'poll.minDelay: must be whole seconds (got 1.5)',
      'poll.maxDelay: 1200 s is out of range (1..900 s)',
      'poll.backoffFactor: 11 is out of range (1..10)',
      'functionTimeout: 960 s is out of range (1..900 s)',
      'memorySize: 100 MiB is out of range (128..10240 MiB)',
      'maxReceiveCount: 0 is out of range (1..1000)',
      "dlqRetention: 259200s must exceed the source queues' retention (queueRetention: 345600s)",
      'triggerBatchSize: 11 is out of range (1..10)',
      'maxConcurrency: 1 is out of range (2..1000)',
      'tolokaRequestsPerSecond: 301 is out of range (1..300)',
      'schedules[1]: give exactly one of poolId and trainingId',
      'schedules[1].name: "daily" is already used by schedules[0]',
      'schedules[1].expression: "cron(0 9 * * *)" must have 6 fields',
      'schedules[1].timeZone: "Mars/Base" is not an IANA time zone',
      'schedules[1].flexibleWindow: 90s must be whole minutes (1 to 1440 minutes)',
      `schedules[1].endDate: ${inOneYear.toISOString()} must be after startDate (${inTwoYears.toISOString()})`,
      'schedules[2].poolId: "abc" must contain only the digits 0-9',
      'schedules[2].endDate: must be a valid Date (got Invalid Date)',
      'outcomeEventBus: must be an events.IEventBus or false (got true)',
      'alarmEmail: "ops at example.com" is not an email address',
      'metricNamespace: "AWS/Toloka" must not start with "AWS/", which AWS reserves',
      'dashboardName: "toloka pool opener" must be 1-255 characters from 0-9 A-Z a-z _ -',
      'triggerQueueAgeAlarmThreshold: 30 s is out of range (60..1209600 s)',
    ];
    for (const problem of expected) {
      expect(
        lines.some((line) => line.startsWith(` - ${problem}`)),
        `${problem}\n--- in ---\n${message}`,
      ).toBe(true);
    }
    expect(lines).toHaveLength(expected.length);
    // Nothing was added to the tree before the error.
    expect(stack.node.findAll().filter((c) => c.node.path.startsWith('Invalid/Opener/'))).toEqual([]);
  });

  it('requires the token parameter name as a literal', () => {
    expect(problemsOf({ tokenParameterName: '' })).toEqual(['tokenParameterName: is required']);
    expect(problemsOf({ tokenParameterName: Token.asString({ Ref: 'Name' }) })).toEqual([
      'tokenParameterName: must be a literal name, not a token (the IAM policy is scoped to it)',
    ]);
  });

  it('accepts valid minimal props and rejects start dates on one-time schedules', () => {
    expect(problemsOf({ tokenParameterName: 'toloka-token' })).toEqual([]);
    expect(
      problemsOf({
        tokenParameterName: 'toloka-token',
        schedules: [
          { poolId: '5', expression: 'at(2026-06-01T10:00:00)', startDate: new Date('2026-01-01T00:00:00Z') },
        ],
      }),
    ).toEqual(['schedules[0].startDate: has no effect on a one-time at() schedule; remove it']);
  });

  it('rejects a KMS alias as the token key', () => {
    const stack = new Stack(newApp({ bundle: false }), 'AliasKey');
    const alias = kms.Alias.fromAliasName(stack, 'Alias', 'alias/toloka');
    expect(problemsOf({ tokenParameterName: 'toloka-token', tokenKey: alias })).toEqual([
      'tokenKey: is a KMS alias; IAM cannot scope kms:Decrypt to an alias, pass the key (kms.Key.fromKeyArn)',
    ]);
  });

  it('rejects schedule names that Scheduler would refuse', () => {
    expect(
      problemsOf({
        tokenParameterName: 'toloka-token',
        schedules: [{ name: 'x'.repeat(65), poolId: '5', expression: 'rate(1 day)' }],
      }),
    ).toEqual([`schedules[0].name: "${'x'.repeat(65)}" must be 1-64 characters from 0-9 a-z A-Z - _ .`]);
  });
});
