import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { atOf, dateOf } from '../support/dated-fixtures.ts';
import {
  arnOf,
  type FlatStatement,
  logicalId,
  NOW,
  parameterArn,
  propertiesOf,
  roleStatements,
  type Synthesized,
  synthFromConfig,
  TEST_ENV,
} from './support.ts';

// One synth (with real esbuild bundling) for the whole file: test/fixtures/config/full.json.
let s: Synthesized;
let ids: {
  triggerQueue: string;
  triggerDlq: string;
  checkQueue: string;
  checkDlq: string;
  opener: string;
  checker: string;
  openerRole: string;
  checkerRole: string;
  openerLogGroup: string;
  checkerLogGroup: string;
  scheduleGroup: string;
};

beforeAll(() => {
  s = synthFromConfig('full.json');
  const o = s.stack.opener;
  const roleOf = (fn: typeof o.opener) => {
    if (fn.role === undefined) throw new Error('function without role');
    return logicalId(fn.role);
  };
  if (o.scheduleGroup === undefined) throw new Error('expected a schedule group');
  ids = {
    triggerQueue: logicalId(o.triggerQueue),
    triggerDlq: logicalId(o.triggerDeadLetterQueue),
    checkQueue: logicalId(o.checkQueue),
    checkDlq: logicalId(o.checkDeadLetterQueue),
    opener: logicalId(o.opener),
    checker: logicalId(o.checker),
    openerRole: roleOf(o.opener),
    checkerRole: roleOf(o.checker),
    openerLogGroup: logicalId(o.openerLogGroup),
    checkerLogGroup: logicalId(o.checkerLogGroup),
    scheduleGroup: logicalId(o.scheduleGroup),
  };
});

const sorted = (statements: readonly FlatStatement[]) =>
  statements.map((st) => `${st.effect} ${st.action} ${st.resource}`).sort();

describe('queues', () => {
  it('creates a trigger and a check queue, each redriving to its own dead-letter queue after 5 receives', () => {
    s.template.resourceCountIs('AWS::SQS::Queue', 4);
    for (const [source, dlq] of [
      [ids.triggerQueue, ids.triggerDlq],
      [ids.checkQueue, ids.checkDlq],
    ] as const) {
      expect(propertiesOf(s.template, source).RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
        maxReceiveCount: 5,
      });
      expect(propertiesOf(s.template, dlq).RedrivePolicy).toBeUndefined();
    }
  });

  it('keeps dead letters longer than the source queues keep messages', () => {
    for (const [source, dlq] of [
      [ids.triggerQueue, ids.triggerDlq],
      [ids.checkQueue, ids.checkDlq],
    ] as const) {
      const sourceRetention = propertiesOf(s.template, source).MessageRetentionPeriod as number;
      const dlqRetention = propertiesOf(s.template, dlq).MessageRetentionPeriod as number;
      expect(sourceRetention).toBe(4 * 86_400);
      expect(dlqRetention).toBe(14 * 86_400);
      expect(dlqRetention).toBeGreaterThan(sourceRetention);
    }
  });

  it('encrypts every queue with SQS-managed keys', () => {
    const queues = s.template.findResources('AWS::SQS::Queue');
    for (const queue of Object.values(queues)) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      expect(queue.Properties.KmsMasterKeyId).toBeUndefined();
    }
  });

  it('denies every request to every queue that does not use TLS', () => {
    for (const id of [ids.triggerQueue, ids.triggerDlq, ids.checkQueue, ids.checkDlq]) {
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Action: 'sqs:*',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Resource: { 'Fn::GetAtt': [id, 'Arn'] },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ]),
        },
      });
    }
  });

  it('hides a message from other consumers for at least six function timeouts', () => {
    const timeout = propertiesOf(s.template, ids.opener).Timeout as number;
    expect(timeout).toBe(60);
    expect(propertiesOf(s.template, ids.checker).Timeout).toBe(timeout);
    for (const id of [ids.triggerQueue, ids.checkQueue]) {
      expect(propertiesOf(s.template, id).VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    }
  });
});

describe('functions', () => {
  it('runs the opener and the checker on Node.js 24 on arm64 with the bundled handler', () => {
    s.template.resourceCountIs('AWS::Lambda::Function', 2);
    for (const id of [ids.opener, ids.checker]) {
      expect(propertiesOf(s.template, id)).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 60,
      });
      expect(propertiesOf(s.template, id).ReservedConcurrentExecutions).toBeUndefined();
    }
  });

  it('bundles each handler as a minified ES module with a require shim and a source map', () => {
    for (const id of [ids.opener, ids.checker]) {
      const code = propertiesOf(s.template, id).Code as { S3Key: string };
      const assetDir = path.join(s.assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
      const bundle = readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');
      expect(bundle.startsWith("import { createRequire } from 'node:module';")).toBe(true);
      expect(existsSync(path.join(assetDir, 'index.mjs.map'))).toBe(true);
      expect(bundle).toMatch(/export\s*\{[^}]*as handler\s*\}|export\s*\{\s*handler\s*\}/);
      // The AWS SDK v3 is bundled: nothing is imported from the runtime's copy.
      expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(bundle).toMatch(/SendMessage/);
    }
  });

  it('gives both functions exactly the public environment contract', () => {
    const expected = {
      POWERTOOLS_SERVICE_NAME: 'toloka-pool-opener',
      TOLOKA_ENVIRONMENT: 'production',
      TOLOKA_TOKEN_PARAMETER: '/toloka/prod/api-token',
      TOLOKA_API_URL: 'https://toloka-emulator.example.com:8443',
      CHECK_QUEUE_URL: { Ref: ids.checkQueue },
      OPENINGS_TABLE: { Ref: logicalId(s.stack.opener.openingsTable) },
      STEP_LEASE_SECONDS: '120',
      REDELIVERY_SECONDS: '420',
      CHECK_DEADLINE_SECONDS: '7200',
      FAST_PATH_SECONDS: '15',
      CHECK_MIN_DELAY_SECONDS: '5',
      CHECK_MAX_DELAY_SECONDS: '600',
      CHECK_BACKOFF_FACTOR: '2',
      // tolokaRequestsPerSecond 100 over 2 × 5 instances.
      TOLOKA_REQUESTS_PER_SECOND: '10',
      OUTCOME_EVENT_BUS: 'default',
    };
    for (const id of [ids.opener, ids.checker]) {
      expect(propertiesOf(s.template, id).Environment).toEqual({ Variables: expected });
    }
  });

  it('writes each function log to its own log group with the configured retention', () => {
    s.template.resourceCountIs('AWS::Logs::LogGroup', 2);
    for (const [fn, group] of [
      [ids.opener, ids.openerLogGroup],
      [ids.checker, ids.checkerLogGroup],
    ] as const) {
      expect(propertiesOf(s.template, fn).LoggingConfig).toEqual({ LogGroup: { Ref: group } });
      expect(propertiesOf(s.template, group).RetentionInDays).toBe(90);
    }
  });

  it('feeds the trigger queue to the opener and the check queue to the checker, reporting partial batch failures', () => {
    s.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    for (const [queue, fn] of [
      [ids.triggerQueue, ids.opener],
      [ids.checkQueue, ids.checker],
    ] as const) {
      s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
        FunctionName: { Ref: fn },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    }
  });

  it('retries a failed asynchronous opener invocation twice, then parks the event in the trigger DLQ', () => {
    s.template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.opener },
      MaximumRetryAttempts: 2,
      Qualifier: '$LATEST',
    });
    expect(propertiesOf(s.template, ids.opener).DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [ids.triggerDlq, 'Arn'] },
    });
    expect(propertiesOf(s.template, ids.checker).DeadLetterConfig).toBeUndefined();
  });
});

describe('schedules', () => {
  const schedule = (name: string) => {
    const found = s.template.findResources('AWS::Scheduler::Schedule', { Properties: { Name: name } });
    const [resource] = Object.values(found);
    if (resource === undefined) throw new Error(`no schedule named ${name}`);
    return resource.Properties as Record<string, unknown>;
  };

  it('creates one schedule per configured schedule, in a schedule group of its own', () => {
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 3);
    s.template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    const groupName = propertiesOf(s.template, ids.scheduleGroup).Name;
    for (const props of Object.values(s.template.findResources('AWS::Scheduler::Schedule'))) {
      expect(props.Properties.GroupName).toBe(groupName);
    }
  });

  it('runs every schedule in its time zone, UTC unless configured', () => {
    expect(schedule('weekday-morning')).toMatchObject({
      ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'Europe/Amsterdam',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    expect(schedule('pool-123456-2')).toMatchObject({
      ScheduleExpression: 'rate(12 hours)',
      ScheduleExpressionTimezone: 'UTC',
    });
    expect(schedule('training-98765-1')).toMatchObject({
      ScheduleExpression: atOf('{now+23d}', NOW),
      ScheduleExpressionTimezone: 'Asia/Tokyo',
    });
  });

  it('applies the flexible window, start and end dates and the enabled flag', () => {
    expect(schedule('pool-123456-2')).toMatchObject({
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      StartDate: dateOf('{now+30d}', NOW).toISOString(),
      EndDate: dateOf('{now+210d}', NOW).toISOString(),
    });
    expect(schedule('weekday-morning').StartDate).toBeUndefined();
    expect(schedule('training-98765-1').State).toBe('DISABLED');
  });

  it('sends the pool or training ID, the action and the occurrence to the trigger queue, 3 retries within an hour, then the trigger DLQ', () => {
    const target = (input: object) => ({
      // The queue, not the opener: its event source mapping bounds how many openers run at once.
      Arn: { 'Fn::GetAtt': [ids.triggerQueue, 'Arn'] },
      // The schedule's ARN and the time it was meant for: the trigger's identity in the ledger,
      // and the occurrence that a late trigger is measured against.
      Input: JSON.stringify({
        ...input,
        action: 'open',
        triggerId: '<aws.scheduler.schedule-arn>@<aws.scheduler.scheduled-time>',
        scheduledTime: '<aws.scheduler.scheduled-time>',
        maxLatenessMinutes: 60,
      }),
      RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.triggerDlq, 'Arn'] } },
    });
    expect(schedule('weekday-morning').Target).toMatchObject(target({ poolId: '123456' }));
    expect(schedule('pool-123456-2').Target).toMatchObject(target({ poolId: '123456' }));
    expect(schedule('training-98765-1').Target).toMatchObject(target({ trainingId: '98765' }));
  });

  it('lets Scheduler, only for this account and schedule group, send only to the trigger queue and its DLQ', () => {
    const roleArn = schedule('weekday-morning').Target as { RoleArn: { 'Fn::GetAtt': [string, string] } };
    const roleId = roleArn.RoleArn['Fn::GetAtt'][0];
    expect(propertiesOf(s.template, roleId).AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: {
              'aws:SourceAccount': TEST_ENV.account,
              'aws:SourceArn': { 'Fn::GetAtt': [ids.scheduleGroup, 'Arn'] },
            },
          },
        },
      ],
    });
    expect(sorted(roleStatements(s.template, roleId))).toEqual(
      sorted([
        { effect: 'Allow', action: 'sqs:SendMessage', resource: arnOf(ids.triggerQueue) },
        { effect: 'Allow', action: 'sqs:SendMessage', resource: arnOf(ids.triggerDlq) },
      ]),
    );
  });
});

describe('permissions', () => {
  it('lets the functions read only the token parameter', () => {
    for (const role of [ids.openerRole, ids.checkerRole]) {
      const ssm = roleStatements(s.template, role).filter((st) => st.action.startsWith('ssm:'));
      expect(ssm).toEqual([
        { effect: 'Allow', action: 'ssm:GetParameter', resource: parameterArn('toloka/prod/api-token') },
      ]);
    }
  });

  it('lets the functions decrypt with the customer managed token key only through SSM in this region', () => {
    const keyArn = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    for (const role of [ids.openerRole, ids.checkerRole]) {
      const kms = roleStatements(s.template, role).filter((st) => st.action.startsWith('kms:'));
      expect(kms).toEqual([
        {
          effect: 'Allow',
          action: 'kms:Decrypt',
          resource: keyArn,
          condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        },
      ]);
    }
  });

  it('lets the opener send only to the check queue and, for failed async events, the trigger DLQ', () => {
    const sends = roleStatements(s.template, ids.openerRole).filter((st) => st.action === 'sqs:SendMessage');
    expect(sorted(sends)).toEqual(
      sorted([
        { effect: 'Allow', action: 'sqs:SendMessage', resource: arnOf(ids.checkQueue) },
        { effect: 'Allow', action: 'sqs:SendMessage', resource: arnOf(ids.triggerDlq) },
      ]),
    );
  });

  it('lets the checker send only to the check queue', () => {
    const sends = roleStatements(s.template, ids.checkerRole).filter((st) => st.action === 'sqs:SendMessage');
    expect(sends).toEqual([{ effect: 'Allow', action: 'sqs:SendMessage', resource: arnOf(ids.checkQueue) }]);
  });

  it('lets each function consume only its own queue', () => {
    const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'];
    for (const [role, queue] of [
      [ids.openerRole, ids.triggerQueue],
      [ids.checkerRole, ids.checkQueue],
    ] as const) {
      const granted = roleStatements(s.template, role).filter((st) => consume.includes(st.action));
      expect(new Set(granted.map((st) => st.resource))).toEqual(new Set([arnOf(queue)]));
      expect(new Set(granted.map((st) => st.action))).toEqual(new Set(consume));
    }
  });

  it("grants each function the ledger's item reads and conditional writes it makes, and no Scan, Query or Delete", () => {
    const table = arnOf(logicalId(s.stack.opener.openingsTable));
    const ledger = (actions: string[]) =>
      actions.map((action) => ({ effect: 'Allow', action: `dynamodb:${action}`, resource: table }));
    for (const [role, actions] of [
      [ids.openerRole, ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem']],
      [ids.checkerRole, ['GetItem', 'PutItem', 'UpdateItem']],
    ] as const) {
      const granted = roleStatements(s.template, role).filter((st) => st.action.startsWith('dynamodb:'));
      expect(sorted(granted)).toEqual(sorted(ledger([...actions])));
    }
  });

  it('lets each function write logs only to its own log group', () => {
    for (const [role, group] of [
      [ids.openerRole, ids.openerLogGroup],
      [ids.checkerRole, ids.checkerLogGroup],
    ] as const) {
      const logs = roleStatements(s.template, role).filter((st) => st.action.startsWith('logs:'));
      expect(sorted(logs)).toEqual(
        sorted([
          { effect: 'Allow', action: 'logs:CreateLogStream', resource: arnOf(group) },
          { effect: 'Allow', action: 'logs:PutLogEvents', resource: arnOf(group) },
        ]),
      );
    }
  });

  it('grants nothing else: no wildcard resources, no managed or inline role policies', () => {
    const known =
      /^(ssm:GetParameter|kms:Decrypt|logs:(CreateLogStream|PutLogEvents)|sqs:\w+|events:PutEvents|dynamodb:(GetItem|BatchGetItem|PutItem|UpdateItem))$/;
    for (const role of [ids.openerRole, ids.checkerRole]) {
      const statements = roleStatements(s.template, role);
      expect(statements.length).toBeGreaterThan(0);
      for (const st of statements) {
        expect(st.resource).not.toBe('*');
        expect(st.effect).toBe('Allow');
        expect(st.action).toMatch(known);
      }
      const props = propertiesOf(s.template, role);
      expect(props.ManagedPolicyArns).toBeUndefined();
      expect(props.Policies).toBeUndefined();
    }
    for (const policy of Object.values(s.template.findResources('AWS::IAM::Policy'))) {
      expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('"Resource":"*"');
    }
    s.template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });
});

describe('deploying twice', () => {
  type Resource = {
    Type: string;
    DeletionPolicy?: string;
    DependsOn?: string[];
    Properties?: Record<string, unknown>;
  };
  const resources = () => s.template.toJSON().Resources as Record<string, Resource>;

  it('deletes the schedule group with the stack, so the next deploy can create it again', () => {
    expect(resources()[ids.scheduleGroup]).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  it('leaves behind after a destroy only the log groups, whose names CloudFormation generates', () => {
    const retained = Object.entries(resources()).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(retained.map(([, r]) => r.Type)).toEqual(['AWS::Logs::LogGroup', 'AWS::Logs::LogGroup']);
    for (const [, r] of retained) expect(r.Properties?.LogGroupName).toBeUndefined();
  });

  it('creates each schedule only after its group and the policy that lets Scheduler send its triggers', () => {
    const role = s.stack.opener.node.findChild('SchedulerRole');
    const policy = logicalId(role.node.findChild('DefaultPolicy'));
    const schedules = Object.values(resources()).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(3);
    for (const schedule of schedules) {
      expect(schedule.DependsOn).toEqual(expect.arrayContaining([ids.scheduleGroup, policy]));
    }
  });
});

describe('operations', () => {
  it('alarms when either dead-letter queue holds a message and mails the alarm email', () => {
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'toloka-ops@example.com',
    });
    const topic = s.stack.alarmTopic;
    for (const dlq of [ids.triggerDlq, ids.checkDlq]) {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: logicalId(topic) }],
      });
    }
  });

  it('outputs the queue URLs, function names, schedule group, alarm topic and dashboard', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TriggerQueueUrl?.Value).toEqual({ Ref: ids.triggerQueue });
    expect(outputs.TriggerDeadLetterQueueUrl?.Value).toEqual({ Ref: ids.triggerDlq });
    expect(outputs.CheckDeadLetterQueueUrl?.Value).toEqual({ Ref: ids.checkDlq });
    expect(outputs.CheckQueueUrl?.Value).toEqual({ Ref: ids.checkQueue });
    expect(outputs.OpenerFunctionName?.Value).toEqual({ Ref: ids.opener });
    expect(outputs.CheckerFunctionName?.Value).toEqual({ Ref: ids.checker });
    expect(outputs.ScheduleGroupName).toBeDefined();
    expect(outputs.AlarmTopicArn?.Value).toEqual({ Ref: logicalId(s.stack.alarmTopic) });
    expect(outputs.DashboardName?.Value).toEqual({ Ref: logicalId(s.stack.opener.dashboard) });
  });
});
