/**
 * Least privilege, proven by running it. The functions' bundles as `cdk synth` wrote them run with
 * the environment the template gives them (its references resolved to resources made on moto),
 * through one opening that hands over to the checker, a trigger message and bad messages. Every
 * AWS call they make passes a recording proxy, signed with an access key of each function's own,
 * and is judged against that function's role in the template by an IAM policy simulator. moto
 * enforces no IAM: without this, a missing grant would pass every test and fail on AWS.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { loadConfig } from '../../lib/config.ts';
import { TolokaPoolOpenerStack } from '../../lib/toloka-pool-opener-stack.ts';
import { cdkJsonContext, FIXTURES, logicalId, REPO_ROOT } from '../infra/support.ts';
import { AwsCallRecorder, type IamRequest } from '../support/aws-call-recorder.ts';
import { createOpeningsTable, putSecureToken, REGION, useMoto } from '../support/moto.ts';
import { sqsEventOf } from '../support/sqs-event-source.ts';
import {
  grantedActions,
  judge,
  type NamedPolicy,
  type Resolved,
  resolve,
  rolePolicies,
  type TemplateJson,
  without,
} from '../support/template-iam.ts';

const WHERE = { region: REGION, account: '123456789012' } as const;
const TOKEN = 'least-privilege-token-Jw72kQ';
const FUNCTIONS = { opener: 'AKIDOPENER00000001', checker: 'AKIDCHECKER0000001' } as const;
type FunctionName = keyof typeof FUNCTIONS;

/**
 * Granted, and used by AWS on the function's behalf rather than by its code, so no call of the
 * code shows them: each with the reason (lib/toloka-pool-opener.ts says the same next to the grant).
 */
const USED_BY_AWS: Record<string, string> = {
  'logs:CreateLogStream': "Lambda's service writes the function's log stream to its log group",
  'logs:PutLogEvents': "Lambda's service writes the function's log lines to its log group",
  'sqs:ReceiveMessage': "the event source mapping (Lambda's service) receives the function's queue",
  'sqs:DeleteMessage': 'the event source mapping deletes what the function handled',
  'sqs:ChangeMessageVisibility': 'the event source mapping returns batch item failures',
  'sqs:GetQueueAttributes': 'the event source mapping reads its queue',
  'sqs:GetQueueUrl': "granted with the mapping's consume grant (SqsEventSource); not called",
};

let moto: ReturnType<typeof useMoto>;
let recorder: AwsCallRecorder;
let emulator: TolokaEmulator;
let template: TemplateJson;
let refs: Map<string, Resolved>;
const fn: Record<
  FunctionName,
  { assetDir: string; handler: string; env: Record<string, string>; role: string }
> = {} as never;
let checkQueueUrl = '';
let judged: Record<FunctionName, IamRequest[]>;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  recorder = new AwsCallRecorder(inject('motoEndpoint'));
  await recorder.start();
  emulator = new TolokaEmulator({ tokens: [TOKEN] });
  await emulator.start();

  // The app's stack, bundled by esbuild as `cdk deploy` would, in moto's account and region.
  const app = new App({ context: cdkJsonContext() });
  const config = loadConfig(path.join(FIXTURES, 'least-privilege.json'));
  const stack = new TolokaPoolOpenerStack(app, 'LeastPrivilege', { config, env: WHERE_ENV });
  const assembly = app.synth();
  template = assembly.getStackByName(stack.stackName).template as TemplateJson;
  refs = await makeResources(template);

  for (const [name, construct] of [
    ['opener', stack.opener.opener],
    ['checker', stack.opener.checker],
  ] as const) {
    const properties = template.Resources[logicalId(construct)]?.Properties as Record<string, unknown>;
    const code = properties.Code as { S3Key: string };
    fn[name] = {
      assetDir: path.join(assembly.directory, `asset.${code.S3Key.replace(/\.zip$/, '')}`),
      handler: String(properties.Handler),
      env: resolve((properties.Environment as { Variables: unknown }).Variables, refs, WHERE) as Record<
        string,
        string
      >,
      role: String((properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]),
    };
  }
  checkQueueUrl = fn.opener.env.CHECK_QUEUE_URL ?? '';
  await putSecureToken(new SSMClient({}), fn.opener.env.TOLOKA_TOKEN_PARAMETER ?? '', TOKEN);

  // One opening handed over to the checker, one opened at once from a trigger message, and a bad
  // message to each function.
  emulator.setPool('8101', { openDurationMs: 3_500 });
  emulator.setPool('8102', { openDurationMs: 0 });
  expect(await invoke('opener', { poolId: '8101' })).toMatchObject({ result: { outcome: 'PENDING' } });
  // A second trigger joins the opening in flight (the pointer's opening read with GetItem).
  expect(await invoke('opener', { poolId: '8101', triggerId: 'pipeline' })).toMatchObject({
    result: { outcome: 'PENDING' },
  });
  const triggerArn = refsArn('AWS::SQS::Queue', 'TriggerQueue');
  await invoke('opener', sqsEventOf([message('{"poolId": "8102"}'), message('{"poolId": "x"}')], triggerArn));
  await invoke('checker', sqsEventOf([message('{"version": 1}')], refsArn('AWS::SQS::Queue', 'CheckQueue')));
  await followChecks();
  judged = {
    opener: recorder.requestsOf(FUNCTIONS.opener, WHERE),
    checker: recorder.requestsOf(FUNCTIONS.checker, WHERE),
  };
}, 180_000);

afterAll(async () => {
  await emulator.stop();
  await recorder.stop();
  moto.restore();
});

const WHERE_ENV = { account: WHERE.account, region: WHERE.region };

function message(body: string) {
  return { MessageId: crypto.randomUUID(), ReceiptHandle: crypto.randomUUID(), Body: body, Attributes: {} };
}

function refsArn(type: string, idPart: string): string {
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === type && id.includes(idPart) && !id.includes('DeadLetter')) {
      const arn = refs.get(id)?.attributes.Arn;
      if (arn !== undefined) return arn;
    }
  }
  throw new Error(`no ${type} ${idPart}`);
}

/** Runs the checker's bundle on the check queue (read straight from moto) until it is empty. */
async function followChecks(): Promise<void> {
  const sqs = new SQSClient({ endpoint: recorder.url });
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: checkQueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) {
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: checkQueueUrl, AttributeNames: ['All'] }),
      );
      const left = Number(attributes.Attributes?.ApproximateNumberOfMessagesDelayed ?? 0);
      if (left === 0) return;
      continue;
    }
    await invoke('checker', sqsEventOf(Messages, refsArn('AWS::SQS::Queue', 'CheckQueue')));
  }
}

/** One invocation of a function's bundle, in a process of its own, with its template environment. */
function invoke(name: FunctionName, event: unknown): Promise<{ result?: unknown; error?: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'test/support/bundle-child.mjs')], {
    env: {
      PATH: process.env.PATH,
      ...fn[name].env,
      // The one variable the template does not give: the emulator instead of Toloka's host.
      TOLOKA_API_URL: emulator.url,
      AWS_ENDPOINT_URL: recorder.url,
      AWS_REGION: WHERE.region,
      AWS_ACCESS_KEY_ID: FUNCTIONS[name],
      AWS_SECRET_ACCESS_KEY: 'testing',
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.resume();
  child.stdin.end(
    JSON.stringify({
      assetDir: fn[name].assetDir,
      handler: fn[name].handler,
      event,
      remainingMs: 60_000,
      awsRequestId: crypto.randomUUID(),
    }),
  );
  return new Promise((resolveRun, reject) => {
    child.on('error', reject);
    child.on('exit', () => {
      const last = stderr.trim().split('\n').at(-1) ?? '{}';
      try {
        resolveRun(JSON.parse(last) as { result?: unknown; error?: string });
      } catch {
        reject(new Error(`the ${name} bundle ended without a result: ${stderr.slice(-1_000)}`));
      }
    });
  });
}

/** The template's queues and table made on moto, and every reference of the template resolved to them. */
async function makeResources(json: TemplateJson): Promise<Map<string, Resolved>> {
  // Made through the recorder (with a key of no function's), so that the queue URLs point at it:
  // the SQS client sends to the queue URL's host.
  const sqs = new SQSClient({ endpoint: recorder.url });
  const made = new Map<string, Resolved>();
  const arnOf = (service: string, resource: string) =>
    `arn:aws:${service}:${WHERE.region}:${WHERE.account}:${resource}`;
  for (const [id, resource] of Object.entries(json.Resources)) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const name = `lp-${id.slice(0, 40)}-${process.pid}`;
      const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      made.set(id, { ref: QueueUrl, attributes: { Arn: arnOf('sqs', name), QueueName: name, QueueUrl } });
    } else if (resource.Type === 'AWS::DynamoDB::Table') {
      const name = await createOpeningsTable('least-privilege');
      made.set(id, { ref: name, attributes: { Arn: arnOf('dynamodb', `table/${name}`) } });
    } else if (resource.Type === 'AWS::Lambda::Function') {
      made.set(id, { ref: id, attributes: { Arn: arnOf('lambda', `function:${id}`) } });
    } else if (resource.Type === 'AWS::Logs::LogGroup') {
      made.set(id, { ref: id, attributes: { Arn: arnOf('logs', `log-group:${id}:*`) } });
    } else if (resource.Type === 'AWS::IAM::Role') {
      made.set(id, { ref: id, attributes: { Arn: `arn:aws:iam::${WHERE.account}:role/${id}` } });
    } else if (resource.Type === 'AWS::Scheduler::ScheduleGroup') {
      made.set(id, { ref: id, attributes: { Arn: arnOf('scheduler', `schedule-group/${id}`) } });
    }
  }
  return made;
}

function policiesOf(name: FunctionName): NamedPolicy[] {
  return rolePolicies(template, fn[name].role, refs, WHERE);
}

async function denials(name: FunctionName, policies: NamedPolicy[]): Promise<string[]> {
  const roleArn = `arn:aws:iam::${WHERE.account}:role/${fn[name].role}`;
  const found: string[] = [];
  for (const request of judged[name]) {
    const verdict = await judge(roleArn, request, policies, WHERE);
    if (!verdict.allowed) found.push(`${name}: ${verdict.why}`);
  }
  return found;
}

describe('every AWS call the functions make is allowed by their role in the template', () => {
  it('records the calls of a whole opening: the ledger, the token, the check queue and the events', () => {
    const actions = (name: FunctionName) =>
      [...new Set(judged[name].map((request) => request.action))].sort();
    expect(actions('opener')).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ]);
    expect(actions('checker')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ]);
  });

  it.each(['opener', 'checker'] as const)('allows every call of the %s', async (name) => {
    expect(await denials(name, policiesOf(name))).toEqual([]);
  });

  it.each([
    ['opener', 'dynamodb:BatchGetItem'],
    ['opener', 'dynamodb:UpdateItem'],
    ['opener', 'dynamodb:PutItem'],
    ['opener', 'ssm:GetParameter'],
    ['opener', 'sqs:SendMessage'],
    ['checker', 'events:PutEvents'],
  ] as const)('fails, naming the grant, when the %s role loses %s', async (name, action) => {
    const found = await denials(name, without(policiesOf(name), action));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((line) => line.includes(`grant ${action} on`))).toBe(true);
  });

  it.each(['opener', 'checker'] as const)(
    'grants the %s nothing that no call used, but for what AWS uses on its behalf',
    (name) => {
      const used = new Set(judged[name].map((request) => request.action));
      const unused = grantedActions(policiesOf(name)).filter((action) => !used.has(action));
      const unexplained = unused.filter((action) => USED_BY_AWS[action] === undefined);
      expect(unexplained).toEqual([]);
    },
  );
});

/** The logical ID of the one resource of `type` whose ID contains `part`. */
function idOf(type: string, part: string): string {
  const ids = Object.keys(template.Resources).filter(
    (id) => template.Resources[id]?.Type === type && id.includes(part),
  );
  if (ids.length !== 1) throw new Error(`${ids.length} resources ${type} named like ${part}`);
  return ids[0] ?? '';
}

const arnOfId = (id: string) => refs.get(id)?.attributes.Arn ?? '';
const roleArnOf = (id: string) => `arn:aws:iam::${WHERE.account}:role/${id}`;

describe('the calls AWS services make with the template’s roles', () => {
  it('lets Scheduler send to the trigger queue and put its dead letters in the trigger DLQ, and nothing else', async () => {
    const role = idOf('AWS::IAM::Role', 'SchedulerRole');
    const policies = rolePolicies(template, role, refs, WHERE);
    const sendTrigger = {
      action: 'sqs:SendMessage',
      resource: arnOfId(idOf('AWS::SQS::Queue', 'TriggerQueue')),
      context: {},
    };
    const deadLetter = {
      action: 'sqs:SendMessage',
      resource: arnOfId(idOf('AWS::SQS::Queue', 'TriggerDeadLetter')),
      context: {},
    };
    expect(await judge(roleArnOf(role), sendTrigger, policies, WHERE)).toEqual({ allowed: true });
    expect(await judge(roleArnOf(role), deadLetter, policies, WHERE)).toEqual({ allowed: true });
    const checkQueue = { ...sendTrigger, resource: arnOfId(idOf('AWS::SQS::Queue', 'CheckQueue')) };
    expect(await judge(roleArnOf(role), checkQueue, policies, WHERE)).toMatchObject({ allowed: false });
    const invokeOpener = {
      action: 'lambda:InvokeFunction',
      resource: arnOfId(idOf('AWS::Lambda::Function', 'Opener')),
      context: {},
    };
    expect(await judge(roleArnOf(role), invokeOpener, policies, WHERE)).toMatchObject({ allowed: false });
    expect(grantedActions(policies)).toEqual(['sqs:SendMessage']);
  });

  it("lets the opener's failed asynchronous invocations go to its dead-letter queue", async () => {
    const properties = template.Resources[idOf('AWS::Lambda::Function', 'Opener')]?.Properties ?? {};
    const target = resolve((properties.DeadLetterConfig as { TargetArn: unknown }).TargetArn, refs, WHERE);
    const send = { action: 'sqs:SendMessage', resource: String(target), context: {} };
    expect(await judge(roleArnOf(fn.opener.role), send, policiesOf('opener'), WHERE)).toEqual({
      allowed: true,
    });
  });
});

/** A KMS key's default policy: the account's IAM policies decide. */
const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${WHERE.account}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
};

describe('a customer managed key for the token', () => {
  it('lets the functions decrypt with it only through SSM', async () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const keyArn = `arn:aws:kms:${WHERE.region}:${WHERE.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const config = { ...loadConfig(path.join(FIXTURES, 'least-privilege.json')), tokenKeyArn: keyArn };
    const stack = new TolokaPoolOpenerStack(app, 'LeastPrivilegeWithKey', { config, env: WHERE_ENV });
    const keyed = app.synth().getStackByName(stack.stackName).template as TemplateJson;
    const keyedRefs = await makeResources(keyed);
    for (const construct of [stack.opener.opener, stack.opener.checker]) {
      const properties = keyed.Resources[logicalId(construct)]?.Properties ?? {};
      const role = String((properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]);
      const policies = rolePolicies(keyed, role, keyedRefs, WHERE);
      const decrypt = { action: 'kms:Decrypt', resource: keyArn, context: {} };
      const viaSsm = { ...decrypt, context: { 'kms:ViaService': `ssm.${WHERE.region}.amazonaws.com` } };
      // The key's default policy, which leaves the decision to IAM (as the key a user makes has).
      const verdict = await judge(roleArnOf(role), viaSsm, policies, WHERE, DEFAULT_KEY_POLICY);
      expect(verdict, JSON.stringify(verdict)).toEqual({ allowed: true });
      expect(await judge(roleArnOf(role), decrypt, policies, WHERE, DEFAULT_KEY_POLICY)).toMatchObject({
        allowed: false,
      });
    }
  });
});
