import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type PolicyViolation, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import { fixturePath, logicalId, newApp, TEST_ENV } from './support.ts';

// cdk-nag v3 is a CDK validation plugin: findings are violations in the plugin's report (and
// fail synth), not annotations. Acknowledgments are `Validations.of(construct).acknowledge()`;
// `writeSuppressionsToCloudFormation` copies them into each resource's `Metadata.cdk_nag`.
// Bundling is skipped (placeholder assets): nothing here looks at the bundle.

interface NagRun {
  readonly stack: TolokaPoolOpenerStack;
  readonly template: Template;
  readonly violations: readonly PolicyViolation[];
}

/** Synthesizes the stack from a fixture with the AwsSolutions pack, options as in bin/app.ts. */
function nagSynth(
  fixture: string,
  options: { registerPlugin?: boolean; extend?: (stack: TolokaPoolOpenerStack) => void } = {},
) {
  const app = newApp({ bundle: false });
  const pack = new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
  if (options.registerPlugin === true) Validations.of(app).addPlugins(pack);
  const config = loadConfig(fixturePath(fixture));
  const stack = new TolokaPoolOpenerStack(app, 'TolokaPoolOpener', { config, env: TEST_ENV });
  options.extend?.(stack);
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { app, pack, stack, template, assemblyDir: assembly.directory };
}

function run(fixture: string): NagRun {
  const { app, pack, stack, template } = nagSynth(fixture);
  return { stack, template, violations: pack.validateScope(app).violations };
}

/**
 * `AwsSolutions-X at path, path` for each unacknowledged error, or each other finding (cdk-nag
 * reports warnings as `warning`; anything else is counted with them so nothing slips through).
 */
function findings(violations: readonly PolicyViolation[], kind: 'error' | 'warning'): string[] {
  return violations
    .filter((v) => (v.severity === 'error') === (kind === 'error'))
    .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath ?? '?').join(', ')}`);
}

interface Acknowledgment {
  /** Logical ID of the resource the acknowledgment applies to. */
  readonly resource: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgment written into the template, one per resource and rule. */
function acknowledgments(template: Template): Acknowledgment[] {
  type Metadata = { cdk_nag?: { rules_to_suppress?: { id: string; reason: string }[] } };
  const resources = template.toJSON().Resources as Record<string, { Metadata?: Metadata }>;
  return Object.entries(resources).flatMap(([id, resource]) =>
    (resource.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((rule) => ({
      resource: id,
      id: rule.id,
      reason: rule.reason,
    })),
  );
}

/** The logical ID of the CloudFormation resource at a construct path. */
function idAt(stack: TolokaPoolOpenerStack, constructPath: string): string {
  const construct = stack.node.findAll().find((c) => c.node.path === constructPath);
  if (construct === undefined) throw new Error(`no construct at ${constructPath}`);
  return logicalId(construct);
}

const SCHEDULER_POLICY = 'TolokaPoolOpener/Toloka/SchedulerRole/DefaultPolicy/Resource';

const runs = new Map<string, NagRun>();
beforeAll(() => {
  for (const fixture of ['full.json', 'minimal.json']) runs.set(fixture, run(fixture));
});
const get = (fixture: string): NagRun => {
  const found = runs.get(fixture);
  if (found === undefined) throw new Error(`no nag run for ${fixture}`);
  return found;
};

describe.each(['full.json', 'minimal.json'])('AwsSolutions checks on the stack from %s', (fixture) => {
  it('leaves no unacknowledged error', () => {
    expect(findings(get(fixture).violations, 'error')).toEqual([]);
  });

  it('leaves no unacknowledged warning (or finding of any other severity)', () => {
    expect(findings(get(fixture).violations, 'warning')).toEqual([]);
  });

  it('gives every acknowledgment a reason of its own', () => {
    for (const ack of acknowledgments(get(fixture).template)) {
      expect(ack.reason.trim().length, `${ack.id} on ${ack.resource}`).toBeGreaterThanOrEqual(20);
      expect(ack.reason, `${ack.id} on ${ack.resource}`).not.toContain(ack.id);
    }
  });
});

/** The acknowledgments the stack has: the functions' runtime, on each of the two (see below). */
function runtimeAcknowledgments(stack: TolokaPoolOpenerStack): { resource: string; id: string }[] {
  return [stack.opener.opener, stack.opener.checker]
    .map((fn) => ({ resource: logicalId(fn), id: 'AwsSolutions-L1' }))
    .sort((a, b) => a.resource.localeCompare(b.resource));
}

const withoutReasons = (acks: Acknowledgment[]) =>
  acks.map(({ resource, id }) => ({ resource, id })).sort((a, b) => a.resource.localeCompare(b.resource));

describe('acknowledged findings', () => {
  it("are the functions' runtime alone, with schedules or without: Scheduler sends to the trigger queue, by its ARN alone", () => {
    for (const fixture of ['full.json', 'minimal.json']) {
      const { stack, template } = get(fixture);
      expect(withoutReasons(acknowledgments(template)), fixture).toEqual(runtimeAcknowledgments(stack));
    }
    const { stack, template } = get('full.json');
    const policy = template.toJSON().Resources[idAt(stack, SCHEDULER_POLICY)];
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Resource: unknown }>;
    expect(statements.flatMap((statement) => statement.Resource)).toEqual(
      expect.arrayContaining([
        { 'Fn::GetAtt': [logicalId(stack.opener.triggerQueue), 'Arn'] },
        { 'Fn::GetAtt': [logicalId(stack.opener.triggerDeadLetterQueue), 'Arn'] },
      ]),
    );
    expect(statements.flatMap((statement) => statement.Resource)).toHaveLength(2);
  });

  it('need none for the outcome events, the alarm topic and the monitoring, which the checked stack has', () => {
    const { stack, template } = get('full.json');
    const resources = Object.values(template.toJSON().Resources as Record<string, { Type: string }>);
    const types = new Set(resources.map((r) => r.Type));
    for (const type of [
      'AWS::SNS::Topic',
      'AWS::SNS::TopicPolicy',
      'AWS::SNS::Subscription',
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::Logs::MetricFilter',
    ]) {
      expect(types.has(type), type).toBe(true);
    }
    expect(JSON.stringify(template.toJSON())).toContain('"Action":"events:PutEvents"');
    expect(withoutReasons(acknowledgments(template))).toEqual(runtimeAcknowledgments(stack));
    expect(stack.opener.schedules.length).toBeGreaterThan(0);
  });

  it('do not hide a new wildcard: one more grant on a function role is reported', () => {
    const { app, pack } = nagSynth('full.json', {
      extend: (stack) =>
        stack.opener.opener.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] }),
        ),
    });
    expect(findings(pack.validateScope(app).violations, 'error')).toEqual([
      'AwsSolutions-IAM5[Resource::*] at TolokaPoolOpener/Toloka/OpenerRole/DefaultPolicy/Resource',
    ]);
  });
});

describe("the functions' runtime (AwsSolutions-L1)", () => {
  // cdk-nag compares the runtime with the newest of its family in the app's aws-cdk-lib
  // (Runtime.ALL). aws-cdk-lib 2.278 lists nodejs26.x, which a consumer's fresh app installs while
  // this repository's lock holds an older one; a Runtime constructed here joins Runtime.ALL, which
  // is that consumer's library for the length of one synth.
  function withNewerNodeRuntime<T>(body: () => T): T {
    const before = lambda.Runtime.ALL.length;
    new lambda.Runtime('nodejs99.x', lambda.RuntimeFamily.NODEJS);
    try {
      return body();
    } finally {
      lambda.Runtime.ALL.splice(before);
    }
  }

  it('is Node.js 24 on both functions, the runtime the handlers are bundled for and tested on', () => {
    const { stack, template } = get('full.json');
    const runtimes = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(runtimes).sort()).toEqual(runtimeAcknowledgments(stack).map((ack) => ack.resource));
    for (const fn of Object.values(runtimes)) expect(fn.Properties.Runtime).toBe('nodejs24.x');
  });

  it('stays acknowledged in an app whose aws-cdk-lib knows a newer Node.js runtime', () => {
    const { app, pack } = withNewerNodeRuntime(() => nagSynth('minimal.json'));
    const violations = withNewerNodeRuntime(() => pack.validateScope(app).violations);
    expect(findings(violations, 'error')).toEqual([]);
  });

  it('is a finding there for a Node.js 24 function the package did not make: the control', () => {
    const { app, pack } = withNewerNodeRuntime(() =>
      nagSynth('minimal.json', {
        extend: (stack) =>
          new lambda.Function(stack, 'Control', {
            runtime: lambda.Runtime.NODEJS_24_X,
            handler: 'index.handler',
            code: lambda.Code.fromInline('exports.handler = async () => {};'),
          }),
      }),
    );
    const errors = withNewerNodeRuntime(() => findings(pack.validateScope(app).violations, 'error'));
    expect(errors).toContain('AwsSolutions-L1 at TolokaPoolOpener/Control/Resource');
    expect(errors.filter((finding) => finding.includes('/Toloka/'))).toEqual([]);
  });
});

describe('the pack registered as bin/app.ts registers it', () => {
  it('lets synth finish with an empty validation report', () => {
    const { assemblyDir } = nagSynth('full.json', { registerPlugin: true });
    const report = JSON.parse(readFileSync(path.join(assemblyDir, cxapi.VALIDATION_REPORT_FILE), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });
});
