/**
 * `toloka-pool close` against the emulator, and `toloka-pool schedule` on a configuration file,
 * run as a user runs them (a child process of the launcher).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import { localDateOf } from '../../lambda/runtime/schedule-rules.ts';
import { type Run, runNode } from '../support/child-run.ts';

const TOKEN = 'cli-close-token-7Hd2kQ';
const emulator = new TolokaEmulator({ tokens: [TOKEN] });
let origin = '';
const DAY = 86_400_000;

beforeAll(async () => {
  origin = await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
});

async function toloka(args: string[]): Promise<Run> {
  const run = await runNode(['cli/toloka-pool.mjs', ...args], {
    PATH: process.env.PATH ?? '',
    NO_COLOR: '1',
    TOLOKA_TOKEN: TOKEN,
  });
  expect(run.stdout + run.stderr).not.toContain(TOKEN);
  return run;
}

describe.concurrent('toloka-pool close', { timeout: 60_000 }, () => {
  it('closes an open pool with --wait: exit 0, CLOSED with action close', async () => {
    emulator.setPool('5101', { status: 'OPEN', closeDurationMs: 1_200 });
    const run = await toloka(['close', '5101', '--wait', '--json', '--api-url', origin]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'CLOSED', action: 'close', poolId: '5101' });
    expect(run.stderr).toContain('pool 5101: closing on');
    expect(emulator.getPoolState('5101')?.status).toBe('CLOSED');
  });

  it('says a closed pool was already closed (204): exit 0', async () => {
    emulator.setPool('5102', { status: 'CLOSED' });
    const run = await toloka(['close', '5102', '--api-url', origin]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('pool 5102 was already closed');
  });

  it('starts a close without --wait: PENDING, naming the operation and how to follow it', async () => {
    emulator.setPool('5103', { status: 'OPEN', closeDurationMs: 600_000 });
    const run = await toloka(['close', '5103', '--api-url', origin]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^pool 5103: closing started, operation [0-9a-f-]{36}/);
    expect(run.stdout).toContain('(or close with --wait to wait here)');
  });

  it('exits 4 when Toloka refuses to close (409), with its code', async () => {
    emulator.setPool('5104', { status: 'ARCHIVED' });
    const run = await toloka(['close', '5104', '--api-url', origin]);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^toloka-pool: pool 5104 not closed: /m);
  });
});

/** Noon UTC of the first day after `fromMs` on which `zone`'s UTC offset differs from the day before. */
function nextChange(zone: string, fromMs: number): number {
  const offset = (ms: number) =>
    new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(ms)
      .find((part) => part.type === 'timeZoneName')?.value;
  const start = Math.floor(fromMs / DAY) * DAY + DAY / 2;
  for (let day = start; day < start + 400 * DAY; day += DAY)
    if (offset(day) !== offset(day - DAY)) return day;
  throw new Error('no change');
}

describe('toloka-pool schedule', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'schedule-cli-'));
  const change = nextChange('Europe/Berlin', Date.now());
  const from = new Date(Math.floor((change - 4 * DAY) / DAY) * DAY).toISOString();
  // A weekday a few days after the change is the holiday.
  let holidayMs = change + 2 * DAY;
  while ([0, 6].includes(new Date(holidayMs).getUTCDay())) holidayMs += DAY;
  const holiday = localDateOf(holidayMs, 'Europe/Berlin');
  const file = path.join(dir, 'window.jsonc');
  writeFileSync(
    file,
    JSON.stringify({
      environment: 'sandbox',
      tokenParameterName: '/toloka/api-token',
      calendars: { holidays: [holiday] },
      pools: [
        {
          poolId: '1001',
          schedules: [
            {
              name: 'office',
              window: {
                open: 'cron(0 9 ? * MON-FRI *)',
                close: 'cron(0 18 ? * MON-FRI *)',
                timeZone: 'Europe/Berlin',
              },
              skip: ['holidays'],
            },
          ],
        },
      ],
    }),
  );

  it('lists both schedules of a window in local time and UTC, marking the daylight-saving change and the holiday', async () => {
    const run = await toloka(['schedule', '-c', file, '--from', from, '--count', '8']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      'office-open: open pool 1001 at cron(0 9 ? * MON-FRI *) (Europe/Berlin, skips holidays)',
    );
    expect(run.stdout).toContain(
      'office-close: close pool 1001 at cron(0 18 ? * MON-FRI *) (Europe/Berlin, skips holidays)',
    );
    const runs = run.stdout.split('\n').filter((line) => /^ {2}\d{4}-/.test(line));
    expect(runs).toHaveLength(16);
    for (const line of runs)
      expect(line).toMatch(
        /^ {2}\d{4}-\d{2}-\d{2} (09|18):00 \+0[12]:00 {2}= {2}\d{4}-\d{2}-\d{2}T\d{2}:00:00Z/,
      );
    expect(runs.filter((line) => line.includes('daylight saving'))).toHaveLength(2);
    expect(runs.filter((line) => line.includes('skipped: a date of holidays'))).toEqual([
      expect.stringContaining(`${holiday} 09:00`),
      expect.stringContaining(`${holiday} 18:00`),
    ]);
  });

  it('--json: each schedule with its runs, local, UTC and the calendar that skips one', async () => {
    const run = await toloka(['schedule', '-c', file, '--from', from, '--count', '8', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { schedules } = JSON.parse(run.stdout) as {
      schedules: Array<{
        name: string;
        action: string;
        runs: Array<{ local: string; utc: string; skippedBy?: string }>;
      }>;
    };
    expect(schedules.map((s) => [s.name, s.action])).toEqual([
      ['office-open', 'open'],
      ['office-close', 'close'],
    ]);
    for (const schedule of schedules) {
      for (const entry of schedule.runs) expect(Date.parse(entry.local)).toBe(Date.parse(entry.utc));
      expect(schedule.runs.filter((entry) => entry.skippedBy === 'holidays')).toHaveLength(1);
    }
  });

  it('exits 2 for a bad --count or --from, and for a configuration with problems, naming them', async () => {
    const count = await toloka(['schedule', '-c', file, '--count', '0']);
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--count: must be a whole number from 1 to 100');
    const fromRun = await toloka(['schedule', '-c', file, '--from', 'tomorrow']);
    expect(fromRun.code).toBe(2);
    expect(fromRun.stderr).toContain('--from: must be an ISO 8601 instant');
    const bad = path.join(dir, 'bad.jsonc');
    writeFileSync(
      bad,
      JSON.stringify({
        environment: 'sandbox',
        tokenParameterName: '/t',
        pools: [
          { poolId: '1', schedules: [{ window: { open: 'cron(0 9 * * ? *)', close: 'cron(0 9 * * ? *)' } }] },
        ],
      }),
    );
    const invalid = await toloka(['schedule', '-c', bad]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('pools[0].schedules[0].window: open and close both fire at');
  });
});
