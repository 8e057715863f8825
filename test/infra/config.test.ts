import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { InvalidConfigurationError, loadConfig, parseConfig, toOpenerProps } from '../../lib/config.ts';
import { atOf, dateOf, expandDates } from '../support/dated-fixtures.ts';
import { FIXTURES, fixturePath, NOW, REPO_ROOT } from './support.ts';

/** The problems a configuration is rejected with (fails the test if it is accepted). */
function problemsOf(raw: unknown): readonly string[] {
  try {
    parseConfig(raw, 'test.json');
  } catch (error) {
    if (error instanceof InvalidConfigurationError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

const valid = { environment: 'sandbox', tokenParameterName: '/toloka/api-token' };
const withSchedule = (schedule: object) => ({ ...valid, pools: [{ poolId: '1', schedules: [schedule] }] });

describe('loadConfig', () => {
  it('accepts the example configuration and names its unnamed schedules after their targets', () => {
    const config = loadConfig(path.join(REPO_ROOT, 'config/example.jsonc'));
    expect(config.environment).toBe('sandbox');
    expect(config.tokenParameterName).toBe('/toloka/sandbox/api-token');
    const names = (config.pools ?? []).flatMap((pool) => pool.schedules.map((s) => s.name));
    expect(names).toEqual(['office-hours', 'nightly-close', 'training-98765-1']);
    // The window is the pair; the calendar its schedules skip comes with them.
    const props = toOpenerProps(config);
    expect(props.schedules?.map((s) => [s.name, s.action ?? 'open', s.expression, s.skip])).toEqual([
      ['office-hours-open', 'open', 'cron(0 9 ? * MON-FRI *)', ['holidays']],
      ['office-hours-close', 'close', 'cron(0 18 ? * MON-FRI *)', ['holidays']],
      ['nightly-close', 'close', 'cron(0 23 * * ? *)', undefined],
      ['training-98765-1', 'open', 'cron(0 8 ? * MON#1 *)', undefined],
    ]);
    expect(Object.keys(props.calendars ?? {})).toEqual(['holidays']);
  });

  it('reports every problem of a bad file at once, each naming its field', () => {
    const file = fixturePath('invalid.json');
    let error: unknown;
    try {
      loadConfig(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    const message = (error as Error).message;
    const [first, ...lines] = message.split('\n');
    expect(first).toBe(`Invalid configuration in ${file}:`);
    const expected = [
      'region: unknown key',
      'environment: must be "production" or "sandbox" (got "staging")',
      'tokenParameterName: "toloka/api-token" contains "/" so it must start with "/"',
      'apiUrl: "ftp://toloka.example.com" must use https:',
      'poll.jitter: unknown key',
      'poll.deadlineSeconds: 86400 s is out of range (1..43200 s)',
      'poll.minDelaySeconds: must be an integer (got 2.5)',
      'poll.maxDelaySeconds: 1200 s is out of range (1..900 s)',
      'poll.backoffFactor: 0.5 is out of range (1..10)',
      'pools[0].poolId: must be a string of digits (got 123456)',
      'pools[0].schedules[0].name: "every day" must be 1-64 characters',
      'pools[0].schedules[0].expression: "cron(0 9 * * MON-FRI *)" must have "?" in exactly one of day-of-month and day-of-week',
      'pools[0].schedules[0].timeZone: "Mars/Base" is not an IANA time zone',
      'pools[0].schedules[1].expression: "rate(1 hours)" must use the singular unit',
      'pools[0].schedules[1].flexibleWindowMinutes: 0 min is out of range (1..1440 min)',
      `pools[0].schedules[1].startDate: "${expandDates('{now+30d:date}', NOW)}" must be an ISO 8601 instant with a zone`,
      'pools[1]: give exactly one of poolId and trainingId',
      'pools[1].schedules: must have at least one schedule',
      'pools[2].schedules[0].expression: "at(2099-02-30T08:00:00)" is not a valid date and time',
      'pools[2].schedules[0].startDate: has no effect on a one-time at() schedule',
      'pools[2].schedules[1].name: "dup" is already used by pools[2].schedules[0].name',
      'pools[2].schedules[1].enabled: must be true or false (got "yes")',
      'logRetentionDays: must be one of 1, 3, 5, 7, 14, 30,',
      'alarmEmail: "not-an-email" is not an email address',
      'outcomeEvents: must be true or false (got "yes")',
      'tolokaRequestsPerSecond: 500 is out of range (10..300)',
    ];
    // One line per problem, in file order.
    expect(lines).toHaveLength(expected.length);
    expected.forEach((problem, i) => {
      expect(lines[i]?.startsWith(` - ${problem}`), `line ${i}: ${lines[i]}\nexpected: ${problem}`).toBe(
        true,
      );
    });
  });

  it('reads comments and trailing commas, as the example configuration has them', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'config/example.jsonc'), 'utf8');
    expect(text).toMatch(/^\s*\/\/ /m);
    expect(loadConfig(path.join(REPO_ROOT, 'config/example.jsonc')).pools).toHaveLength(2);
  });

  it('names the file when it is missing or not JSON', () => {
    expect(() => loadConfig(path.join(FIXTURES, 'does-not-exist.json'))).toThrow(
      /^Invalid configuration in .*does-not-exist\.json:\n - \(file\): cannot read it/,
    );
    expect(() => loadConfig(path.join(REPO_ROOT, 'lib/config.ts'))).toThrow(
      /^Invalid configuration in .*config\.ts:\n - \(file\): InvalidSymbol at line 1, column 1/,
    );
    expect(() => parseConfig('just a string', 'x.json')).toThrow(
      /^Invalid configuration in x\.json:\n - \(root\): must be a JSON object/,
    );
  });
});

describe('parseConfig', () => {
  it('requires the environment and the token parameter name', () => {
    expect(problemsOf({})).toEqual(['environment: is required', 'tokenParameterName: is required']);
    expect(problemsOf({ environment: null, tokenParameterName: '' })).toEqual([
      'environment: is required',
      'tokenParameterName: is required',
    ]);
  });

  it('rejects unknown keys at every level', () => {
    expect(
      problemsOf({
        ...valid,
        extra: 1,
        poll: { deadline: 60 },
        pools: [{ poolId: '1', pool: '1', schedules: [{ expression: 'rate(1 day)', tz: 'UTC' }] }],
      }),
    ).toEqual([
      expect.stringMatching(
        /^extra: unknown key \(allowed here: deployment, environment, tokenParameterName, /,
      ),
      expect.stringMatching(/^poll\.deadline: unknown key/),
      expect.stringMatching(/^pools\[0\]\.pool: unknown key/),
      expect.stringMatching(/^pools\[0\]\.schedules\[0\]\.tz: unknown key/),
    ]);
  });

  it('treats null as an absent optional value', () => {
    const config = parseConfig(
      {
        ...valid,
        apiUrl: null,
        alarmEmail: null,
        tokenKeyArn: null,
        poll: null,
        pools: null,
        logRetentionDays: null,
        outcomeEvents: null,
      },
      'test.json',
    );
    expect(config).toEqual({ ...valid, pools: [] });
  });

  it('checks SSM parameter names the way SSM does', () => {
    expect(problemsOf({ ...valid, tokenParameterName: '/toloka//token/' })).toEqual([
      'tokenParameterName: "/toloka//token/" has an empty path segment (no "//" and no trailing "/")',
    ]);
    expect(problemsOf({ ...valid, tokenParameterName: '/toloka/api token' })).toEqual([
      'tokenParameterName: "/toloka/api token" may contain only letters, digits and _ . - / (SSM parameter name)',
    ]);
    expect(problemsOf({ ...valid, tokenParameterName: 'ssm-token' })).toEqual([
      'tokenParameterName: "ssm-token" starts with "aws" or "ssm", which SSM reserves',
    ]);
    expect(() => parseConfig({ ...valid, tokenParameterName: 'toloka_token.v2' }, 'x')).not.toThrow();
  });

  it('accepts only KMS key ARNs (not aliases) for the token key', () => {
    expect(
      problemsOf({ ...valid, tokenKeyArn: 'arn:aws:kms:eu-central-1:123456789012:alias/toloka' }),
    ).toEqual([expect.stringMatching(/^tokenKeyArn: ".*alias\/toloka" is not a KMS key ARN/)]);
  });

  it('accepts an API URL override that is an origin, optionally with a path prefix', () => {
    for (const apiUrl of ['https://localhost:8443', 'https://proxy.example.com/toloka/']) {
      expect(parseConfig({ ...valid, apiUrl }, 'x').apiUrl).toBe(apiUrl);
    }
    // A deployed function sends the token in every request: never over plain http.
    expect(problemsOf({ ...valid, apiUrl: 'http://emulator.internal:8080' })).toEqual([
      'apiUrl: "http://emulator.internal:8080" must use https:',
    ]);
    expect(problemsOf({ ...valid, apiUrl: 'https://user:secret@example.com' })).toEqual([
      'apiUrl: "https://user:secret@example.com" must be an origin such as https://host:port, without query, fragment or credentials',
    ]);
    expect(problemsOf({ ...valid, apiUrl: 'toloka.dev' })).toEqual(['apiUrl: "toloka.dev" is not a URL']);
  });

  it('takes outcomeEvents as a boolean only', () => {
    expect(parseConfig({ ...valid, outcomeEvents: false }, 'x').outcomeEvents).toBe(false);
    expect(parseConfig({ ...valid, outcomeEvents: true }, 'x').outcomeEvents).toBe(true);
    expect(parseConfig(valid, 'x').outcomeEvents).toBeUndefined();
    for (const [value, shown] of [
      ['false', '"false"'],
      [0, '0'],
      [1, '1'],
      [{}, '{}'],
    ] as const) {
      expect(problemsOf({ ...valid, outcomeEvents: value })).toEqual([
        `outcomeEvents: must be true or false (got ${shown})`,
      ]);
    }
  });

  it('checks the poll settings against each other', () => {
    expect(
      problemsOf({ ...valid, poll: { minDelaySeconds: 60, maxDelaySeconds: 30, deadlineSeconds: 10 } }),
    ).toEqual([
      'poll.maxDelaySeconds: 30 must not be less than minDelaySeconds (60)',
      'poll.deadlineSeconds: 10 must not be less than minDelaySeconds (60)',
    ]);
  });

  it.each([
    ['cron(0 9 ? * MON-FRI *)', undefined],
    ['cron(*/15 8-17 ? * 2-6 2026-2027)', undefined],
    ['cron(0 12 L * ? *)', undefined],
    ['cron(0 9 * * ? *)', undefined],
    ['rate(1 minute)', undefined],
    ['rate(90 minutes)', undefined],
    ['at(2026-12-24T08:00:00)', undefined],
    ['cron(0 9 * * *)', 'must have 6 fields separated by single spaces'],
    ['cron(0 9 ? * ? *)', 'must have "?" in exactly one of day-of-month and day-of-week'],
    ['cron(0 9 ? * MON-FRI * *)', 'must have 6 fields'],
    ['cron(0 9% ? * MON *)', 'has an invalid hours field "9%"'],
    ['rate(0 minutes)', 'must be "rate(<positive integer> <minute(s)|hour(s)|day(s)>)"'],
    ['rate(5 minute)', 'must use a plural unit (e.g. "rate(5 minutes)")'],
    ['rate(1 week)', 'must be "rate(<positive integer>'],
    ['at(2026-12-24T08:00:00Z)', 'must be "at(yyyy-mm-ddThh:mm:ss)" (no time zone suffix)'],
    ['at(2026-13-01T00:00:00)', 'is not a valid date and time'],
    ['every day at 9', 'must be "cron(...)", "rate(...)" or "at(yyyy-mm-ddThh:mm:ss)"'],
    // Each cron field within its range, as Scheduler checks it.
    ['cron(0/15 * ? * * *)', undefined],
    ['cron(0 8 ? * 2#1 *)', undefined],
    ['cron(0 8 ? * SAT#3 *)', undefined],
    ['cron(0 8 ? * 6L *)', undefined],
    ['cron(0 8 ? * L *)', undefined],
    ['cron(0 8 LW * ? *)', undefined],
    ['cron(0 8 15W * ? *)', undefined],
    ['cron(0-59/10 0-23/2 ? * * *)', undefined],
    ['cron(0 8 1,15 JAN-MAR,dec ? 1970-2199)', undefined],
    ['cron(61 25 ? * MON-FRI *)', 'has an invalid minutes field "61": 61 is out of range (0-59)'],
    ['cron(0 25 ? * MON-FRI *)', 'has an invalid hours field "25": 25 is out of range (0-23)'],
    ['cron(0 9 0 * ? *)', 'has an invalid day-of-month field "0": 0 is out of range (1-31)'],
    ['cron(0 9 32W * ? *)', 'has an invalid day-of-month field "32W": 32 is out of range (1-31)'],
    ['cron(0 9 1 13 ? *)', 'has an invalid month field "13": 13 is out of range (1-12 or JAN-DEC)'],
    ['cron(0 9 ? * 8 *)', 'has an invalid day-of-week field "8": 8 is out of range (1-7 or SUN-SAT)'],
    ['cron(0 9 ? * NOT *)', 'has an invalid day-of-week field "NOT": "NOT" is not a value (1-7 or SUN-SAT)'],
    ['cron(0 9 ? * 3#6 *)', 'has an invalid day-of-week field "3#6": #6 must be #1 to #5'],
    ['cron(0 9 ? * 3#1,6#3 *)', 'has an invalid day-of-week field "3#1,6#3"'],
    ['cron(0 9 ? * MON 2200)', 'has an invalid year field "2200": 2200 is out of range (1970-2199)'],
    [
      'cron(0/0 9 ? * MON *)',
      'has an invalid minutes field "0/0": the increment in "0/0" must be a whole number from 1 to 59',
    ],
    ['cron(0 9 L * ? *)', undefined],
    ['cron(0 ? ? * MON *)', 'has an invalid hours field "?": "?" only goes in day-of-month or day-of-week'],
    ['cron(0 9 1W,2 * ? *)', 'has an invalid day-of-month field "1W,2"'],
  ])('checks the schedule expression %s', (expression, problem) => {
    const raw = withSchedule({ expression });
    if (problem === undefined) expect(() => parseConfig(raw, 'x')).not.toThrow();
    else {
      expect(problemsOf(raw)).toEqual([
        expect.stringContaining(`pools[0].schedules[0].expression: ${JSON.stringify(expression)} ${problem}`),
      ]);
    }
  });

  it('accepts IANA time zones, and suggests the right spelling for a wrong case', () => {
    for (const timeZone of ['UTC', 'Europe/Amsterdam', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
      expect(() => parseConfig(withSchedule({ expression: 'rate(1 day)', timeZone }), 'x')).not.toThrow();
    }
    expect(problemsOf(withSchedule({ expression: 'rate(1 day)', timeZone: 'europe/amsterdam' }))).toEqual([
      'pools[0].schedules[0].timeZone: "europe/amsterdam" is not an IANA time zone (did you mean "Europe/Amsterdam"?)',
    ]);
    expect(problemsOf(withSchedule({ expression: 'rate(1 day)', timeZone: '+02:00' }))).toEqual([
      'pools[0].schedules[0].timeZone: "+02:00" is not an IANA time zone',
    ]);
  });

  it('requires the end date after the start date', () => {
    // A year from the test's clock: the dates never pass.
    const day = new Date(NOW.getTime() + 365 * 86_400_000).toISOString().slice(0, 10);
    const [startDate, endDate] = [`${day}T00:00:00Z`, `${day}T01:00:00+02:00`];
    expect(problemsOf(withSchedule({ expression: 'rate(1 day)', startDate, endDate }))).toEqual([
      `pools[0].schedules[0].endDate: "${endDate}" must be after startDate ("${startDate}")`,
    ]);
  });

  it("reports a start date that has passed together with the file's other problems, in one run", () => {
    const startDate = new Date(NOW.getTime() - 2 * 86_400_000).toISOString();
    const problems = problemsOf({ ...withSchedule({ expression: 'rate(1 day)', startDate }), region: 'x' });
    expect(problems).toEqual([
      expect.stringContaining('region: unknown key'),
      expect.stringMatching(
        /^pools\[0\]\.schedules\[0\]\.startDate: .* has passed, and EventBridge Scheduler refuses/,
      ),
    ]);
  });

  it('suggests the list a wrapping range means, and the key a wrong case means', () => {
    expect(problemsOf(withSchedule({ expression: 'cron(0 9 ? * SAT-SUN *)' }))).toEqual([
      'pools[0].schedules[0].expression: "cron(0 9 ? * SAT-SUN *)" has an invalid day-of-week field "SAT-SUN": the range "SAT-SUN" goes backwards (SUN is 1: write SAT,SUN)',
    ]);
    expect(problemsOf(withSchedule({ expression: 'rate(1 day)', timezone: 'UTC' }))).toEqual([
      expect.stringMatching(
        /^pools\[0\]\.schedules\[0\]\.timezone: unknown key \(did you mean "timeZone"\? allowed here: /,
      ),
    ]);
  });

  it('rejects a pool listed twice and a schedule name used twice, generated names included', () => {
    const problems = problemsOf({
      ...valid,
      pools: [
        {
          poolId: '7',
          schedules: [{ expression: 'rate(1 day)' }, { name: 'pool-7-1', expression: 'rate(2 days)' }],
        },
        { trainingId: '8', schedules: [{ name: 'nightly', expression: 'rate(1 day)' }] },
        { trainingId: '8', schedules: [{ name: 'nightly', expression: 'rate(1 day)' }] },
      ],
    });
    expect(problems).toEqual([
      'pools[2].trainingId: "8" is already listed at pools[1]; put all its schedules there',
      'pools[2].schedules[0].name: "nightly" is already used by pools[1].schedules[0].name',
    ]);
  });

  it('generates names that do not collide with explicit ones', () => {
    const config = parseConfig(
      {
        ...valid,
        pools: [
          {
            poolId: '7',
            schedules: [
              { expression: 'rate(1 day)' },
              { name: 'pool-7-1', expression: 'rate(2 days)' },
              { expression: 'rate(3 days)' },
            ],
          },
        ],
      },
      'x',
    );
    expect(config.pools?.[0]?.schedules.map((s) => s.name)).toEqual(['pool-7-2', 'pool-7-1', 'pool-7-3']);
  });
});

describe('toOpenerProps', () => {
  it('refuses a request budget below one a second for each of the 10 instances that can run at once', () => {
    expect(() => parseConfig({ ...valid, tolokaRequestsPerSecond: 8 }, 'x')).toThrow(
      'tolokaRequestsPerSecond: 8 is out of range (10..300)',
    );
    expect(
      toOpenerProps(parseConfig({ ...valid, tolokaRequestsPerSecond: 10 }, 'x')).tolokaRequestsPerSecond,
    ).toBe(10);
  });

  it('turns outcomeEvents: false into no event bus', () => {
    const props = toOpenerProps(parseConfig({ ...valid, outcomeEvents: false }, 'x'));
    expect(props.outcomeEventBus).toBe(false);
  });

  it('turns the configuration into construct props', () => {
    const props = toOpenerProps(loadConfig(fixturePath('full.json')));
    expect(props.tolokaEnvironment).toBe('production');
    expect(props.tokenParameterName).toBe('/toloka/prod/api-token');
    expect(props.apiUrl).toBe('https://toloka-emulator.example.com:8443/');
    expect(props.logRetention).toBe(90);
    expect(props.poll?.deadline?.toSeconds()).toBe(7200);
    expect(props.poll?.minDelay?.toSeconds()).toBe(5);
    expect(props.poll?.fastPath?.toSeconds()).toBe(15);
    expect(props.poll?.maxDelay?.toSeconds()).toBe(600);
    expect(props.poll?.backoffFactor).toBe(2);
    expect(props.alarmEmail).toBe('toloka-ops@example.com');
    expect(props.tolokaRequestsPerSecond).toBe(100);
    // outcomeEvents: true leaves the bus to the construct (the account's default bus).
    expect(props).not.toHaveProperty('outcomeEventBus');
    expect(props.schedules).toEqual([
      {
        label: 'pools[0].schedules[0]',
        poolId: '123456',
        name: 'weekday-morning',
        expression: 'cron(0 9 ? * MON-FRI *)',
        timeZone: 'Europe/Amsterdam',
      },
      {
        label: 'pools[0].schedules[1]',
        poolId: '123456',
        name: 'pool-123456-2',
        expression: 'rate(12 hours)',
        timeZone: 'UTC',
        flexibleWindow: Duration.minutes(15),
        startDate: dateOf('{now+30d}', NOW),
        endDate: dateOf('{now+210d}', NOW),
      },
      {
        label: 'pools[1].schedules[0]',
        trainingId: '98765',
        name: 'training-98765-1',
        expression: atOf('{now+23d}', NOW),
        timeZone: 'Asia/Tokyo',
        enabled: false,
      },
    ]);
  });

  it('leaves defaults to the construct when the configuration leaves them out', () => {
    const props = toOpenerProps(loadConfig(path.join(FIXTURES, 'minimal.json')));
    expect(props).toEqual({
      tolokaEnvironment: 'sandbox',
      tokenParameterName: 'toloka-sandbox-token',
      schedules: [],
      poll: {},
    });
  });
});

describe('actions, windows, calendars and lateness in the configuration', () => {
  const window = {
    open: 'cron(0 9 ? * MON-FRI *)',
    close: 'cron(0 18 ? * MON-FRI *)',
    timeZone: 'Europe/Berlin',
  };
  const withCalendars = (schedule: object, calendars: object = { holidays: ['2026-12-25'] }) => ({
    ...withSchedule(schedule),
    calendars,
  });

  it('makes a window the pair <name>-open and <name>-close, with its zone and every other key on both', () => {
    const config = parseConfig(
      withCalendars({ name: 'office', window, skip: ['holidays'], maxLatenessMinutes: 15, enabled: false }),
      'test.json',
    );
    expect(
      toOpenerProps(config).schedules?.map((s) => ({
        name: s.name,
        action: s.action,
        expression: s.expression,
        timeZone: s.timeZone,
        skip: s.skip,
        lateness: s.maxLateness?.toMinutes(),
        enabled: s.enabled,
      })),
    ).toEqual([
      {
        name: 'office-open',
        action: 'open',
        expression: window.open,
        timeZone: 'Europe/Berlin',
        skip: ['holidays'],
        lateness: 15,
        enabled: false,
      },
      {
        name: 'office-close',
        action: 'close',
        expression: window.close,
        timeZone: 'Europe/Berlin',
        skip: ['holidays'],
        lateness: 15,
        enabled: false,
      },
    ]);
  });

  it('refuses a window whose open and close fire at the same minute, naming the window', () => {
    expect(
      problemsOf(withSchedule({ window: { open: 'cron(0 9 ? * MON-FRI *)', close: 'cron(0 9 ? * MON *)' } })),
    ).toEqual([
      expect.stringMatching(
        /^pools\[0\]\.schedules\[0\]\.window: open and close both fire at \d{4}-\d{2}-\d{2} 09:00 \(UTC\): a pool cannot open and close at the same minute$/,
      ),
    ]);
  });

  it('refuses a window with an expression or an action, a window without close, and a second time zone', () => {
    expect(
      problemsOf(
        withSchedule({
          window: { open: 'cron(0 9 * * ? *)', timeZone: 'Europe/Berlin' },
          timeZone: 'Europe/Paris',
          expression: 'cron(0 9 * * ? *)',
          action: 'open',
        }),
      ),
    ).toEqual([
      'pools[0].schedules[0].window.close: is required',
      'pools[0].schedules[0].window.timeZone: differs from the schedule\'s timeZone "Europe/Paris": give it once',
      'pools[0].schedules[0].expression: goes with a single schedule, not with window (which opens and closes)',
      'pools[0].schedules[0].action: goes with a single schedule, not with window (which opens and closes)',
    ]);
  });

  it('refuses an unknown action, an unknown calendar, a lateness out of range, and a date that is not one, each named', () => {
    expect(
      problemsOf(
        withCalendars(
          {
            expression: 'cron(0 9 * * ? *)',
            action: 'reopen',
            skip: ['holidays', 'vacation'],
            maxLatenessMinutes: 0,
          },
          { holidays: ['2026-02-30', '2026-12-25'], 'bad name': [] },
        ),
      ),
    ).toEqual([
      'calendars.holidays[0]: 2026-02-30 is not a day of the calendar',
      'calendars.bad name: the name must be 1-64 of A-Z a-z 0-9 _ -',
      'pools[0].schedules[0].action: must be "open" or "close" (got "reopen")',
      'pools[0].schedules[0].skip[1]: "vacation" is not a calendar (calendars: holidays, bad name)',
      expect.stringMatching(/^pools\[0\]\.schedules\[0\]\.maxLatenessMinutes: .*0/),
    ]);
  });

  it('keeps calendar dates that have passed: they never match, so they never fail a deploy', () => {
    expect(() =>
      parseConfig(
        withCalendars({ expression: 'cron(0 9 * * ? *)', skip: ['holidays'] }, { holidays: ['2001-01-01'] }),
        'test.json',
      ),
    ).not.toThrow();
  });
});
