/**
 * The EventBridge Scheduler side of the {@link TolokaPoolOpener}: one schedule group, the role
 * Scheduler invokes the opener with, and one schedule per configured schedule.
 */
import { CfnResource, Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Settings } from './opener-settings.ts';

export interface OpeningSchedulesProps {
  readonly opener: lambda.IFunction;
  /** Where Scheduler puts an invocation it could not deliver (the trigger DLQ). */
  readonly deadLetterQueue: sqs.IQueue;
  readonly schedules: Settings['schedules'];
}

/**
 * Adds the schedule group, the Scheduler role and the schedules to `scope` (directly, so that
 * their logical IDs stay those of earlier versions and an update replaces nothing).
 */
export function addOpeningSchedules(
  scope: Construct,
  props: OpeningSchedulesProps,
): { group: scheduler.ScheduleGroup; schedules: scheduler.Schedule[] } {
  // DESTROY rather than CDK's default RETAIN: the group's name follows from the stack, so a
  // group left behind by `cdk destroy` would make the next deploy of the stack fail on
  // "already exists". Deleting the group deletes its schedules, which the stack owns anyway.
  const group = new scheduler.ScheduleGroup(scope, 'ScheduleGroup', {
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // The construct's own role rather than the stack-level one aws-scheduler-targets would create,
  // so that it (and its cdk-nag acknowledgment) belongs to this construct. Same trust as that
  // one: Scheduler, for this account and this schedule group only.
  const role = new iam.Role(scope, 'SchedulerRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: {
          'aws:SourceAccount': Stack.of(scope).account,
          'aws:SourceArn': group.scheduleGroupArn,
        },
      },
    }),
    description: 'Lets the Toloka pool opener schedules invoke the opener and use the trigger DLQ',
  });
  const schedules = props.schedules.map((schedule) => {
    // One occurrence is one trigger, however often Scheduler and Lambda retry it: the schedule's
    // ARN and the time it was meant for (the execution ID is new on every attempt). Scheduler
    // replaces the keywords inside the string too; its dead letter keeps the body, so a redrive
    // to the trigger queue is the same trigger.
    const triggerId = `${scheduler.ContextAttribute.scheduleArn}@${scheduler.ContextAttribute.scheduledTime}`;
    // The occurrence goes with it: the time it was meant for (a trigger later than
    // maxLatenessMinutes is skipped, and so is a date of a calendar it skips, read in its zone).
    const input = {
      ...(schedule.poolId !== undefined ? { poolId: schedule.poolId } : { trainingId: schedule.trainingId }),
      action: schedule.action,
      triggerId,
      scheduledTime: scheduler.ContextAttribute.scheduledTime,
      maxLatenessMinutes: schedule.maxLatenessMinutes,
      ...(Object.keys(schedule.skipDates).length === 0
        ? {}
        : { timeZone: schedule.timeZone, skip: schedule.skipDates }),
    };
    const what =
      schedule.poolId !== undefined ? `pool ${schedule.poolId}` : `training ${schedule.trainingId}`;
    const verb = schedule.action === 'close' ? 'Close' : 'Open';
    const created = new scheduler.Schedule(scope, `Schedule-${schedule.name}`, {
      scheduleName: schedule.name,
      scheduleGroup: group,
      description: `${verb} Toloka ${what} at ${schedule.expression} (${schedule.timeZone})`,
      schedule: scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timeZone)),
      target: new targets.LambdaInvoke(props.opener, {
        input: scheduler.ScheduleTargetInput.fromObject(input),
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
        deadLetterQueue: props.deadLetterQueue,
        role,
      }),
      enabled: schedule.enabled ?? true,
      timeWindow:
        schedule.flexibleWindow === undefined
          ? scheduler.TimeWindow.off()
          : scheduler.TimeWindow.flexible(schedule.flexibleWindow),
      ...(schedule.startDate === undefined ? {} : { start: schedule.startDate }),
      ...(schedule.endDate === undefined ? {} : { end: schedule.endDate }),
    });
    // The schedule refers to the role, not to its policy: without this, CloudFormation may create
    // the schedule (and Scheduler invoke the opener) before the role may invoke it or use the DLQ.
    // The group is named explicitly too, though the reference already orders it.
    created.node.addDependency(group, role);
    return created;
  });
  acknowledgeOpenerQualifierWildcard(role, props.opener);
  return { group, schedules };
}

/**
 * cdk-nag AwsSolutions-IAM5: `LambdaInvoke` grants `lambda:InvokeFunction` on the opener's ARN and
 * on `<opener ARN>:*` (`grantInvoke` always adds the qualified form). The finding names the
 * function's logical ID, so it is computed here; if that ID is later overridden, the finding
 * comes back instead of staying silently acknowledged.
 */
function acknowledgeOpenerQualifierWildcard(role: iam.Role, opener: lambda.IFunction): void {
  const cfnFunction = opener.node.defaultChild;
  if (!CfnResource.isCfnResource(cfnFunction)) throw new Error('the opener has no CloudFormation function');
  const openerId = Stack.of(cfnFunction).getLogicalId(cfnFunction);
  // The finding is on the role's default policy (which holds the grant), so acknowledge it there.
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof iam.Policy)) throw new Error('the Scheduler role has no default policy');
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${openerId}.Arn>:*]`,
    reason:
      'The wildcard only matches qualified ARNs (versions and aliases) of the one opener function, ' +
      'which grantInvoke adds next to the unqualified ARN that Scheduler invokes; no other function is reachable.',
  });
}
