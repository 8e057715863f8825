/**
 * `toloka-pool schedule -c <config>`: each schedule's next runs, in its own time zone and in UTC,
 * with the action and the pool, the runs its calendars skip marked, and the UTC offset of each run
 * so that a daylight-saving change shows where Scheduler applies it. Nothing is called: the plan
 * comes from the configuration alone (lib/schedule-occurrences.ts fires cron as Scheduler does).
 */

import { localDateOf } from '../lambda/runtime/schedule-rules.ts';
import type { AppConfig } from '../lib/config.ts';
import { toOpenerProps } from '../lib/config.ts';
import { resolveTolokaPoolOpenerProps } from '../lib/opener-settings.ts';
import { nextOccurrences, numericDayOfWeekWarning } from '../lib/schedule-occurrences.ts';
import type { CommandResult } from './io.ts';

export interface ScheduleOptions {
  readonly file: string;
  readonly config: AppConfig;
  /** How many runs of each schedule. */
  readonly count: number;
  /** Runs after this instant (epoch ms). */
  readonly fromMs: number;
}

interface PlannedRun {
  /** Wall-clock time in the schedule's zone, with its offset: `2027-03-29T09:00:00+02:00`. */
  readonly local: string;
  readonly utc: string;
  /** The calendar that skips it, if one does. */
  readonly skippedBy?: string;
}

/** The UTC offset of a zone at an instant: `+02:00`. */
function offsetAt(ms: number, timeZone: string): string {
  const name =
    new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
      .formatToParts(ms)
      .find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  const offset = name.replace('GMT', '');
  return offset === '' ? '+00:00' : offset;
}

function localTime(ms: number, timeZone: string): string {
  // sv-SE writes `2027-03-29 09:00:00`.
  return `${new Date(ms).toLocaleString('sv-SE', { timeZone }).replace(' ', 'T')}${offsetAt(ms, timeZone)}`;
}

export function scheduleCommand(options: ScheduleOptions): CommandResult {
  const { settings } = resolveTolokaPoolOpenerProps(toOpenerProps(options.config), {
    now: new Date(options.fromMs),
  });
  const schedules = settings.schedules.map((schedule) => {
    const runs: PlannedRun[] = nextOccurrences(
      {
        expression: schedule.expression,
        timeZone: schedule.timeZone,
        ...(schedule.startDate === undefined ? {} : { startDate: schedule.startDate }),
        ...(schedule.endDate === undefined ? {} : { endDate: schedule.endDate }),
      },
      options.fromMs,
      options.count,
    ).map((at) => {
      const date = localDateOf(at, schedule.timeZone);
      const skippedBy = Object.entries(schedule.skipDates).find(([, dates]) => dates.includes(date))?.[0];
      return {
        local: localTime(at, schedule.timeZone),
        utc: new Date(at).toISOString().replace('.000Z', 'Z'),
        ...(skippedBy === undefined ? {} : { skippedBy }),
      };
    });
    const warning = numericDayOfWeekWarning(schedule.expression);
    const target =
      schedule.poolId !== undefined ? `pool ${schedule.poolId}` : `training ${schedule.trainingId}`;
    return {
      target,
      name: schedule.name,
      action: schedule.action,
      ...(schedule.poolId !== undefined ? { poolId: schedule.poolId } : { trainingId: schedule.trainingId }),
      expression: schedule.expression,
      timeZone: schedule.timeZone,
      enabled: schedule.enabled ?? true,
      skip: Object.keys(schedule.skipDates),
      maxLatenessMinutes: schedule.maxLatenessMinutes,
      ...(warning === undefined ? {} : { warning }),
      runs,
    };
  });
  const lines = [
    `${options.file}: ${schedules.length} schedule${schedules.length === 1 ? '' : 's'}, the next ${options.count} runs of each`,
  ];
  for (const schedule of schedules) {
    const { target } = schedule;
    const skip = schedule.skip.length === 0 ? '' : `, skips ${schedule.skip.join(', ')}`;
    const off = schedule.enabled ? '' : ' (disabled: it never runs)';
    lines.push(
      '',
      `${schedule.name}: ${schedule.action} ${target} at ${schedule.expression} (${schedule.timeZone}${skip})${off}`,
    );
    if (schedule.warning !== undefined) lines.push(`  warning: ${schedule.warning}`);
    let offset: string | undefined;
    for (const run of schedule.runs) {
      const runOffset = run.local.slice(19);
      const changed =
        offset !== undefined && runOffset !== offset ? `   (UTC${runOffset} from here: daylight saving)` : '';
      offset = runOffset;
      const skipped = run.skippedBy === undefined ? '' : `   skipped: a date of ${run.skippedBy}`;
      lines.push(
        `  ${run.local.slice(0, 16).replace('T', ' ')} ${runOffset}  =  ${run.utc}${skipped}${changed}`,
      );
    }
    if (schedule.runs.length === 0) lines.push('  no run ahead (an at() that has passed, or an end date)');
  }
  return { kind: 'success', json: { schedules }, text: lines.join('\n') };
}
