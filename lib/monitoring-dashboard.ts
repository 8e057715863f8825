/** The dashboard of a TolokaPoolOpener, row by row (lib/monitoring.ts builds it). */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { FIVE_MINUTES, OPENING_OUTCOMES, OPERATIONS_DOC, type OpeningOutcome } from './monitoring-metrics.ts';
import type { MonitoringProps } from './monitoring-props.ts';

/** What the dashboard shows of the monitoring (./monitoring.ts): its metrics and its alarms. */
export interface DashboardMetrics {
  metricOpenings(outcome: OpeningOutcome, options?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  metricTimeToConfirm(options?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/** The dashboard, row by row: outcomes, time to confirm, queues, functions, alarms, latest records. */
export function dashboardRows(monitoring: DashboardMetrics, props: MonitoringProps): cloudwatch.IWidget[] {
  const openings = OPENING_OUTCOMES.map((outcome) => monitoring.metricOpenings(outcome));
  const functions = [
    { fn: props.opener, label: 'opener' },
    { fn: props.checker, label: 'checker' },
  ];
  /** One graph with the same Lambda metric (Sum per 5 minutes) of both functions. */
  const perFunction = (
    title: string,
    metric: (fn: lambda.IFunction, options: cloudwatch.MetricOptions) => cloudwatch.IMetric,
  ) =>
    new cloudwatch.GraphWidget({
      title,
      width: 6,
      height: 6,
      left: functions.map(({ fn, label }) => metric(fn, { label, period: FIVE_MINUTES, statistic: 'Sum' })),
      leftYAxis: { min: 0 },
    });
  const thresholdLine = (value: number, text: string): cloudwatch.HorizontalAnnotation => ({
    value,
    label: text,
    color: cloudwatch.Color.RED,
  });

  return [
    new cloudwatch.TextWidget({
      markdown:
        '# Toloka pool opener\n' +
        'Every opening ends in one outcome record; the metrics below are taken from those records ' +
        `(namespace \`${props.metricNamespace}\`). What each alarm means and what to do: \`${OPERATIONS_DOC}\`.`,
      width: 24,
      height: 2,
    }),
    new cloudwatch.Row(
      new cloudwatch.GraphWidget({
        title: 'Openings by outcome (per 5 minutes)',
        width: 12,
        height: 6,
        left: openings,
        stacked: true,
        leftYAxis: { min: 0, label: 'openings', showUnits: false },
      }),
      new cloudwatch.SingleValueWidget({
        title: 'Openings by outcome (time range)',
        width: 6,
        height: 6,
        metrics: openings,
        setPeriodToTimeRange: true,
      }),
      new cloudwatch.GraphWidget({
        title: 'Time to confirm an opening (OPENED)',
        width: 6,
        height: 6,
        left: [
          monitoring.metricTimeToConfirm({ statistic: 'p50', label: 'p50' }),
          monitoring.metricTimeToConfirm({ statistic: 'p90', label: 'p90' }),
          monitoring.metricTimeToConfirm({ statistic: 'Maximum', label: 'max' }),
        ],
        leftYAxis: { min: 0, label: 'ms', showUnits: false },
      }),
    ),
    new cloudwatch.Row(
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        width: 8,
        height: 6,
        left: [
          props.triggerQueue.metricApproximateNumberOfMessagesVisible({
            label: 'trigger: waiting',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          props.triggerQueue.metricApproximateNumberOfMessagesNotVisible({
            label: 'trigger: being processed',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          props.checkQueue.metricApproximateNumberOfMessagesVisible({
            label: 'check: due',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          props.checkQueue.metricApproximateNumberOfMessagesDelayed({
            label: 'check: delayed (openings being followed)',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
        ],
        leftYAxis: { min: 0 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Age of the oldest message',
        width: 8,
        height: 6,
        left: [
          props.triggerQueue.metricApproximateAgeOfOldestMessage({
            label: 'trigger queue',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          props.checkQueue.metricApproximateAgeOfOldestMessage({
            label: 'check queue',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
        ],
        leftYAxis: { min: 0, label: 'seconds', showUnits: false },
        leftAnnotations:
          props.triggerQueueAgeAlarmThreshold === undefined
            ? []
            : [thresholdLine(props.triggerQueueAgeAlarmThreshold.toSeconds(), 'trigger queue alarm')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues',
        width: 8,
        height: 6,
        left: [
          props.triggerDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: 'trigger DLQ',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          props.checkDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: 'check DLQ',
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
        ],
        leftYAxis: { min: 0 },
      }),
    ),
    new cloudwatch.Row(
      perFunction('Invocations', (fn, options) => fn.metricInvocations(options)),
      perFunction('Errors', (fn, options) => fn.metricErrors(options)),
      new cloudwatch.GraphWidget({
        title: 'Duration (p50, max)',
        width: 6,
        height: 6,
        left: functions.flatMap(({ fn, label: fnLabel }) => [
          fn.metricDuration({ label: `${fnLabel} p50`, period: FIVE_MINUTES, statistic: 'p50' }),
          fn.metricDuration({ label: `${fnLabel} max`, period: FIVE_MINUTES, statistic: 'Maximum' }),
        ]),
        leftYAxis: { min: 0, label: 'ms', showUnits: false },
        leftAnnotations: [thresholdLine(props.functionTimeout.toMilliseconds(), 'time-out')],
      }),
      perFunction('Throttles', (fn, options) => fn.metricThrottles(options)),
    ),
    new cloudwatch.Row(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 24,
        height: 3,
        alarms: [...monitoring.alarms],
      }),
    ),
    new cloudwatch.Row(
      new cloudwatch.LogQueryWidget({
        title: 'Latest outcome records',
        width: 24,
        height: 8,
        logGroupNames: [props.openerLogGroup.logGroupName, props.checkerLogGroup.logGroupName],
        queryLines: [
          'fields @timestamp, outcome, poolId, trainingId, code, elapsedMs, checks',
          'filter ispresent(outcome)',
          'sort @timestamp desc',
          'limit 50',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
      }),
    ),
  ];
}
