import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type AppConfig, toOpenerProps } from './config.ts';
import { TolokaPoolOpener } from './toloka-pool-opener.ts';

/** Properties of {@link TolokaPoolOpenerStack}. */
export interface TolokaPoolOpenerStackProps extends StackProps {
  /** The validated app configuration (`loadConfig` / `parseConfig` in `lib/config.ts`). */
  readonly config: AppConfig;
}

/**
 * The deployable app: a {@link TolokaPoolOpener} configured from the configuration file,
 * alarms on its dead-letter queues (mailed to `alarmEmail` when set), and outputs for operators.
 */
export class TolokaPoolOpenerStack extends Stack {
  readonly opener: TolokaPoolOpener;
  /** Receives the dead-letter queue alarms; undefined unless `alarmEmail` is set. */
  readonly alarmTopic?: sns.Topic;

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
      ...(tokenKey === undefined ? {} : { tokenKey }),
    });

    if (config.alarmEmail !== undefined && config.alarmEmail !== null) {
      // enforceSSL (cdk-nag AwsSolutions-SNS3) gives the topic a policy of its own, which replaces
      // SNS's default one; the alarms are allowed to publish below.
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'Toloka pool opener alarms',
        enforceSSL: true,
      });
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }
    const dlqAlarm = (name: string, queue: sqs.IQueue, what: string) => {
      const alarm = queue
        .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
        .createAlarm(this, `${name}Alarm`, {
          alarmDescription: `${what} are waiting in the ${name} dead-letter queue: inspect them, then redrive or delete`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
      if (this.alarmTopic !== undefined)
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));
      return alarm;
    };
    const alarms = [
      dlqAlarm('TriggerDeadLetterQueue', this.opener.triggerDeadLetterQueue, 'Openings that failed'),
      dlqAlarm('CheckDeadLetterQueue', this.opener.checkDeadLetterQueue, 'Operation checks that failed'),
    ];
    // CloudWatch publishes alarm notifications as cloudwatch.amazonaws.com, which needs the topic
    // policy to allow it: only these alarms, only in this account.
    this.alarmTopic?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowDeadLetterQueueAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': alarms.map((alarm) => alarm.alarmArn) },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );

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
    new CfnOutput(this, 'CheckerFunctionName', {
      description: 'The function that follows open operations',
      value: this.opener.checker.functionName,
    });
    if (this.opener.scheduleGroup !== undefined) {
      new CfnOutput(this, 'ScheduleGroupName', {
        description: 'EventBridge Scheduler group holding the opening schedules',
        value: this.opener.scheduleGroup.scheduleGroupName,
      });
    }
  }
}
