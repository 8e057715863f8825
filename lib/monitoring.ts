import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { dashboardRows } from './monitoring-dashboard.ts';
import {
  FIVE_MINUTES,
  LATE_TRIGGERS_METRIC,
  OPENING_OUTCOMES,
  OPENINGS_METRIC,
  OPERATIONS_DOC,
  type OpeningOutcome,
  TIME_TO_CONFIRM_METRIC,
} from './monitoring-metrics.ts';
import type { MonitoringProps } from './monitoring-props.ts';

export {
  DEFAULT_METRIC_NAMESPACE,
  OPENING_OUTCOMES,
  OPENINGS_METRIC,
  type OpeningOutcome,
  TIME_TO_CONFIRM_METRIC,
} from './monitoring-metrics.ts';
export type { MonitoringProps } from './monitoring-props.ts';

/** Where the runbook for messages in a dead-letter queue lives. */
const DLQ_RUNBOOK = 'README.md, "Runbook: a message in a dead-letter queue"';

/**
 * Operator infrastructure of a TolokaPoolOpener: metrics from the outcome records (metric filters
 * on both log groups, no runtime code), alarms on one SNS topic, and a CloudWatch dashboard.
 *
 * - `Openings` (namespace `metricNamespace`, dimension `Outcome`): 1 per outcome record;
 * - `TimeToConfirm` (same namespace, Milliseconds): `elapsedMs` of each `OPENED` record;
 * - alarms: a message in either dead-letter queue, any `FAILED` or `TIMED_OUT` opening, any
 *   function error, and (optionally) a trigger message waiting too long.
 */
export class OpenerMonitoring extends Construct {
  /** Every alarm of this construct (and those added with {@link addAlarm}) notifies this topic. */
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  /** The metric filters, two per metric: on the opener's and on the checker's log group. */
  readonly metricFilters: readonly logs.MetricFilter[];
  readonly triggerDeadLetterQueueAlarm: cloudwatch.Alarm;
  readonly checkDeadLetterQueueAlarm: cloudwatch.Alarm;
  readonly failedOpeningsAlarm: cloudwatch.Alarm;
  readonly timedOutOpeningsAlarm: cloudwatch.Alarm;
  /** A scheduled trigger came later than its `maxLatenessMinutes` and was skipped. */
  readonly lateTriggersAlarm: cloudwatch.Alarm;
  readonly openerErrorsAlarm: cloudwatch.Alarm;
  readonly checkerErrorsAlarm: cloudwatch.Alarm;
  /** Undefined when the trigger queue age alarm is off. */
  readonly triggerQueueAgeAlarm?: cloudwatch.Alarm;
  /** The CloudWatch namespace of `Openings` and `TimeToConfirm`. */
  readonly metricNamespace: string;

  private readonly alarmArns: string[] = [];
  private readonly ownAlarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.metricNamespace = props.metricNamespace;

    this.metricFilters = this.outcomeMetricFilters(props);
    this.alarmTopic = this.createAlarmTopic(props.alarmEmail);
    const alarms = this.createAlarms(props);
    this.triggerDeadLetterQueueAlarm = alarms.triggerDeadLetterQueue;
    this.checkDeadLetterQueueAlarm = alarms.checkDeadLetterQueue;
    this.failedOpeningsAlarm = alarms.failedOpenings;
    this.timedOutOpeningsAlarm = alarms.timedOutOpenings;
    this.lateTriggersAlarm = alarms.lateTriggers;
    this.openerErrorsAlarm = alarms.openerErrors;
    this.checkerErrorsAlarm = alarms.checkerErrors;
    if (alarms.triggerQueueAge !== undefined) this.triggerQueueAgeAlarm = alarms.triggerQueueAge;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName === undefined ? {} : { dashboardName: props.dashboardName }),
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(...dashboardRows(this, props));
  }

  /** Two metric filters per log group: `Openings` by outcome and `TimeToConfirm`. */
  private outcomeMetricFilters(props: MonitoringProps): logs.MetricFilter[] {
    // Metric filters: the outcome records are single JSON lines (no Lambda prefix: they are
    // written to stdout directly). Only the known outcomes count, so that a future log line with an
    // `outcome` field of another meaning cannot add a dimension value.
    const outcomeIsKnown = logs.FilterPattern.any(
      ...OPENING_OUTCOMES.map((outcome) => logs.FilterPattern.stringValue('$.outcome', '=', outcome)),
    );
    const openedWithElapsed = logs.FilterPattern.all(
      logs.FilterPattern.stringValue('$.outcome', '=', 'OPENED'),
      logs.FilterPattern.numberValue('$.elapsedMs', '>=', 0),
    );
    const filters: logs.MetricFilter[] = [];
    for (const [name, logGroup] of [
      ['Opener', props.openerLogGroup],
      ['Checker', props.checkerLogGroup],
    ] as const) {
      filters.push(
        new logs.MetricFilter(this, `${name}OpeningsFilter`, {
          logGroup,
          filterPattern: outcomeIsKnown,
          metricNamespace: props.metricNamespace,
          metricName: OPENINGS_METRIC,
          metricValue: '1',
          dimensions: { Outcome: '$.outcome' },
          unit: cloudwatch.Unit.COUNT,
        }),
        new logs.MetricFilter(this, `${name}TimeToConfirmFilter`, {
          logGroup,
          filterPattern: openedWithElapsed,
          metricNamespace: props.metricNamespace,
          metricName: TIME_TO_CONFIRM_METRIC,
          metricValue: '$.elapsedMs',
          unit: cloudwatch.Unit.MILLISECONDS,
        }),
      );
    }
    // A scheduled trigger skipped as late: only the opener claims triggers.
    filters.push(
      new logs.MetricFilter(this, 'OpenerLateTriggersFilter', {
        logGroup: props.openerLogGroup,
        filterPattern: logs.FilterPattern.all(
          logs.FilterPattern.stringValue('$.outcome', '=', 'SKIPPED'),
          logs.FilterPattern.stringValue('$.reason', '=', 'LATE'),
        ),
        metricNamespace: props.metricNamespace,
        metricName: LATE_TRIGGERS_METRIC,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      }),
    );
    return filters;
  }

  /** The alarms' SNS topic, TLS only, that only this construct's alarms may publish to. */
  private createAlarmTopic(alarmEmail: string | undefined): sns.Topic {
    // One topic for every alarm. enforceSSL (cdk-nag AwsSolutions-SNS3) gives the topic a policy of
    // its own, which replaces SNS's default one: CloudWatch is allowed to publish below.
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Toloka pool opener alarms',
      enforceSSL: true,
    });
    if (alarmEmail !== undefined) {
      topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));
    }
    // CloudWatch publishes alarm notifications as cloudwatch.amazonaws.com: only these alarms
    // (the list grows with addAlarm), only in this account.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': Lazy.list({ produce: () => this.alarmArns }) },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    return topic;
  }

  /** The alarms, each with a description that says what to do, all on the alarm topic. */
  private createAlarms(props: MonitoringProps) {
    const name = (suffix: string) =>
      props.alarmNamePrefix === undefined ? {} : { alarmName: `${props.alarmNamePrefix}-${suffix}` };
    const alarm = (
      id: string,
      suffix: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, id, {
        ...name(suffix),
        metric,
        alarmDescription: description,
        threshold,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.ownAlarms.push(created);
      this.addAlarm(created);
      return created;
    };

    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const dlqDepth = (queue: sqs.IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' });
    const triggerDeadLetterQueue = alarm(
      'TriggerDeadLetterQueueAlarm',
      'trigger-dlq-not-empty',
      dlqDepth(props.triggerDeadLetterQueue),
      1,
      'Openings that met only transient failures (or failed Scheduler deliveries and async invocations) ' +
        'are waiting in the trigger dead-letter queue. Read them, fix the cause, then redrive them to the ' +
        `trigger queue or delete them: ${DLQ_RUNBOOK}.`,
      atLeast,
    );
    const checkDeadLetterQueue = alarm(
      'CheckDeadLetterQueueAlarm',
      'check-dlq-not-empty',
      dlqDepth(props.checkDeadLetterQueue),
      1,
      'Operation checks that failed repeatedly are waiting in the check dead-letter queue: those openings ' +
        'have no outcome yet. Read them, fix the cause, then redrive them to the check queue (their ' +
        `deadline still applies) or delete them: ${DLQ_RUNBOOK}.`,
      atLeast,
    );
    const failedOpenings = alarm(
      'FailedOpeningsAlarm',
      'failed-openings',
      this.metricOpenings('FAILED'),
      0,
      'At least one opening or closing ended FAILED in 5 minutes: Toloka refused it (409 such as ' +
        'NOT_ENOUGH_BALANCE, 4xx), its operation ended in FAIL, or the message was invalid (code INVALID_MESSAGE). Find the ' +
        'outcome records (filter outcome = "FAILED") in the opener and checker log groups, fix the cause ' +
        `named by code and message, then send the trigger again. See ${OPERATIONS_DOC}.`,
    );
    const timedOutOpenings = alarm(
      'TimedOutOpeningsAlarm',
      'timed-out-openings',
      this.metricOpenings('TIMED_OUT'),
      0,
      'At least one opening or closing ended TIMED_OUT in 5 minutes: its Toloka operation was still running ' +
        'at the check deadline (or the other action it waited for was). Look at the pool in Toloka (it may ' +
        'open or close later); the outcome record names the ' +
        `operation and its last status. See ${OPERATIONS_DOC}.`,
    );
    const lateTriggers = alarm(
      'LateTriggersAlarm',
      'late-triggers',
      this.metricLateTriggers(),
      0,
      'At least one scheduled trigger came later than its maxLatenessMinutes in 5 minutes (a retry, or a ' +
        'dead letter redriven late) and was skipped: the pool was not opened or closed when the schedule ' +
        'meant it to be. The SKIPPED record (reason LATE) says how late and the command that acts now. ' +
        `See ${OPERATIONS_DOC}.`,
    );
    const errors = (fn: lambda.IFunction) => fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' });
    const openerErrors = alarm(
      'OpenerErrorsAlarm',
      'opener-errors',
      errors(props.opener),
      0,
      'The opener function failed (crash, time-out or out of memory) at least once in 5 minutes; its ' +
        'messages go back to the trigger queue and, after repeated failures, to the trigger dead-letter ' +
        `queue. Read the opener's log group for the error. See ${OPERATIONS_DOC}.`,
    );
    const checkerErrors = alarm(
      'CheckerErrorsAlarm',
      'checker-errors',
      errors(props.checker),
      0,
      'The checker function failed (crash, time-out or out of memory) at least once in 5 minutes; its ' +
        'messages go back to the check queue and, after repeated failures, to the check dead-letter queue. ' +
        `Read the checker's log group for the error. See ${OPERATIONS_DOC}.`,
    );
    let triggerQueueAge: cloudwatch.Alarm | undefined;
    if (props.triggerQueueAgeAlarmThreshold !== undefined) {
      const seconds = props.triggerQueueAgeAlarmThreshold.toSeconds();
      triggerQueueAge = alarm(
        'TriggerQueueAgeAlarm',
        'trigger-queue-stuck',
        props.triggerQueue.metricApproximateAgeOfOldestMessage({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
        seconds,
        `A trigger message has waited more than ${props.triggerQueueAgeAlarmThreshold.toHumanString()} ` +
          'in the trigger queue: the opener keeps failing on it (Toloka 5xx/429, network, SSM) or cannot ' +
          'keep up. Read the opener\'s log group ("message returned to its queue"); after maxReceiveCount ' +
          `receives the message moves to the trigger dead-letter queue. See ${OPERATIONS_DOC}.`,
      );
    }
    return {
      triggerDeadLetterQueue,
      checkDeadLetterQueue,
      failedOpenings,
      timedOutOpenings,
      lateTriggers,
      openerErrors,
      checkerErrors,
      triggerQueueAge,
    };
  }

  /**
   * Sends this alarm's state changes to ALARM to {@link alarmTopic}, and lets it publish there
   * (the topic policy names every alarm allowed to publish).
   */
  addAlarm(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
    this.alarmArns.push(alarm.alarmArn);
  }

  /** The alarms this construct created, in a stable order. */
  get alarms(): readonly cloudwatch.Alarm[] {
    return [...this.ownAlarms];
  }

  /** Scheduled triggers skipped as late (Sum over 5 minutes unless told otherwise). */
  metricLateTriggers(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: LATE_TRIGGERS_METRIC,
      statistic: 'Sum',
      period: FIVE_MINUTES,
      ...options,
    });
  }

  /** Runs (opens and closes) that ended in `outcome` (Sum over 5 minutes unless told otherwise). */
  metricOpenings(outcome: OpeningOutcome, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: OPENINGS_METRIC,
      dimensionsMap: { Outcome: outcome },
      statistic: 'Sum',
      period: FIVE_MINUTES,
      label: outcome,
      ...options,
    });
  }

  /** Time from the opening request to its `OPENED` record, in ms (p50 over 5 minutes unless told otherwise). */
  metricTimeToConfirm(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: TIME_TO_CONFIRM_METRIC,
      statistic: 'p50',
      period: FIVE_MINUTES,
      unit: cloudwatch.Unit.MILLISECONDS,
      ...options,
    });
  }
}
