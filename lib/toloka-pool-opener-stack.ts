import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type AppConfig, toOpenerProps } from './config.ts';

const present = <T>(value: T | null | undefined): value is T => value !== undefined && value !== null;

import { TolokaPoolOpener } from './toloka-pool-opener.ts';

/** The stack ID of a deployment: `TolokaPoolOpener`, or `TolokaPoolOpener-<deployment>` when named. */
export function stackIdOf(deployment: string | undefined): string {
  return deployment === undefined ? 'TolokaPoolOpener' : `TolokaPoolOpener-${deployment}`;
}

/** Properties of {@link TolokaPoolOpenerStack}. */
export interface TolokaPoolOpenerStackProps extends StackProps {
  /** The validated app configuration (`loadConfig` / `parseConfig` in `lib/config.ts`). */
  readonly config: AppConfig;
}

/**
 * The deployable app: a {@link TolokaPoolOpener} configured from the configuration file (its
 * alarms mailed to `alarmEmail` when set), and outputs for operators.
 */
export class TolokaPoolOpenerStack extends Stack {
  readonly opener: TolokaPoolOpener;
  /** Every alarm notifies this topic (the construct's); `alarmEmail` is subscribed to it when set. */
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: TolokaPoolOpenerStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: 'Opens Toloka pools on a schedule or on request and follows the open operations',
      ...stackProps,
    });

    const tokenKey =
      config.tokenKeyArn === undefined || config.tokenKeyArn === null
        ? undefined
        : kms.Key.fromKeyArn(this, 'TokenKey', config.tokenKeyArn);
    this.opener = new TolokaPoolOpener(this, 'Toloka', {
      ...toOpenerProps(config),
      // Alarm and dashboard names follow from the stack name; the metrics need a namespace of
      // their own, or the alarms of two deployments in one account would count each other's.
      ...(present(config.deployment) ? { metricNamespace: `TolokaPoolOpener/${config.deployment}` } : {}),
      ...(tokenKey === undefined ? {} : { tokenKey }),
    });

    this.alarmTopic = this.opener.alarmTopic;

    new CfnOutput(this, 'TriggerQueueUrl', {
      description: 'Send {"poolId": "<id>"} or {"trainingId": "<id>"} here to open a pool now',
      value: this.opener.triggerQueue.queueUrl,
    });
    new CfnOutput(this, 'TriggerDeadLetterQueueUrl', {
      description: 'Failed openings (trigger messages, async invocations, schedule deliveries)',
      value: this.opener.triggerDeadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'CheckQueueUrl', {
      description: 'Delayed operation-check messages',
      value: this.opener.checkQueue.queueUrl,
    });
    new CfnOutput(this, 'CheckDeadLetterQueueUrl', {
      description: 'Operation checks that failed repeatedly',
      value: this.opener.checkDeadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'OpenerFunctionName', {
      description: 'The function that opens pools',
      value: this.opener.opener.functionName,
    });
    new CfnOutput(this, 'OpeningsTableName', {
      description: 'The openings ledger: `npx toloka-pool openings --table <this>` lists recent openings',
      value: this.opener.openingsTable.tableName,
    });
    new CfnOutput(this, 'CheckerFunctionName', {
      description: 'The function that follows open operations',
      value: this.opener.checker.functionName,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Every alarm notifies this SNS topic: subscribe to it (email, chat, on-call tool)',
      value: this.alarmTopic.topicArn,
    });
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of the openings, queues, functions and alarms',
      value: this.opener.dashboard.dashboardName,
    });
    if (this.opener.scheduleGroup !== undefined) {
      new CfnOutput(this, 'ScheduleGroupName', {
        description: 'EventBridge Scheduler group holding the opening schedules',
        value: this.opener.scheduleGroup.scheduleGroupName,
      });
    }
  }
}
