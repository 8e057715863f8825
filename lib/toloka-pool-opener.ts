import { Annotations, Aws, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type HandlerFunctionProps, type HandlerName, handlerFunction } from './handler-code.ts';
import { OpenerMonitoring } from './monitoring.ts';
import { OUTCOME_EVENT_SOURCE, type TolokaPoolOpenerProps } from './opener-props.ts';
import { InvalidTolokaPoolOpenerPropsError, resolveTolokaPoolOpenerProps } from './opener-settings.ts';
import { addOpeningSchedules } from './opening-schedules.ts';

export * from './opener-props.ts';
export { InvalidTolokaPoolOpenerPropsError, resolveTolokaPoolOpenerProps } from './opener-settings.ts';

/**
 * Opens and closes Toloka pools (and trainings) on a schedule or on request, then follows each
 * operation until it ends (one action on a pool at a time, in the order asked):
 *
 * - EventBridge Scheduler (one schedule per {@link PoolSchedule}) invokes the `opener`
 *   asynchronously with `{"poolId": "…"}` or `{"trainingId": "…"}`;
 * - a message with the same body on `triggerQueue` does the same through SQS;
 * - the opener calls Toloka, then sends a delayed message to `checkQueue`, which the
 *   `checker` consumes, re-enqueueing itself with back-off until the operation ends or the
 *   deadline passes.
 *
 * Failures end in `triggerDeadLetterQueue` (trigger messages, failed async invocations and
 * undeliverable schedule events, all with the original `{"poolId": …}` body so they can be
 * redriven to `triggerQueue`) or `checkDeadLetterQueue`.
 *
 * For operators (`monitoring`): metrics from the outcome records, alarms on `alarmTopic`, a
 * CloudWatch `dashboard`; and each outcome as an event on `outcomeEventBus`.
 */
export class TolokaPoolOpener extends Construct {
  /** Send `{"poolId": "…"}` (or `{"trainingId": "…"}`, with `"action": "close"` to close) here to act on a pool now. */
  readonly triggerQueue: sqs.Queue;
  /** Trigger messages received `maxReceiveCount` times, failed async opener invocations, failed schedule deliveries. */
  readonly triggerDeadLetterQueue: sqs.Queue;
  /** Delayed messages that make the checker look at an operation. */
  readonly checkQueue: sqs.Queue;
  /** Check messages received `maxReceiveCount` times. */
  readonly checkDeadLetterQueue: sqs.Queue;
  /** Opens pools: consumes `triggerQueue` and is invoked by the schedules. */
  readonly opener: lambda.Function;
  /** Follows open operations: consumes `checkQueue`. */
  readonly checker: lambda.Function;
  readonly openerLogGroup: logs.LogGroup;
  readonly checkerLogGroup: logs.LogGroup;
  /** The group that holds the schedules; undefined when there are none. */
  readonly scheduleGroup?: scheduler.ScheduleGroup;
  /** One per configured schedule, in the same order. */
  readonly schedules: readonly scheduler.Schedule[];
  /** ARN of the token parameter, the only one the functions may read. */
  readonly tokenParameterArn: string;
  /** The openings ledger: one entry per trigger, per opening, and per target in flight. */
  readonly openingsTable: dynamodb.Table;
  /** Where the functions publish outcome events; undefined when `outcomeEventBus` is `false`. */
  readonly outcomeEventBus?: events.IEventBus;
  /** Metric filters, alarms, the alarm topic and the dashboard. */
  readonly monitoring: OpenerMonitoring;
  /** Every alarm notifies this topic (TLS enforced). Subscribe to it for notifications. */
  readonly alarmTopic: sns.Topic;
  /** The CloudWatch dashboard of the openings, queues, functions and alarms. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TolokaPoolOpenerProps) {
    super(scope, id);
    const { settings, problems, warnings } = resolveTolokaPoolOpenerProps(props);
    if (problems.length > 0) throw new InvalidTolokaPoolOpenerPropsError(this.node.path, problems);

    const functionTimeout = Duration.seconds(settings.timeoutSeconds);
    const visibilityTimeout = Duration.seconds(6 * settings.timeoutSeconds);
    const queue = (name: string) => {
      const deadLetterQueue = new sqs.Queue(this, `${name}DeadLetterQueue`, {
        retentionPeriod: Duration.seconds(settings.dlqRetentionSeconds),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
      });
      const source = new sqs.Queue(this, `${name}Queue`, {
        visibilityTimeout,
        retentionPeriod: Duration.seconds(settings.queueRetentionSeconds),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
      });
      return { source, deadLetterQueue };
    };
    const trigger = queue('Trigger');
    this.triggerQueue = trigger.source;
    this.triggerDeadLetterQueue = trigger.deadLetterQueue;
    const check = queue('Check');
    this.checkQueue = check.source;
    this.checkDeadLetterQueue = check.deadLetterQueue;

    if (props.outcomeEventBus === undefined) {
      this.outcomeEventBus = events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default');
    } else if (props.outcomeEventBus !== false) {
      this.outcomeEventBus = props.outcomeEventBus;
    }
    // The default bus by name (as the runtime expects it), any other by ARN: a bus in another
    // account can only be addressed by ARN.
    const outcomeEventBusAddress =
      this.outcomeEventBus === undefined
        ? undefined
        : props.outcomeEventBus === undefined
          ? this.outcomeEventBus.eventBusName
          : this.outcomeEventBus.eventBusArn;

    // The openings ledger (lambda/runtime/openings-ledger.ts): what makes one outcome per opening
    // however often SQS, Lambda and Scheduler deliver. Entries expire by TTL after 15 days.
    this.openingsTable = new dynamodb.Table(this, 'OpeningsTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiration',
      // Its name is generated and its entries are operational state: nothing to keep, nothing
      // that would block the next deploy.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const parameterPath = settings.tokenParameterName.replace(/^\//, '');
    this.tokenParameterArn = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${parameterPath}`;

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'toloka-pool-opener',
      TOLOKA_ENVIRONMENT: settings.tolokaEnvironment,
      TOLOKA_TOKEN_PARAMETER: settings.tokenParameterName,
      CHECK_QUEUE_URL: this.checkQueue.queueUrl,
      OPENINGS_TABLE: this.openingsTable.tableName,
      // Longer than a function runs, shorter than a message's way back through its queue (6 ×).
      STEP_LEASE_SECONDS: String(2 * settings.timeoutSeconds),
      // When a failed step's message is back at the latest (the visibility time-out, plus a
      // minute): until then its opening is carried on; after, the next trigger takes it over.
      REDELIVERY_SECONDS: String(6 * settings.timeoutSeconds + 60),
      CHECK_DEADLINE_SECONDS: String(settings.deadlineSeconds),
      FAST_PATH_SECONDS: String(settings.fastPathSeconds),
      CHECK_MIN_DELAY_SECONDS: String(settings.minDelaySeconds),
      CHECK_MAX_DELAY_SECONDS: String(settings.maxDelaySeconds),
      CHECK_BACKOFF_FACTOR: String(settings.backoffFactor),
      // Each instance's share of the deployment's Toloka request budget (tolokaRequestsPerSecond).
      TOLOKA_REQUESTS_PER_SECOND: String(settings.requestsPerSecondPerInstance),
      ...(settings.apiUrl === undefined ? {} : { TOLOKA_API_URL: settings.apiUrl }),
      ...(outcomeEventBusAddress === undefined ? {} : { OUTCOME_EVENT_BUS: outcomeEventBusAddress }),
    };

    const makeFunction = (
      name: string,
      handler: HandlerName,
      description: string,
      /** The ledger's DynamoDB actions this function's code makes (test/integration/least-privilege.test.ts). */
      ledgerActions: readonly string[],
      extra: Partial<HandlerFunctionProps> = {},
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}LogGroup`, { retention: settings.logRetention });
      // Own role instead of AWSLambdaBasicExecutionRole: write only to this function's log group.
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of the Toloka pool ${name.toLowerCase()} function`,
      });
      // logs:CreateLogStream and logs:PutLogEvents: used by Lambda's service on the function's
      // behalf (its code only prints), so no call of the code shows them.
      logGroup.grantWrite(role);
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [this.tokenParameterArn] }),
      );
      if (props.tokenKey !== undefined) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [props.tokenKey.keyArn],
            conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` } },
          }),
        );
      }
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.checkQueue.queueArn] }),
      );
      // The ledger's conditional reads and writes, transactions included (which need the actions
      // of their parts: Put and Update, never a ConditionCheck), and, for the opener, the claim's
      // two reads in one BatchGetItem: no Scan, no Query, no Delete; the command line's history
      // reads with its own.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ledgerActions.map((action) => `dynamodb:${action}`),
          resources: [this.openingsTable.tableArn],
        }),
      );
      if (this.outcomeEventBus !== undefined) {
        // Only this bus, only events with the opener's source. `events:source` holds the source of
        // every entry of the request: ForAllValues checks them all, Null that there is one.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['events:PutEvents'],
            resources: [this.outcomeEventBus.eventBusArn],
            conditions: {
              'ForAllValues:StringEquals': { 'events:source': OUTCOME_EVENT_SOURCE },
              Null: { 'events:source': 'false' },
            },
          }),
        );
      }
      const fn = handlerFunction(this, name, handler, {
        description,
        architecture: lambda.Architecture.ARM_64,
        memorySize: settings.memorySize,
        timeout: functionTimeout,
        role,
        logGroup,
        environment: { ...environment },
        ...extra,
      });
      return { fn, logGroup };
    };

    const opener = makeFunction(
      'Opener',
      'open-pool',
      'Opens and closes Toloka pools and trainings',
      ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem'],
      {
        // Asynchronous invocations (by hand; the schedules send to the trigger queue): 2 retries,
        // then the original event goes to the trigger DLQ as the message body, ready to be
        // redriven to the trigger queue.
        retryAttempts: 2,
        deadLetterQueue: this.triggerDeadLetterQueue,
      },
    );
    this.opener = opener.fn;
    this.openerLogGroup = opener.logGroup;
    const checker = makeFunction('Checker', 'check-operation', 'Follows Toloka open and close operations', [
      'GetItem',
      'PutItem',
      'UpdateItem',
    ]);
    this.checker = checker.fn;
    this.checkerLogGroup = checker.logGroup;

    // The event source mappings' grants (sqs:ReceiveMessage, DeleteMessage, ChangeMessageVisibility,
    // GetQueueAttributes, GetQueueUrl on each function's own queue) are used by Lambda's service,
    // which polls the queue on the function's behalf: the code never calls them.
    this.opener.addEventSource(
      new SqsEventSource(this.triggerQueue, {
        batchSize: settings.triggerBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );
    this.checker.addEventSource(
      new SqsEventSource(this.checkQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );

    const defaultName = defaultResourceName(this);
    this.monitoring = new OpenerMonitoring(this, 'Monitoring', {
      opener: this.opener,
      checker: this.checker,
      openerLogGroup: this.openerLogGroup,
      checkerLogGroup: this.checkerLogGroup,
      triggerQueue: this.triggerQueue,
      checkQueue: this.checkQueue,
      triggerDeadLetterQueue: this.triggerDeadLetterQueue,
      checkDeadLetterQueue: this.checkDeadLetterQueue,
      functionTimeout,
      metricNamespace: settings.metricNamespace,
      alarmEmail: settings.alarmEmail,
      triggerQueueAgeAlarmThreshold:
        settings.triggerQueueAgeAlarmSeconds === undefined
          ? undefined
          : Duration.seconds(settings.triggerQueueAgeAlarmSeconds),
      // Dashboard names are shared by an account's regions, hence the region; the deploy's own
      // (AWS::Region), not the stack's env, which the CDK CLI sets to us-east-1 when it knows none.
      dashboardName:
        settings.dashboardName ?? (defaultName === undefined ? undefined : `${defaultName}-${Aws.REGION}`),
      alarmNamePrefix: defaultName,
    });
    this.alarmTopic = this.monitoring.alarmTopic;
    this.dashboard = this.monitoring.dashboard;

    if (settings.schedules.length > 0) {
      const opening = addOpeningSchedules(this, {
        triggerQueue: this.triggerQueue,
        deadLetterQueue: this.triggerDeadLetterQueue,
        schedules: settings.schedules,
      });
      this.scheduleGroup = opening.group;
      this.schedules = opening.schedules;
      for (const { schedule, message, id } of warnings) {
        const construct = opening.schedules[schedule];
        if (construct !== undefined) Annotations.of(construct).addWarningV2(id, message);
      }
    } else this.schedules = [];
  }
}

/**
 * `<stack name>-<construct path in the stack>` (`TolokaPoolOpener-Toloka`), for names that must be
 * unique in the account: alarms, the dashboard. Undefined when the stack name is not known at
 * synth time (CloudFormation then generates the names).
 */
function defaultResourceName(construct: Construct): string | undefined {
  const stack = Stack.of(construct);
  if (Token.isUnresolved(stack.stackName)) return undefined;
  const inStack = construct.node.path.slice(stack.node.path.length).replace(/^\//, '');
  return `${stack.stackName}-${inStack}`.replace(/[^0-9A-Za-z_-]/g, '-').slice(0, 200);
}
