/**
 * The EventBridge Scheduler side of the {@link TolokaPoolOpener}: one schedule group, the role
 * Scheduler sends with, and one schedule per configured schedule. Each schedule sends its trigger
 * to the trigger queue, not to the opener: the queue's event source mapping is what bounds how many
 * openers run at once (and so the Toloka requests they make), however many schedules fire at the
 * same minute (docs/reliability.md, "A busy morning").
 */
import { Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Settings } from './opener-settings.ts';

export interface OpeningSchedulesProps {
  /** Where each occurrence goes: the opener's trigger queue. */
  readonly triggerQueue: sqs.IQueue;
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
  // so that it belongs to this construct. Same trust as that
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
    description: 'Lets the Toloka pool opener schedules send to the trigger queue and its DLQ',
  });
  const schedules = props.schedules.map((schedule) => {
    // One occurrence is one trigger, however often Scheduler and SQS deliver it: the schedule's
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
      target: new targets.SqsSendMessage(props.triggerQueue, {
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
    // the schedule (and Scheduler send) before the role may send to the queue or use the DLQ.
    // The group is named explicitly too, though the reference already orders it.
    created.node.addDependency(group, role);
    return created;
  });
  return { group, schedules };
}
