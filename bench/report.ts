/**
 * Renders docs/benchmarks.md: the prose is bench/report-template.md, whose `{{name}}`s are filled
 * here with numbers and tables from one run's measurements. The only constants are the list
 * prices (cost.ts) and the targets.
 */

import { readFileSync } from 'node:fs';
import { DEFAULT_POLL } from '../lambda/runtime/config.ts';
import { PACING_WINDOW_MS } from '../lambda/runtime/request-pacer.ts';
import { burstValues } from './burst-report.ts';
import type { AppOpening, ConfirmationResult, KitOpening } from './confirmation.ts';
import { costRows, FUNCTION_MEMORY_GB, oneCallInvocationSeconds, PRICE_SOURCES, PRICES } from './cost.ts';
import { coldStartValues } from './report-cold-start.ts';
import { ms, notes, range, seriesMedian, table, times } from './report-format.ts';
import type { ReportInput } from './report-input.ts';
import {
  BATCH_LIMIT,
  evaluateTargets,
  FAST_PATH_S,
  lengths,
  missedText,
  openingsOf,
  type Target,
  WARM_LIMIT,
} from './report-targets.ts';
import { dollars, duration, fmt, max, median, quantile, signedMicros, sum } from './stats.ts';
import type { BatchResult, WarmResult } from './warm.ts';

export type { ReportInput } from './report-input.ts';

const TEMPLATE = new URL('./report-template.md', import.meta.url);

export function renderReport(input: ReportInput): string {
  const targets = evaluateTargets(input);
  const values: Record<string, string> = {
    ...runValues(input),
    ...confirmationValues(input, targets),
    ...costValues(input.confirmation),
    ...coldStartValues(input.coldStart),
    ...warmValues(input.warm, targets),
    ...batchValues(input.batch, targets),
    ...burstValues(input.burst),
    targetsTable: table(
      ['target', 'measured', 'verdict'],
      targets.map((t) => [t.target, t.measured, `**${t.verdict}**`]),
    ),
    missed: missedText(targets),
  };
  return readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`report-template.md: nothing for {{${name}}}`);
    return value;
  });
}

function runValues(input: ReportInput): Record<string, string> {
  const { machine } = input;
  return {
    runTable: table(
      ['', ''],
      [
        ['date', input.startedAt.toISOString()],
        ['bench wall time', `${fmt(input.wallSeconds, 0)} s`],
        ['CPU', `${machine.cpu} (from /proc/cpuinfo), ${machine.cores} cores`],
        ['memory', `${fmt(machine.memoryGiB, 1)} GiB`],
        [
          'Node.js',
          `${machine.node} (node_modules/.bin/node, the npm package \`node\`: the Lambda runtime's major)`,
        ],
        ['OS', `${machine.os}, Linux ${machine.kernel}`],
        ['load average at the start (1, 5, 15 min)', machine.loadAverage],
        ['code measured', input.code],
        [
          'Python peers',
          `${machine.python}, moto and toloka-kit from \`.venv\` (scripts/setup-python-tools.sh)`,
        ],
      ],
    ),
    warmRawMicros: fmt(seriesMedian(input.warm.series, 'raw POST') * 1000, 0),
  };
}

// ── 1. Confirmation ─────────────────────────────────────────────────────────────────────────────

function counted(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, count]) => `${count} ${value}`).join(', ');
}

function confirmationValues(input: ReportInput, targets: readonly Target[]): Record<string, string> {
  const result = input.confirmation;
  const stats = (openings: ReadonlyArray<AppOpening | KitOpening>) => [
    duration(median(openings.map((o) => o.lagMs))),
    duration(max(openings.map((o) => o.lagMs))),
    `${fmt(median(openings.map((o) => o.getCalls)), 1)} (${range(openings.map((o) => o.getCalls))})`,
    range(openings.map((o) => o.postCalls)),
  ];
  const rows = lengths(result).flatMap((durationMs) => {
    const { app, kit } = openingsOf(result, durationMs);
    const verdicts = targets
      .filter((target) => target.section === `confirmation-${durationMs}`)
      .map((target) => `${target.target}: **${target.verdict}**`);
    const kitOutcomes = counted(kit.map((o) => (o.ok ? 'returned' : (o.error ?? 'failed'))));
    const label = `${durationMs / 1000} s`;
    return [
      [
        label,
        'this app',
        counted(app.map((o) => o.outcome ?? 'none')),
        ...stats(app),
        '0',
        verdicts.join('; '),
      ],
      [
        label,
        'toloka-kit',
        kitOutcomes,
        ...stats(kit),
        `${range(kit.map((o) => o.poolGets))} × GET /pools/{id}`,
        '',
      ],
    ];
  });
  const usage = lengths(result).map((durationMs) => {
    const { app } = openingsOf(result, durationMs);
    const [opener, checker] = [
      median(app.map((o) => o.openerInvocations)),
      median(app.map((o) => o.checkerInvocations)),
    ];
    const handlerTotals = app.map((o) => sum(o.handlerMs));
    return [
      `${durationMs / 1000} s`,
      `${fmt(opener + checker, 1)} (${fmt(opener, 1)} + ${fmt(checker, 1)}; ${range(app.map((o) => o.openerInvocations + o.checkerInvocations))})`,
      `${fmt(median(handlerTotals), 0)} ms (${range(handlerTotals)})`,
      `${fmt(median(app.map((o) => o.checkMessages)), 1)} (${range(app.map((o) => o.checkMessages))})`,
      range(app.map((o) => o.checksField ?? Number.NaN)),
    ];
  });
  const longest = max(lengths(result));
  const deliveries = result.checkDeliveryLagMs;
  return {
    runs: String(input.settings.runs),
    staggerSeconds: fmt(input.settings.staggerMs / 1000, 1),
    confirmationSeconds: fmt(result.wallMs / 1000, 0),
    fastPath: String(FAST_PATH_S),
    backoff: String(DEFAULT_POLL.backoffFactor),
    minDelay: String(DEFAULT_POLL.minDelaySeconds),
    confirmationTable: table(
      [
        ...['operation', 'client', 'outcomes', 'median lag', 'worst lag'],
        ...['GET /operations per opening (median; range)', 'POST /open', 'other Toloka calls', 'targets'],
      ],
      rows,
    ),
    usageTable: table(
      [
        ...['operation', 'Lambda invocations (opener + checker)', 'handler time per opening'],
        ...['check messages (SendMessage)', '`checks` in the outcome record'],
      ],
      usage,
    ),
    longest: String(longest / 1000),
    timelines: result.app
      .filter((opening) => opening.durationMs === longest)
      .map(
        (o) =>
          `- run ${o.run + 1}: ${o.getOffsetsMs.map((t) => fmt(t / 1000, 1)).join(', ')} → lag ${duration(o.lagMs)}`,
      )
      .join('\n'),
    deliveries: String(deliveries.length),
    deliveryMedian: fmt(median(deliveries), 0),
    deliveryWorst: fmt(max(deliveries), 0),
    sharedBatches: String(result.sharedBatches),
  };
}

// ── 2. Cost ─────────────────────────────────────────────────────────────────────────────────────

function costValues(result: ConfirmationResult): Record<string, string> {
  const rows = costRows(result);
  const minutes = result.wallMs / 60_000;
  const costliest = [...rows].sort((a, b) => b.appDollars - a.appDollars)[0];
  return {
    memoryGb: String(FUNCTION_MEMORY_GB),
    emptyTrigger: fmt(result.triggerSource.emptyReceives / minutes, 0),
    emptyCheck: fmt(result.checkSource.emptyReceives / minutes, 0),
    ssmCalls: String(result.ssmGetParameter),
    openings: String(result.app.length),
    costTable: table(
      [
        ...['operation', 'Lambda invocations', 'GB-s', 'SQS requests', 'SSM GetParameter', 'Toloka calls'],
        ...['DynamoDB calls (refused)', 'DynamoDB RRU / WRU', 'Lambda requests $', 'Lambda duration $'],
        ...['SQS $', 'DynamoDB $', '**this app $**'],
      ],
      rows.map((row) => [
        `${row.durationMs / 1000} s`,
        fmt(row.lambdaInvocations * 1000, 0),
        fmt(row.gbSeconds * 1000, 1),
        fmt(row.sqsRequests * 1000, 0),
        '≤ 1 per cold environment',
        fmt(row.tolokaCalls * 1000, 0),
        `${fmt(row.ledgerCalls * 1000, 0)} (${fmt(row.ledgerRefused * 1000, 0)})`,
        `${fmt(row.ledgerReadUnits * 1000, 0)} / ${fmt(row.ledgerWriteUnits * 1000, 0)}`,
        dollars(row.lambdaRequestDollars),
        dollars(row.lambdaDurationDollars),
        dollars(row.sqsDollars),
        dollars(row.ledgerDollars),
        `**${dollars(row.appDollars)}**`,
      ]),
    ),
    ledgerPerOpening: ledgerPerOpening(result),
    ledgerUnattributed: String(result.ledgerUnattributed),
    largestItem: String(result.largestLedgerItem),
    ledgerShare: fmt(((costliest?.ledgerDollars ?? 0) / (costliest?.appDollars ?? 1)) * 100, 0),
    sfnPer1000: (PRICES.sfnPerTransition * 1000).toFixed(3),
    oneCallMs: fmt(oneCallInvocationSeconds(result.app) * 1000, 0),
    sfnTable: table(
      [
        ...['operation', 'this app $', "Step Functions, this app's schedule: checks / transitions / $"],
        'Step Functions, every 1 s: checks / transitions / $',
      ],
      rows.map((row) => [
        `${row.durationMs / 1000} s`,
        dollars(row.appDollars),
        ...[row.sfnSameSchedule, row.sfnEverySecond].map(
          (sfn) => `${fmt(sfn.checks, 1)} / ${fmt(sfn.transitions * 1000, 0)} / ${dollars(sfn.dollars)}`,
        ),
      ]),
    ),
    durationShare: fmt(((costliest?.lambdaDurationDollars ?? 0) / (costliest?.appDollars ?? 1)) * 100, 0),
    costliest: String((costliest?.durationMs ?? 0) / 1000),
    priceTable: table(
      ['item', 'price used', 'source', 'checked'],
      PRICE_SOURCES.map((source) => [source.item, source.price, source.source, source.confirmed]),
    ),
  };
}

/** Per opening, for the fastest and the slowest length: the ledger's calls by action, medians. */
function ledgerPerOpening(result: ConfirmationResult): string {
  const lengths = [...new Set(result.app.map((opening) => opening.durationMs))].sort((a, b) => a - b);
  const ends = [...new Set([lengths[0], lengths[lengths.length - 1]])].filter((ms) => ms !== undefined);
  return ends
    .map((durationMs) => {
      const openings = result.app.filter((opening) => opening.durationMs === durationMs);
      const actions = [...new Set(openings.flatMap((opening) => Object.keys(opening.ledger.calls)))].sort();
      const counts = actions.map(
        (action) =>
          `${fmt(median(openings.map((opening) => opening.ledger.calls[action] ?? 0)), 0)} ${action}`,
      );
      return `${durationMs / 1000} s: ${counts.join(', ')}`;
    })
    .join('; ');
}

// ── 4. Warm overhead, 5. Batch ──────────────────────────────────────────────────────────────────

function warmValues(result: WarmResult, targets: readonly Target[]): Record<string, string> {
  const step = (name: string) => seriesMedian(result.series, name);
  const roundTrips = step('raw round trips');
  const delayedRoundTrips = seriesMedian(result.delayed.series, 'raw round trips');
  const target = targets.find((t) => t.section === 'warm');
  return {
    warmup: String(result.warmup),
    iterations: String(result.iterations),
    ledgerCalls: result.ledgerCalls.join(', '),
    warmTable: table(
      ['call', 'median', 'p90', 'ratio to the raw round trips'],
      result.series.map((s) => [
        `${s.name}: ${s.description}`,
        `${fmt(median(s.ms) * 1000, 0)} µs`,
        `${fmt(quantile(s.ms, 0.9) * 1000, 0)} µs`,
        times(median(s.ms) / roundTrips),
      ]),
    ),
    delayMs: String(result.delayed.delayMs),
    delayedIterations: String(result.delayed.iterations),
    delayedTable: table(
      ['call', 'median', 'ratio to the raw round trips'],
      result.delayed.series.map((s) => [
        s.name,
        ms(median(s.ms), 2),
        times(median(s.ms) / delayedRoundTrips, 3),
      ]),
    ),
    signalStep: signedMicros(step('raw POST + time-out signal') - step('raw POST')),
    clientStep: signedMicros(step('HttpTolokaApi.act') - step('raw POST + time-out signal')),
    ledgerRaw: `${fmt(step('raw ledger calls') * 1000, 0)} µs`,
    roundTrips: `${fmt(roundTrips * 1000, 0)} µs`,
    handlerStep: signedMicros(step('handler') - roundTrips),
    delayedRatio: times(seriesMedian(result.delayed.series, 'handler') / delayedRoundTrips, 3),
    warmLimit: times(WARM_LIMIT),
    warmVerdict: target?.verdict ?? '–',
    warmMeasured: target?.measured ?? '–',
    warmUnexpected: notes(
      result.unexpected.length === 0
        ? []
        : [`Unexpected answers: ${result.unexpected.length} (first: ${result.unexpected[0]}).`],
    ),
  };
}

function batchValues(result: BatchResult, targets: readonly Target[]): Record<string, string> {
  const row = (label: string, one: number[], ten: number[]) => [
    label,
    ms(median(one), 2),
    ms(median(ten), 2),
    times(median(ten) / median(one)),
  ];
  const { delayed } = result;
  const target = targets.find((t) => t.section === 'batch');
  return {
    batchRuns: String(result.runs),
    batchTable: table(
      ['', '1 message', '10 messages', 'ratio'],
      [
        row('opener handler', result.single, result.batch),
        row('raw round trips only', result.rawSingle, result.rawBatch),
        row(
          `opener handler, ${delayed.delayMs} ms added in front of both (${delayed.runs} runs)`,
          delayed.single,
          delayed.batch,
        ),
        row(`raw round trips only, ${delayed.delayMs} ms added`, delayed.rawSingle, delayed.rawBatch),
        row(
          `opener handler at a deployed instance's share of the budget, ${result.paced.share} a second (${result.paced.batch.length} runs)`,
          result.paced.single,
          result.paced.batch,
        ),
      ],
    ),
    rawBatchRatio: times(median(result.rawBatch) / median(result.rawSingle)),
    perRecord: fmt((median(result.batch) - median(result.single)) / 9, 2),
    delayedBatchRatio: times(median(delayed.batch) / median(delayed.single)),
    delayedRawRatio: times(median(delayed.rawBatch) / median(delayed.rawSingle)),
    batchLimit: times(BATCH_LIMIT),
    pacedShare: String(result.paced.share),
    pacedBatch: ms(median(result.paced.batch), 0),
    pacedFloor: ms(((10 - 1) * PACING_WINDOW_MS) / result.paced.share, 0),
    batchVerdict: target?.verdict ?? '–',
    batchMeasured: target?.measured ?? '–',
    batchUnexpected: notes(
      result.unexpected.length === 0 ? [] : [`Unexpected: ${result.unexpected.join('; ')}.`],
    ),
  };
}
