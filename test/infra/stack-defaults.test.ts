import { beforeAll, describe, expect, it } from 'vitest';
import {
  arnOf,
  logicalId,
  parameterArn,
  propertiesOf,
  roleStatements,
  type Synthesized,
  synthFromConfig,
} from './support.ts';

// One synth for the file from test/fixtures/config/minimal.json: only the two required keys.
// Bundling is skipped: stack.test.ts checks the bundle.
let s: Synthesized;
let roles: string[];

beforeAll(() => {
  s = synthFromConfig('minimal.json', { bundle: false });
  roles = [s.stack.opener.opener, s.stack.opener.checker].map((fn) => {
    if (fn.role === undefined) throw new Error('function without role');
    return logicalId(fn.role);
  });
});

describe('a stack from a minimal configuration', () => {
  it('uses the default poll settings and sets no API URL override', () => {
    const checkQueue = logicalId(s.stack.opener.checkQueue);
    for (const fn of [s.stack.opener.opener, s.stack.opener.checker]) {
      expect(propertiesOf(s.template, logicalId(fn)).Environment).toEqual({
        Variables: {
          POWERTOOLS_SERVICE_NAME: 'toloka-pool-opener',
          TOLOKA_ENVIRONMENT: 'sandbox',
          TOLOKA_TOKEN_PARAMETER: 'toloka-sandbox-token',
          CHECK_QUEUE_URL: { Ref: checkQueue },
          OPENINGS_TABLE: { Ref: logicalId(s.stack.opener.openingsTable) },
          STEP_LEASE_SECONDS: '120',
          REDELIVERY_SECONDS: '420',
          CHECK_DEADLINE_SECONDS: '3600',
          FAST_PATH_SECONDS: '20',
          CHECK_MIN_DELAY_SECONDS: '1',
          CHECK_MAX_DELAY_SECONDS: '900',
          CHECK_BACKOFF_FACTOR: '1.2',
          // The default budget, 50 a second, over 2 × 5 instances (maxConcurrency 5 per event source).
          TOLOKA_REQUESTS_PER_SECOND: '5',
          OUTCOME_EVENT_BUS: 'default',
        },
      });
    }
  });

  it('scopes GetParameter to a plain (non-hierarchical) parameter name', () => {
    for (const role of roles) {
      expect(roleStatements(s.template, role).filter((st) => st.action.startsWith('ssm:'))).toEqual([
        { effect: 'Allow', action: 'ssm:GetParameter', resource: parameterArn('toloka-sandbox-token') },
      ]);
    }
  });

  it('grants no KMS permission when the token is encrypted with aws/ssm', () => {
    for (const role of roles) {
      expect(roleStatements(s.template, role).filter((st) => st.action.startsWith('kms:'))).toEqual([]);
    }
    expect(JSON.stringify(s.template.toJSON())).not.toContain('kms:');
  });

  it('keeps logs for a month', () => {
    for (const group of Object.values(s.template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(30);
    }
  });

  it('creates no schedules, schedule group or Scheduler role without pools', () => {
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    s.template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
    expect(s.stack.opener.schedules).toEqual([]);
    const roleIds = Object.keys(s.template.findResources('AWS::IAM::Role'));
    expect(roleIds.sort()).toEqual([...roles].sort());
    expect(s.template.toJSON().Outputs.ScheduleGroupName).toBeUndefined();
  });

  it('still parks failed async opener invocations in the trigger DLQ', () => {
    const opener = logicalId(s.stack.opener.opener);
    expect(propertiesOf(s.template, opener).DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [logicalId(s.stack.opener.triggerDeadLetterQueue), 'Arn'] },
    });
    const [openerRole] = roles;
    expect(
      roleStatements(s.template, openerRole ?? '')
        .filter((st) => st.action === 'sqs:SendMessage')
        .map((st) => st.resource)
        .sort(),
    ).toEqual(
      [
        arnOf(logicalId(s.stack.opener.checkQueue)),
        arnOf(logicalId(s.stack.opener.triggerDeadLetterQueue)),
      ].sort(),
    );
  });

  it('still creates the alarm topic and wires every alarm to it, but subscribes nobody without an alarm email', () => {
    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    s.template.resourceCountIs('AWS::SNS::Topic', 1);
    s.template.resourceCountIs('AWS::SNS::Subscription', 0);
    const topic = logicalId(s.stack.alarmTopic);
    for (const alarm of Object.values(s.template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });
});
