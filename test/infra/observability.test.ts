import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_EVENT_SOURCE as RUNTIME_EVENT_SOURCE } from '../../lambda/adapters/eventbridge-outcome-sink.ts';
import { LogOutcomeSink } from '../../lambda/adapters/outcome-sinks.ts';
import { parseConfig } from '../../lib/config.ts';
import { OPENING_OUTCOMES } from '../../lib/monitoring.ts';
import { OUTCOME_EVENT_SOURCE, TolokaPoolOpener } from '../../lib/toloka-pool-opener.ts';
import { TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import {
  arnOf,
  logicalId,
  newApp,
  propertiesOf,
  roleStatements,
  type Synthesized,
  synthFromConfig,
  TEST_ENV,
} from './support.ts';

// Metrics, alarms, the alarm topic, the dashboard and the outcome events, on the stacks from
// test/fixtures/config/full.json (alarm email, events on) and minimal.json (defaults), a stack
// with outcomeEvents: false, and the construct with its own bus and monitoring settings.
// Bundling is skipped: stack.test.ts checks the bundle.

type Json = Record<string, unknown>;

let full: Synthesized;
let minimal: Synthesized;
let noEvents: { stack: TolokaPoolOpenerStack; template: Template };
let custom: { construct: TolokaPoolOpener; bus: events.EventBus; template: Template };

beforeAll(() => {
  full = synthFromConfig('full.json', { bundle: false });
  minimal = synthFromConfig('minimal.json', { bundle: false });

  const app = newApp({ bundle: false });
  const config = parseConfig(
    { environment: 'sandbox', tokenParameterName: 'toloka-sandbox-token', outcomeEvents: false },
    'no-events.json',
  );
  const stack = new TolokaPoolOpenerStack(app, 'NoEvents', { config, env: TEST_ENV });
  noEvents = { stack, template: Template.fromStack(stack) };

  const customStack = new Stack(newApp({ bundle: false }), 'Custom', { env: TEST_ENV });
  const bus = new events.EventBus(customStack, 'OpeningsBus');
  const construct = new TolokaPoolOpener(customStack, 'Sandbox', {
    tokenParameterName: 'toloka-sandbox-token',
    outcomeEventBus: bus,
    metricNamespace: 'TolokaPoolOpener/Sandbox',
    dashboardName: 'toloka-sandbox',
    triggerQueueAgeAlarmThreshold: false,
  });
  custom = { construct, bus, template: Template.fromStack(customStack) };
});

/** The alarm with this name (alarm names are `<stack>-<construct path>-<what>`). */
function alarmNamed(template: Template, name: string): Json {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
    (alarm) => alarm.Properties.AlarmName === name,
  );
  expect(found, name).toHaveLength(1);
  return (found[0] as { Properties: Json }).Properties;
}

/** A template value with CloudFormation intrinsics written as `Ref(x)` / `GetAtt(x.y)`. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (intrinsic.Ref !== undefined) return `Ref(${intrinsic.Ref})`;
  if (intrinsic['Fn::GetAtt'] !== undefined) return `GetAtt(${intrinsic['Fn::GetAtt'].join('.')})`;
  throw new Error(`unexpected value in the dashboard body: ${JSON.stringify(value)}`);
}

interface DashboardMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Record<string, string>;
  readonly stat: string | undefined;
  readonly label: string | undefined;
}

interface Widget {
  readonly type: string;
  readonly properties: Json;
}

/** The dashboard's body, parsed with its intrinsics flattened. */
function dashboardBody(template: Template): { start?: string; widgets: Widget[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = (dashboards[0] as { Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } } })
    .Properties.DashboardBody;
  const text = body['Fn::Join'][1].map(flatten).join('');
  return JSON.parse(text) as { start?: string; widgets: Widget[] };
}

function widgetTitled(widgets: readonly Widget[], title: string): Widget {
  const widget = widgets.find((w) => w.properties.title === title);
  if (widget === undefined) throw new Error(`no widget titled ${title}`);
  return widget;
}

/** `[namespace, name, dim1, value1, …, {options}]` rows of a metric widget. */
function metricsOf(widget: Widget): DashboardMetric[] {
  return (widget.properties.metrics as unknown[][]).map((row) => {
    const last = row[row.length - 1];
    const options = typeof last === 'object' ? (last as { stat?: string; label?: string }) : {};
    const names = row.filter((cell): cell is string => typeof cell === 'string');
    const [namespace = '', name = '', ...dims] = names;
    const dimensions: Record<string, string> = {};
    for (let i = 0; i + 1 < dims.length; i += 2) dimensions[dims[i] ?? ''] = dims[i + 1] ?? '';
    return { namespace, name, dimensions, stat: options.stat, label: options.label };
  });
}

const ids = (s: Synthesized) => {
  const o = s.stack.opener;
  const role = (fn: typeof o.opener) => {
    if (fn.role === undefined) throw new Error('function without role');
    return logicalId(fn.role);
  };
  return {
    opener: logicalId(o.opener),
    checker: logicalId(o.checker),
    openerRole: role(o.opener),
    checkerRole: role(o.checker),
    openerLogGroup: logicalId(o.openerLogGroup),
    checkerLogGroup: logicalId(o.checkerLogGroup),
    triggerQueue: logicalId(o.triggerQueue),
    checkQueue: logicalId(o.checkQueue),
    triggerDlq: logicalId(o.triggerDeadLetterQueue),
    checkDlq: logicalId(o.checkDeadLetterQueue),
    topic: logicalId(o.alarmTopic),
  };
};

const OPENINGS_PATTERN =
  '{ ($.outcome = "OPENED") || ($.outcome = "ALREADY_OPEN") || ($.outcome = "CLOSED") || ($.outcome = "ALREADY_CLOSED") || ($.outcome = "FAILED") || ($.outcome = "TIMED_OUT") || ($.outcome = "SKIPPED") }';
const TIME_TO_CONFIRM_PATTERN = '{ ($.outcome = "OPENED") && ($.elapsedMs >= 0) }';

describe('metrics from the outcome records', () => {
  it('counts every outcome record of either function in Openings, with its outcome as the Outcome dimension', () => {
    const i = ids(full);
    // Openings and TimeToConfirm on each log group, and the opener's LateTriggers.
    full.template.resourceCountIs('AWS::Logs::MetricFilter', 5);
    for (const logGroup of [i.openerLogGroup, i.checkerLogGroup]) {
      const filters = Object.values(
        full.template.findResources('AWS::Logs::MetricFilter', {
          Properties: { LogGroupName: { Ref: logGroup }, FilterPattern: OPENINGS_PATTERN },
        }),
      );
      expect(filters).toHaveLength(1);
      expect(filters[0]?.Properties.MetricTransformations).toEqual([
        {
          MetricNamespace: 'TolokaPoolOpener',
          MetricName: 'Openings',
          MetricValue: '1',
          Dimensions: [{ Key: 'Outcome', Value: '$.outcome' }],
          Unit: 'Count',
        },
      ]);
    }
  });

  it("counts the opener's SKIPPED records of reason LATE in LateTriggers", () => {
    const filters = Object.values(
      full.template.findResources('AWS::Logs::MetricFilter', {
        Properties: {
          LogGroupName: { Ref: ids(full).openerLogGroup },
          FilterPattern: '{ ($.outcome = "SKIPPED") && ($.reason = "LATE") }',
        },
      }),
    );
    expect(filters).toHaveLength(1);
    expect(filters[0]?.Properties.MetricTransformations).toEqual([
      { MetricNamespace: 'TolokaPoolOpener', MetricName: 'LateTriggers', MetricValue: '1', Unit: 'Count' },
    ]);
  });

  it('records the elapsedMs of every OPENED record of either function as TimeToConfirm, in milliseconds', () => {
    const i = ids(full);
    for (const logGroup of [i.openerLogGroup, i.checkerLogGroup]) {
      const filters = Object.values(
        full.template.findResources('AWS::Logs::MetricFilter', {
          Properties: { LogGroupName: { Ref: logGroup }, FilterPattern: TIME_TO_CONFIRM_PATTERN },
        }),
      );
      expect(filters).toHaveLength(1);
      // No DefaultValue: a line that is not an OPENED record must not add a 0 to the percentiles.
      expect(filters[0]?.Properties.MetricTransformations).toEqual([
        {
          MetricNamespace: 'TolokaPoolOpener',
          MetricName: 'TimeToConfirm',
          MetricValue: '$.elapsedMs',
          Unit: 'Milliseconds',
        },
      ]);
    }
  });

  it('matches what the runtime writes: one JSON object per line, outcome and a numeric elapsedMs at the top level', async () => {
    const lines: string[] = [];
    const sink = new LogOutcomeSink('toloka-pool-opener', (line) => lines.push(line));
    for (const outcome of OPENING_OUTCOMES) {
      await sink.report({ outcome, poolId: '1', requestedAt: '2026-11-28T21:50:15.071Z', elapsedMs: 10 });
    }
    expect(lines).toHaveLength(OPENING_OUTCOMES.length);
    lines.forEach((line, n) => {
      expect(line).not.toContain('\n');
      const record = JSON.parse(line) as { outcome: unknown; elapsedMs: unknown };
      expect(record.outcome).toBe(OPENING_OUTCOMES[n]);
      expect(typeof record.elapsedMs).toBe('number');
    });
  });

  it('uses the namespace given to the construct', () => {
    const namespaces = Object.values(custom.template.findResources('AWS::Logs::MetricFilter')).map(
      (filter) => filter.Properties.MetricTransformations[0].MetricNamespace,
    );
    expect(namespaces).toEqual(Array(5).fill('TolokaPoolOpener/Sandbox'));
    const failed = custom.construct.monitoring.failedOpeningsAlarm.node.defaultChild as cloudwatch.CfnAlarm;
    expect(propertiesOf(custom.template, logicalId(failed)).Metrics).toMatchObject([
      { MetricStat: { Metric: { Namespace: 'TolokaPoolOpener/Sandbox', MetricName: 'Openings' } } },
    ]);
  });
});

describe('alarms', () => {
  const common = {
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Period: 300,
    TreatMissingData: 'notBreaching',
  };

  it('alarm on a message in either dead-letter queue', () => {
    const i = ids(full);
    for (const [name, queue] of [
      ['TolokaPoolOpener-Toloka-trigger-dlq-not-empty', i.triggerDlq],
      ['TolokaPoolOpener-Toloka-check-dlq-not-empty', i.checkDlq],
    ] as const) {
      expect(alarmNamed(full.template, name)).toMatchObject({
        ...common,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: i.topic }],
      });
      expect(alarmNamed(full.template, name).AlarmDescription).toContain(
        'Runbook: a message in a dead-letter queue',
      );
    }
  });

  it('alarm on any FAILED and any TIMED_OUT opening in 5 minutes', () => {
    const i = ids(full);
    for (const [name, outcome] of [
      ['TolokaPoolOpener-Toloka-failed-openings', 'FAILED'],
      ['TolokaPoolOpener-Toloka-timed-out-openings', 'TIMED_OUT'],
    ] as const) {
      const alarm = alarmNamed(full.template, name);
      expect(alarm).toMatchObject({
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: i.topic }],
      });
      expect(alarm.Metrics).toEqual([
        {
          Id: 'm1',
          Label: outcome,
          MetricStat: {
            Metric: {
              Namespace: 'TolokaPoolOpener',
              MetricName: 'Openings',
              Dimensions: [{ Name: 'Outcome', Value: outcome }],
            },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: true,
        },
      ]);
      expect(alarm.AlarmDescription).toContain('docs/operations.md');
    }
  });

  it('alarm on any error of either function in 5 minutes', () => {
    const i = ids(full);
    for (const [name, fn] of [
      ['TolokaPoolOpener-Toloka-opener-errors', i.opener],
      ['TolokaPoolOpener-Toloka-checker-errors', i.checker],
    ] as const) {
      expect(alarmNamed(full.template, name)).toMatchObject({
        ...common,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: i.topic }],
      });
    }
  });

  it('alarm when the oldest trigger message is older than 15 minutes', () => {
    const i = ids(full);
    expect(alarmNamed(full.template, 'TolokaPoolOpener-Toloka-trigger-queue-stuck')).toMatchObject({
      ...common,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [i.triggerQueue, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: i.topic }],
    });
  });

  it('are exactly these eight, each notifying the one alarm topic and nothing else', () => {
    for (const s of [full, minimal]) {
      const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual(
        [
          'check-dlq-not-empty',
          'checker-errors',
          'failed-openings',
          'late-triggers',
          'opener-errors',
          'timed-out-openings',
          'trigger-dlq-not-empty',
          'trigger-queue-stuck',
        ].map((suffix) => `TolokaPoolOpener-Toloka-${suffix}`),
      );
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: ids(s).topic }]);
        expect(alarm.Properties.OKActions).toBeUndefined();
        expect(alarm.Properties.InsufficientDataActions).toBeUndefined();
      }
      expect(s.stack.opener.monitoring.alarms).toHaveLength(8);
    }
  });

  it('leave out the trigger queue age alarm when the construct is told so', () => {
    expect(custom.construct.monitoring.triggerQueueAgeAlarm).toBeUndefined();
    custom.template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    expect(
      JSON.stringify(custom.template.findResources('AWS::CloudWatch::Alarm')).includes(
        'ApproximateAgeOfOldestMessage',
      ),
    ).toBe(false);
  });
});

describe('the alarm topic', () => {
  it('always exists, and only the alarm email (when configured) is subscribed to it', () => {
    full.template.resourceCountIs('AWS::SNS::Topic', 1);
    full.template.resourceCountIs('AWS::SNS::Subscription', 1);
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'toloka-ops@example.com',
      TopicArn: { Ref: ids(full).topic },
    });
    minimal.template.resourceCountIs('AWS::SNS::Topic', 1);
    minimal.template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(full.stack.alarmTopic).toBe(full.stack.opener.alarmTopic);
  });

  it('refuses publishing without TLS and lets only these alarms, in this account, publish', () => {
    const i = ids(full);
    const alarmArns = full.stack.opener.monitoring.alarms.map((alarm) => ({
      'Fn::GetAtt': [logicalId(alarm), 'Arn'],
    }));
    const policies = Object.values(full.template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties.Topics).toEqual([{ Ref: i.topic }]);
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: { Ref: i.topic },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'AllowAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: i.topic },
        Condition: {
          ArnEquals: { 'aws:SourceArn': alarmArns },
          StringEquals: { 'aws:SourceAccount': TEST_ENV.account },
        },
      },
    ]);
  });

  it('takes an alarm of the user: it notifies the topic and may publish to it', () => {
    const stack = new Stack(newApp({ bundle: false }), 'UserAlarm', { env: TEST_ENV });
    const opener = new TolokaPoolOpener(stack, 'Toloka', { tokenParameterName: 'toloka-token' });
    const mine = opener.monitoring
      .metricOpenings('ALREADY_OPEN')
      .createAlarm(stack, 'ManyAlreadyOpen', { threshold: 10, evaluationPeriods: 1 });
    opener.monitoring.addAlarm(mine);
    const template = Template.fromStack(stack);
    expect(propertiesOf(template, logicalId(mine)).AlarmActions).toEqual([
      { Ref: logicalId(opener.alarmTopic) },
    ]);
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0];
    const allow = policy?.Properties.PolicyDocument.Statement[1];
    expect(allow.Condition.ArnEquals['aws:SourceArn']).toHaveLength(9);
    expect(allow.Condition.ArnEquals['aws:SourceArn']).toContainEqual({
      'Fn::GetAtt': [logicalId(mine), 'Arn'],
    });
  });
});

describe('the dashboard', () => {
  let widgets: Widget[];
  beforeAll(() => {
    widgets = dashboardBody(full.template).widgets;
  });

  it("is named after the stack, the construct and the deploy's region (AWS::Region, never a synth-time guess), and shows the last day", () => {
    const dashboard = propertiesOf(full.template, logicalId(full.stack.opener.dashboard));
    // The stack's env says eu-central-1; the name still takes the region CloudFormation deploys to.
    expect(dashboard.DashboardName).toEqual({
      'Fn::Join': ['', ['TolokaPoolOpener-Toloka-', { Ref: 'AWS::Region' }]],
    });
    expect(dashboardBody(full.template).start).toBe('-P1D');
    expect(propertiesOf(custom.template, logicalId(custom.construct.dashboard)).DashboardName).toBe(
      'toloka-sandbox',
    );
  });

  it('shows the runs by outcome, all seven, closes and skips included', () => {
    for (const title of ['Openings by outcome (per 5 minutes)', 'Openings by outcome (time range)']) {
      expect(metricsOf(widgetTitled(widgets, title))).toEqual(
        ['OPENED', 'ALREADY_OPEN', 'CLOSED', 'ALREADY_CLOSED', 'FAILED', 'TIMED_OUT', 'SKIPPED'].map(
          (outcome) => ({
            namespace: 'TolokaPoolOpener',
            name: 'Openings',
            dimensions: { Outcome: outcome },
            stat: 'Sum',
            label: outcome,
          }),
        ),
      );
    }
  });

  it('shows the time to confirm: p50, p90 and max', () => {
    expect(metricsOf(widgetTitled(widgets, 'Time to confirm an opening (OPENED)'))).toEqual(
      [
        ['p50', 'p50'],
        ['p90', 'p90'],
        ['Maximum', 'max'],
      ].map(([stat, label]) => ({
        namespace: 'TolokaPoolOpener',
        name: 'TimeToConfirm',
        dimensions: {},
        stat,
        label,
      })),
    );
  });

  it('shows the depth and the oldest message of the trigger and check queues, and the dead-letter queues', () => {
    const i = ids(full);
    const queue = (id: string) => ({ QueueName: `GetAtt(${id}.QueueName)` });
    const sqsMetrics = (title: string) =>
      metricsOf(widgetTitled(widgets, title)).map((m) => ({ name: m.name, dimensions: m.dimensions }));
    expect(sqsMetrics('Queue depth')).toEqual([
      { name: 'ApproximateNumberOfMessagesVisible', dimensions: queue(i.triggerQueue) },
      { name: 'ApproximateNumberOfMessagesNotVisible', dimensions: queue(i.triggerQueue) },
      { name: 'ApproximateNumberOfMessagesVisible', dimensions: queue(i.checkQueue) },
      { name: 'ApproximateNumberOfMessagesDelayed', dimensions: queue(i.checkQueue) },
    ]);
    expect(sqsMetrics('Age of the oldest message')).toEqual([
      { name: 'ApproximateAgeOfOldestMessage', dimensions: queue(i.triggerQueue) },
      { name: 'ApproximateAgeOfOldestMessage', dimensions: queue(i.checkQueue) },
    ]);
    expect(sqsMetrics('Dead-letter queues')).toEqual([
      { name: 'ApproximateNumberOfMessagesVisible', dimensions: queue(i.triggerDlq) },
      { name: 'ApproximateNumberOfMessagesVisible', dimensions: queue(i.checkDlq) },
    ]);
  });

  it('shows invocations, errors, duration and throttles of both functions', () => {
    const i = ids(full);
    const functions = [`Ref(${i.opener})`, `Ref(${i.checker})`];
    for (const [title, name] of [
      ['Invocations', 'Invocations'],
      ['Errors', 'Errors'],
      ['Duration (p50, max)', 'Duration'],
      ['Throttles', 'Throttles'],
    ] as const) {
      const metrics = metricsOf(widgetTitled(widgets, title));
      expect(new Set(metrics.map((m) => `${m.namespace} ${m.name}`))).toEqual(
        new Set([`AWS/Lambda ${name}`]),
      );
      expect(new Set(metrics.map((m) => m.dimensions.FunctionName))).toEqual(new Set(functions));
    }
  });

  it('shows the state of every alarm', () => {
    const alarmWidgets = widgets.filter((w) => w.type === 'alarm');
    expect(alarmWidgets).toHaveLength(1);
    expect(alarmWidgets[0]?.properties.alarms).toEqual(
      full.stack.opener.monitoring.alarms.map((alarm) => `GetAtt(${logicalId(alarm)}.Arn)`),
    );
  });

  it('lists the latest outcome records of both log groups', () => {
    const i = ids(full);
    const query = widgetTitled(widgets, 'Latest outcome records').properties.query as string;
    expect(query).toContain(`SOURCE 'Ref(${i.openerLogGroup})' | SOURCE 'Ref(${i.checkerLogGroup})'`);
    expect(query).toContain('filter ispresent(outcome)');
  });
});

describe('outcome events', () => {
  const putEventsCondition = {
    'ForAllValues:StringEquals': { 'events:source': 'toloka-pool-opener' },
    Null: { 'events:source': 'false' },
  };

  it('use the source the runtime publishes with', () => {
    expect(OUTCOME_EVENT_SOURCE).toBe(RUNTIME_EVENT_SOURCE);
  });

  it('go to the default bus by default: OUTCOME_EVENT_BUS=default on both functions', () => {
    for (const s of [full, minimal]) {
      const i = ids(s);
      for (const fn of [i.opener, i.checker]) {
        const env = propertiesOf(s.template, fn).Environment as { Variables: Record<string, unknown> };
        expect(env.Variables.OUTCOME_EVENT_BUS).toBe('default');
      }
    }
  });

  it('may be put by each function on the default bus only, and only with the opener source', () => {
    const i = ids(full);
    for (const role of [i.openerRole, i.checkerRole]) {
      expect(roleStatements(full.template, role).filter((st) => st.action.startsWith('events:'))).toEqual([
        {
          effect: 'Allow',
          action: 'events:PutEvents',
          resource: `arn:aws:events:${TEST_ENV.region}:${TEST_ENV.account}:event-bus/default`,
          condition: putEventsCondition,
        },
      ]);
    }
  });

  it('go to the bus given to the construct, addressed by ARN', () => {
    const busArn = arnOf(logicalId(custom.bus));
    for (const fn of [custom.construct.opener, custom.construct.checker]) {
      const env = propertiesOf(custom.template, logicalId(fn)).Environment as {
        Variables: Record<string, unknown>;
      };
      expect(env.Variables.OUTCOME_EVENT_BUS).toEqual({ 'Fn::GetAtt': [logicalId(custom.bus), 'Arn'] });
      if (fn.role === undefined) throw new Error('function without role');
      expect(
        roleStatements(custom.template, logicalId(fn.role)).filter((st) => st.action.startsWith('events:')),
      ).toEqual([
        { effect: 'Allow', action: 'events:PutEvents', resource: busArn, condition: putEventsCondition },
      ]);
    }
    expect(custom.construct.outcomeEventBus).toBe(custom.bus);
  });

  it('are off with outcomeEvents: false: no variable, no permission', () => {
    const { stack, template } = noEvents;
    expect(stack.opener.outcomeEventBus).toBeUndefined();
    for (const fn of [stack.opener.opener, stack.opener.checker]) {
      const env = propertiesOf(template, logicalId(fn)).Environment as { Variables: Record<string, unknown> };
      expect(env.Variables).not.toHaveProperty('OUTCOME_EVENT_BUS');
      expect(env.Variables.TOLOKA_TOKEN_PARAMETER).toBe('toloka-sandbox-token');
    }
    expect(JSON.stringify(template.toJSON())).not.toContain('events:');
    // Everything else stays: the monitoring does not depend on the events.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('monitoring props validation', () => {
  it('sets the trigger queue age alarm to the threshold given', () => {
    const stack = new Stack(newApp({ bundle: false }), 'AgeAlarm', { env: TEST_ENV });
    const opener = new TolokaPoolOpener(stack, 'Toloka', {
      tokenParameterName: 'toloka-token',
      triggerQueueAgeAlarmThreshold: Duration.minutes(45),
    });
    const alarm = opener.monitoring.triggerQueueAgeAlarm;
    if (alarm === undefined) throw new Error('expected the trigger queue age alarm');
    expect(propertiesOf(Template.fromStack(stack), logicalId(alarm))).toMatchObject({
      Threshold: 2700,
      AlarmName: 'AgeAlarm-Toloka-trigger-queue-stuck',
    });
  });
});
