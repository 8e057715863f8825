/**
 * Renders docs/benchmarks.md: the prose is bench/report-template.md, whose `{{name}}`s are filled
 * here with numbers and tables from one run's measurements. The only constants are the list
 * prices (cost.ts) and the targets.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_POLL } from '../lambda/runtime/config.ts';
import type { BundleSize, ColdStartResult, Sample } from './cold-start.ts';
import type { AppOpening, ConfirmationResult, KitOpening } from './confirmation.ts';
import { costRows, FUNCTION_MEMORY_GB, oneCallInvocationSeconds, PRICE_SOURCES, PRICES } from './cost.ts';
import type { Machine } from './infra.ts';
import { dollars, duration, fmt, max, median, min, quantile, seconds, signedMicros, sum } from './stats.ts';
import type { BatchResult, WarmResult } from './warm.ts';

export interface ReportInput {
  readonly machine: Machine;
  /** Which version of the app was measured. */
  readonly code: string;
  readonly startedAt: Date;
  readonly wallSeconds: number;
  readonly confirmation: ConfirmationResult;
  readonly coldStart: ColdStartResult;
  readonly warm: WarmResult;
  readonly batch: BatchResult;
  readonly settings: { readonly runs: number; readonly staggerMs: number };
}

export interface Target {
  /** The row or section that shows it: `confirmation-<ms>`, `warm`, `batch`. */
  readonly section?: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
  /** "met" or "missed by …". */
  readonly verdict: string;
  readonly why: string;
}

const LAG_LIMIT_MS = 1_500;
const FAST_PATH_S = DEFAULT_POLL.fastPathSeconds;
const COLD_INIT_LIMIT = 2.5;
const COLD_FIRST_LIMIT = 0.5;
const WARM_LIMIT = 1.2;
const BATCH_LIMIT = 1.5;

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

// ── Formatting ──────────────────────────────────────────────────────────────────────────────────

function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

const ms = (value: number, decimals = 1) => `${fmt(value, decimals)} ms`;
const kib = (bytes: number) => `${fmt(bytes / 1024, 0)} KiB`;
const times = (ratio: number, decimals = 2) => `${fmt(ratio, decimals)}×`;
const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${fmt(Math.abs(value), 0)}`;
/** A list of notes, or nothing: appended to a paragraph of the template. */
const notes = (lines: readonly string[]) => (lines.length === 0 ? '' : `\n\n${lines.join('\n\n')}`);

function range(values: readonly number[], decimals = 0): string {
  if (values.length === 0) return '–';
  const [low, high] = [fmt(min(values), decimals), fmt(max(values), decimals)];
  return low === high ? low : `${low}–${high}`;
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
    warmRawMicros: fmt(seriesMedian(input.warm.series, 'raw') * 1000, 0),
  };
}

// ── 1. Confirmation ─────────────────────────────────────────────────────────────────────────────

function lengths(result: ConfirmationResult): number[] {
  return [...new Set(result.app.map((opening) => opening.durationMs))].sort((a, b) => a - b);
}

function openingsOf(result: ConfirmationResult, durationMs: number) {
  return {
    app: result.app.filter((opening) => opening.durationMs === durationMs),
    kit: result.kit.filter((opening) => opening.durationMs === durationMs),
  };
}

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

// ── 3. Cold start ───────────────────────────────────────────────────────────────────────────────

/** Median wall time, what it adds to a bare start, and its ratio to one. */
function overBare(sample: Sample, bare: number): { wall: number; added: number; ratio: number } {
  const wall = median(sample.wallMs);
  return { wall, added: wall - bare, ratio: wall / bare };
}

/** What a cold start adds beyond a warm invocation: init + first invocation − bare start − the second one. */
const coldPart = (sample: Sample, bare: number) => median(sample.wallMs) - bare - median(sample.againMs);

/**
 * The median of the differences measured in the same round (every variant runs once a round, in
 * turn), which the machine's drift moves less than a difference of two medians; the latter where a
 * failed run left the two samples of different lengths.
 */
function roundDelta(now: readonly number[], before: readonly number[]): number {
  if (now.length !== before.length || now.length === 0) return median(now) - median(before);
  return median(now.map((value, index) => value - (before[index] ?? Number.NaN)));
}

const sizeText = (size: BundleSize) => `${size.files}, ${kib(size.initBytes)} / ${kib(size.bytes)}`;

function coldStartValues(cold: ColdStartResult): Record<string, string> {
  const bare = median(cold.bareMs);
  const steps = cold.rows.filter((row) => !row.tried);
  const deployed = steps.at(-1);
  const opener = cold.handlers.find((h) => h.handler === 'open-pool');
  const techniqueTable = (
    rows: typeof cold.rows,
    base: (index: number) => (typeof rows)[number] | undefined,
  ) =>
    table(
      [
        ...['', 'code: files, KiB at init / all', 'maps', 'undici files', 'init (× bare start)', 'Δ ms'],
        ...['init + first invocation, added over a bare start', 'Δ ms'],
      ],
      rows.map((row, index) => {
        const [init, first, previous] = [overBare(row.init, bare), overBare(row.first, bare), base(index)];
        const delta = (pick: (r: typeof row) => Sample) =>
          previous === undefined ? '' : signedMs(roundDelta(pick(row).wallMs, pick(previous).wallMs));
        return [
          row.name,
          sizeText(row.size),
          kib(row.size.mapBytes),
          String(row.size.undiciFiles ?? '–'),
          `${ms(init.wall)} (${times(init.ratio)})`,
          delta((r) => r.init),
          ms(first.added, 0),
          delta((r) => r.first),
        ];
      }),
    );
  const handlerRows = cold.handlers.flatMap((h) =>
    (['before', 'deployed'] as const).map((which) => {
      const { size, init, first } = h[which];
      const [initTimes, firstTimes] = [overBare(init, bare), overBare(first, bare)];
      const deployedRow = which === 'deployed';
      return [
        `${h.handler}, ${which}`,
        sizeText(size),
        `${ms(initTimes.wall)} (${times(initTimes.ratio)})`,
        `${ms(firstTimes.wall)} (+${ms(firstTimes.added, 0)})`,
        deployedRow ? times(firstTimes.added / overBare(h.before.first, bare).added) : '',
        ms(median(first.importMs)),
        ms(median(first.invokeMs)),
        ms(median(first.againMs)),
        deployedRow ? `${h.loadedByFirst.files} files, ${kib(h.loadedByFirst.bytes)}` : '',
      ];
    }),
  );
  const events = overBare(cold.withEvents, bare);
  const samples = [
    ...cold.rows.flatMap((row) => [row.init, row.first]),
    ...cold.handlers.flatMap((h) => [h.before.init, h.before.first, h.deployed.init, h.deployed.first]),
    ...cold.pieces.map((piece) => piece.sample),
    cold.withEvents,
  ];
  const failures = [...new Set(samples)].flatMap((sample) => sample.failures);
  return {
    nodeOptions:
      cold.deployedNodeOptions === '' ? 'no `NODE_OPTIONS`' : `\`NODE_OPTIONS=${cold.deployedNodeOptions}\``,
    mirror: cold.mirrorMatches ? 'the same' : '**not** the same',
    coldRounds: String(cold.rounds),
    bare: fmt(bare, 1),
    bareRuns: String(cold.bareMs.length),
    stepsTable: techniqueTable(steps, (index) => steps[index - 1]),
    triesTable: techniqueTable(
      cold.rows.filter((row) => row.tried),
      () => deployed,
    ),
    handlersTable: table(
      [
        ...['', 'code: files, KiB at init / all', 'init (× bare start)', 'init + first invocation (added)'],
        ...[
          'added, × before',
          'import, in process',
          'first invocation, in process',
          'second invocation, warm',
          'loaded by the first invocation',
        ],
      ],
      handlerRows,
    ),
    openerAgain: fmt(median(opener?.deployed.first.againMs ?? []), 0),
    checkerAgain: fmt(
      median(cold.handlers.find((h) => h.handler === 'check-operation')?.deployed.first.againMs ?? []),
      0,
    ),
    coldParts: cold.handlers
      .map((h) => {
        const [now, before] = [coldPart(h.deployed.first, bare), coldPart(h.before.first, bare)];
        return `${h.handler} ${ms(now, 0)} against ${ms(before, 0)} before (${times(now / before)})`;
      })
      .join(', '),
    eventsWall: fmt(events.wall, 1),
    eventsAdded: fmt(events.added, 0),
    eventsDelta: signedMs(events.wall - median(opener?.deployed.first.wallMs ?? [])),
    initAdded: fmt(median(opener?.deployed.init.wallMs ?? []) - bare, 0),
    initKib: fmt((deployed?.size.initBytes ?? 0) / 1024, 0),
    initPackages: (deployed?.size.initPackages ?? [])
      .slice(0, 5)
      .map((p) => `${p.name} ${kib(p.bytes)}`)
      .join(', '),
    firstInvokeMs: fmt(median(opener?.deployed.first.invokeMs ?? []), 0),
    beyondInit: cold.handlers
      .map((h) => {
        // What the first invocation adds past init; the before build bundles the same code, so it
        // pays this too, and half of what it added is out of reach once this alone is above it.
        const past = (m: typeof h.deployed) => median(m.first.wallMs) - median(m.init.wallMs);
        const half = overBare(h.before.first, bare).added / 2;
        return `${h.handler} ${ms(past(h.deployed), 0)} (before: ${ms(past(h.before), 0)}), against half of what the before build added, ${ms(half, 0)}`;
      })
      .join('; '),
    firstFiles: String(opener?.loadedByFirst.files ?? 0),
    firstKib: fmt((opener?.loadedByFirst.bytes ?? 0) / 1024, 0),
    pieces: cold.pieces
      .map(
        (p) =>
          `${p.name} (${kib(p.bytes)}): import ${ms(median(p.sample.importMs))}, then ${ms(median(p.sample.invokeMs))}`,
      )
      .join('; '),
    coldFailures: notes(
      failures.length === 0
        ? []
        : [`Failed runs (left out of the medians): ${failures.length}. First: ${failures[0]}`],
    ),
  };
}

// ── 4. Warm overhead, 5. Batch ──────────────────────────────────────────────────────────────────

function seriesMedian(series: ReadonlyArray<{ name: string; ms: number[] }>, name: string): number {
  return median(series.find((s) => s.name === name)?.ms ?? []);
}

function warmValues(result: WarmResult, targets: readonly Target[]): Record<string, string> {
  const step = (name: string) => seriesMedian(result.series, name);
  const raw = step('raw');
  const delayedRaw = seriesMedian(result.delayed.series, 'raw');
  const target = targets.find((t) => t.section === 'warm');
  return {
    warmup: String(result.warmup),
    iterations: String(result.iterations),
    warmTable: table(
      ['call', 'median', 'p90', 'ratio to raw'],
      result.series.map((s) => [
        `${s.name}: ${s.description}`,
        `${fmt(median(s.ms) * 1000, 0)} µs`,
        `${fmt(quantile(s.ms, 0.9) * 1000, 0)} µs`,
        times(median(s.ms) / raw),
      ]),
    ),
    delayMs: String(result.delayed.delayMs),
    delayedIterations: String(result.delayed.iterations),
    delayedTable: table(
      ['call', 'median', 'ratio to raw'],
      result.delayed.series.map((s) => [s.name, ms(median(s.ms), 2), times(median(s.ms) / delayedRaw, 3)]),
    ),
    signalStep: signedMicros(step('raw + time-out signal') - raw),
    clientStep: signedMicros(step('HttpTolokaApi.open') - step('raw + time-out signal')),
    handlerStep: signedMicros(step('handler') - step('HttpTolokaApi.open')),
    delayedRatio: times(seriesMedian(result.delayed.series, 'handler') / delayedRaw, 3),
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
        row('raw POSTs only', result.rawSingle, result.rawBatch),
        row(
          `opener handler, answers ${delayed.delayMs} ms late (${delayed.runs} runs)`,
          delayed.single,
          delayed.batch,
        ),
        row(`raw POSTs only, answers ${delayed.delayMs} ms late`, delayed.rawSingle, delayed.rawBatch),
      ],
    ),
    rawBatchRatio: times(median(result.rawBatch) / median(result.rawSingle)),
    perRecord: fmt((median(result.batch) - median(result.single)) / 9, 2),
    delayedBatchRatio: times(median(delayed.batch) / median(delayed.single)),
    delayedRawRatio: times(median(delayed.rawBatch) / median(delayed.rawSingle)),
    batchVerdict: target?.verdict ?? '–',
    batchMeasured: target?.measured ?? '–',
    batchUnexpected: notes(
      result.unexpected.length === 0 ? [] : [`Unexpected: ${result.unexpected.join('; ')}.`],
    ),
  };
}

// ── Targets ─────────────────────────────────────────────────────────────────────────────────────

function missedText(targets: readonly Target[]): string {
  const missed = targets.filter((target) => !target.met);
  if (missed.length === 0) return 'Every target was met in this run.';
  return `Why the missed ones were missed:\n\n${missed.map((t) => `- **${t.target}** (${t.measured}): ${t.why}`).join('\n')}`;
}

/** A target met when `value ≤ limit` (`<` when `strict`); `missedBy` says by how much otherwise. */
function limit(
  t: Omit<Target, 'met' | 'verdict'> & { value: number; limit: number; strict?: boolean; missedBy: string },
): Target {
  const met = t.strict === true ? t.value < t.limit : t.value <= t.limit;
  return {
    section: t.section,
    target: t.target,
    measured: t.measured,
    why: t.why,
    met,
    verdict: met ? 'met' : `missed by ${t.missedBy}`,
  };
}

export function evaluateTargets(input: ReportInput): Target[] {
  const targets: Target[] = [];
  const result = input.confirmation;
  for (const durationMs of lengths(result)) {
    const { app, kit } = openingsOf(result, durationMs);
    const lag = median(app.map((o) => o.lagMs));
    const [appGets, kitGets] = [median(app.map((o) => o.getCalls)), median(kit.map((o) => o.getCalls))];
    const [section, label] = [`confirmation-${durationMs}`, `${durationMs / 1000} s op`];
    const gets = {
      section,
      value: appGets,
      why: `the app checked ${range(app.map((o) => o.getCalls))} times per opening.`,
    };
    const lagWhy = 'see when the app checked, in section 1.';
    if (durationMs <= 10_000) {
      targets.push(
        limit({
          section,
          target: `${label}: median lag ≤ 1.5 s`,
          measured: duration(lag),
          value: lag,
          limit: LAG_LIMIT_MS,
          missedBy: duration(lag - LAG_LIMIT_MS),
          why: lagWhy,
        }),
        limit({
          ...gets,
          target: `${label}: GET calls ≤ toloka-kit's`,
          measured: `${fmt(appGets, 1)} vs ${fmt(kitGets, 1)} (medians)`,
          limit: kitGets,
          missedBy: `${fmt(appGets - kitGets, 1)} calls`,
        }),
      );
    }
    if (durationMs >= 60_000) {
      const lagLimit = 0.2 * durationMs;
      targets.push(
        limit({
          ...gets,
          target: `${label}: GET calls ≤ 1/3 of toloka-kit's`,
          measured: `${fmt(appGets, 1)} vs ${fmt(kitGets, 1)} / 3 = ${fmt(kitGets / 3, 1)}`,
          limit: kitGets / 3,
          missedBy: `${fmt(appGets - kitGets / 3, 1)} calls`,
        }),
        limit({
          section,
          target: `${label}: median lag < 20 % of its length (${seconds(lagLimit, 0)})`,
          measured: `${seconds(lag)} (${fmt((lag / durationMs) * 100, 1)} %)`,
          value: lag,
          limit: lagLimit,
          strict: true,
          missedBy: seconds(lag - lagLimit),
          why: lagWhy,
        }),
      );
    }
    if (durationMs === 0) {
      const calls = (o: AppOpening) => o.postCalls + o.getCalls;
      const invocations = (o: AppOpening) => o.openerInvocations + o.checkerInvocations;
      const bad = app.filter((o) => calls(o) !== 1 || invocations(o) !== 1 || o.checkMessages !== 0);
      targets.push(
        limit({
          section,
          target: '0 s op: exactly one Toloka call, one invocation, no SQS message (every run)',
          measured: `Toloka calls ${range(app.map(calls))}, invocations ${range(app.map(invocations))}, check messages ${range(app.map((o) => o.checkMessages))}`,
          value: app.length === 0 ? 1 : bad.length,
          limit: 0,
          missedBy: `${bad.length} of ${app.length} runs`,
          why: `runs that did more: ${bad.map((o) => `run ${o.run + 1}: ${calls(o)} calls, ${invocations(o)} invocations, ${o.checkMessages} messages`).join('; ')}.`,
        }),
      );
    }
  }
  const bare = median(input.coldStart.bareMs);
  const why = 'see "What is left, and why" in section 3.';
  for (const h of input.coldStart.handlers) {
    const init = overBare(h.deployed.init, bare);
    const [added, before] = [overBare(h.deployed.first, bare).added, overBare(h.before.first, bare).added];
    targets.push(
      limit({
        target: `cold start, ${h.handler} (deployed): init ≤ ${COLD_INIT_LIMIT}× a bare start`,
        measured: `${times(init.ratio)} (${ms(init.wall)} vs ${ms(bare)})`,
        value: init.ratio,
        limit: COLD_INIT_LIMIT,
        missedBy: times(init.ratio - COLD_INIT_LIMIT),
        why,
      }),
      limit({
        target: `cold start, ${h.handler} (deployed): init + first invocation adds ≤ half of what it added before`,
        measured: `+${ms(added, 0)} vs +${ms(before, 0)} (${times(added / before)})`,
        value: added,
        limit: COLD_FIRST_LIMIT * before,
        missedBy: ms(added - COLD_FIRST_LIMIT * before, 0),
        why: `${why} Beyond a warm invocation, it adds ${times(coldPart(h.deployed.first, bare) / coldPart(h.before.first, bare))} of what it added before.`,
      }),
    );
  }
  const [raw, handler] = [seriesMedian(input.warm.series, 'raw'), seriesMedian(input.warm.series, 'handler')];
  const ratio = median(input.batch.batch) / median(input.batch.single);
  targets.push(
    limit({
      section: 'warm',
      target: `warm invocation < ${WARM_LIMIT}× the raw HTTP round trip`,
      measured: `${times(handler / raw)} (${fmt(handler * 1000, 0)} vs ${fmt(raw * 1000, 0)} µs)`,
      value: handler / raw,
      limit: WARM_LIMIT,
      strict: true,
      missedBy: times(handler / raw - WARM_LIMIT),
      why: 'see section 4, step by step.',
    }),
    limit({
      section: 'batch',
      target: `batch of 10 < ${BATCH_LIMIT}× a batch of 1`,
      measured: `${times(ratio)} (${ms(median(input.batch.batch), 2)} vs ${ms(median(input.batch.single), 2)})`,
      value: ratio,
      limit: BATCH_LIMIT,
      strict: true,
      missedBy: times(ratio - BATCH_LIMIT),
      why: 'see section 5.',
    }),
  );
  return targets;
}
