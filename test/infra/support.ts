import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { loadConfig } from '../../lib/config.ts';
import { TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import { materialize } from '../support/dated-fixtures.ts';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/config');
export const TEST_ENV = { account: '123456789012', region: 'eu-central-1' } as const;

/**
 * The clock the infrastructure tests read: fixture dates (`{now+30d}`) are filled in relative to
 * it, and the checks of past dates compare with it.
 */
export const NOW = new Date();

/** The path of a configuration fixture with its dates filled in relative to {@link NOW}. */
export function fixturePath(fixture: string): string {
  return materialize(fixture, NOW);
}

/** The feature flags the real app runs with (cdk.json context), so tests see the same template. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return { ...cdkJson.context };
}

/**
 * A new App with cdk.json's context. `bundle: false` skips esbuild (the asset is a placeholder):
 * for tests that look at anything but the bundle.
 */
export function newApp(options: { bundle?: boolean } = {}): App {
  const context = cdkJsonContext();
  if (options.bundle === false) context['aws:cdk:bundling-stacks'] = [];
  return new App({ context });
}

export interface Synthesized {
  readonly app: App;
  readonly stack: TolokaPoolOpenerStack;
  readonly template: Template;
  /** The cloud assembly directory (assets live in `asset.<hash>/`). */
  readonly assemblyDir: string;
}

/** Synthesizes the app's stack from a fixture configuration file, the way bin/app.ts does. */
export function synthFromConfig(fixture: string, options: { bundle?: boolean } = {}): Synthesized {
  const app = newApp(options);
  const config = loadConfig(fixturePath(fixture));
  const stack = new TolokaPoolOpenerStack(app, 'TolokaPoolOpener', { config, env: TEST_ENV });
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  return { app, stack, template, assemblyDir: assembly.directory };
}

/** The logical ID of a construct's CloudFormation resource (an L2's default child, or an L1). */
export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return (element.stack as Stack).getLogicalId(element);
}

export interface FlatStatement {
  readonly effect: string;
  readonly action: string;
  /** A literal ARN, or the JSON of an intrinsic (`{"Fn::GetAtt":[…]}`). */
  readonly resource: string;
  readonly condition?: unknown;
}

type Json = Record<string, unknown>;

function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every (action, resource) pair the role's attached policies grant, one entry per pair. */
export function roleStatements(template: Template, roleLogicalId: string): FlatStatement[] {
  const flat: FlatStatement[] = [];
  const policies = template.findResources('AWS::IAM::Policy');
  for (const policy of Object.values(policies) as Json[]) {
    const props = policy.Properties as Json;
    const roles = asArray(props.Roles as unknown[]);
    if (!roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }))) continue;
    const statements = asArray((props.PolicyDocument as Json).Statement as Json[]);
    for (const st of statements) {
      for (const action of asArray(st.Action as string | string[])) {
        for (const resource of asArray(st.Resource as unknown)) {
          flat.push({
            effect: st.Effect as string,
            action,
            resource: typeof resource === 'string' ? resource : JSON.stringify(resource),
            ...(st.Condition === undefined ? {} : { condition: st.Condition }),
          });
        }
      }
    }
  }
  return flat;
}

/** `{"Fn::GetAtt":["<id>","Arn"]}` as roleStatements renders it. */
export function arnOf(id: string): string {
  return JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] });
}

/** The parameter ARN as the template renders `arn:${Partition}:ssm:${Region}:${Account}:parameter/<path>`. */
export function parameterArn(pathWithoutLeadingSlash: string): string {
  return JSON.stringify({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':ssm:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:parameter/${pathWithoutLeadingSlash}`,
      ],
    ],
  });
}

/** The `Properties` of one resource. */
export function propertiesOf(template: Template, id: string): Json {
  const resource = (template.toJSON().Resources as Record<string, Json>)[id];
  if (resource === undefined) throw new Error(`no resource ${id} in the template`);
  return resource.Properties as Json;
}
