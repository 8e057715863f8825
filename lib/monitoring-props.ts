/** What a TolokaPoolOpener hands its monitoring (./monitoring.ts) and its dashboard (./monitoring-dashboard.ts). */
import type { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/** Properties of {@link OpenerMonitoring}: the parts of a TolokaPoolOpener it watches, and its settings. */
export interface MonitoringProps {
  readonly opener: lambda.IFunction;
  readonly checker: lambda.IFunction;
  readonly openerLogGroup: logs.ILogGroup;
  readonly checkerLogGroup: logs.ILogGroup;
  readonly triggerQueue: sqs.IQueue;
  readonly checkQueue: sqs.IQueue;
  readonly triggerDeadLetterQueue: sqs.IQueue;
  readonly checkDeadLetterQueue: sqs.IQueue;
  /** The functions' time-out: the duration graph draws it as a line. */
  readonly functionTimeout: Duration;
  /** CloudWatch namespace of the metrics taken from the outcome records. */
  readonly metricNamespace: string;
  /** Subscribed to the alarm topic (email) when set. */
  readonly alarmEmail: string | undefined;
  /** Alarm when the trigger queue's oldest message is older than this; undefined: no such alarm. */
  readonly triggerQueueAgeAlarmThreshold: Duration | undefined;
  /** Name of the dashboard; undefined: CloudFormation generates one. */
  readonly dashboardName: string | undefined;
  /** Prefix of the alarm names (`<prefix>-failed-openings`); undefined: CloudFormation generates them. */
  readonly alarmNamePrefix: string | undefined;
}
