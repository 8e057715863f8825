/** Section 6 of the report, "A busy morning": the burst runs side by side, and their targets. */
import type { BurstRun, DesignName } from './burst.ts';
import { DESIGNS } from './burst.ts';
import { FUNCTION_MEMORY_GB, PRICES } from './cost.ts';
import { table } from './report-format.ts';
import { dollars, fmt, seconds } from './stats.ts';
import type { Target } from './target.ts';

export interface BurstResult {
  readonly runs: readonly BurstRun[];
  /** The deployment's budget the paced design kept (the construct's default). */
  readonly budgetPerSecond: number;
  /** The emulator's per-account limit. */
  readonly tolokaLimitPerSecond: number;
  readonly longestOperationMs: number;
  readonly limitMs: number;
  /** The chart's file name, beside the report. */
  readonly chartFile: string;
}

/** The N whose last pool must be confirmed within `CONFIRM_WITHIN_MS` at the default budget. */
export const CONFIRM_TARGET_POOLS = 300;
export const CONFIRM_WITHIN_MS = 5 * 60_000;

/** The most requests sent within any one second (a sliding, half-open window, as Toloka counts). */
export function peakPerSecond(instantsMs: readonly number[]): number {
  const sorted = [...instantsMs].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= 1000) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

/** Lambda requests and duration at 256 MB, and SQS requests, per 1,000 openings. */
export function costPer1000(run: BurstRun): { lambda: number; sqs: number; total: number } {
  const invocations = run.invocations.opener + run.invocations.checker;
  const lambda =
    invocations * PRICES.lambdaPerRequest +
    (run.billedMs / 1000) * FUNCTION_MEMORY_GB * PRICES.lambdaArmPerGbSecond;
  const sqs = (run.sqs.sends + run.sqs.receives + run.sqs.deletes) * PRICES.sqsPerRequest;
  const per = 1000 / run.pools;
  return { lambda: lambda * per, sqs: sqs * per, total: (lambda + sqs) * per };
}

const confirmed = (run: BurstRun) => run.confirmedAtMs.length;

function lastConfirmed(run: BurstRun): string {
  if (confirmed(run) < run.pools) {
    return run.stoppedAtLimit
      ? `not all: ${confirmed(run)} confirmed when the run was stopped at ${seconds(run.limitMs, 0)}`
      : `not all: ${confirmed(run)} confirmed`;
  }
  return seconds(Math.max(...run.confirmedAtMs), 0);
}

function outcomesText(run: BurstRun): string {
  const parts = Object.entries(run.outcomes).map(([outcome, count]) => `${count} ${outcome}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

export function burstValues(result: BurstResult): Record<string, string> {
  const sizes = [...new Set(result.runs.map((run) => run.pools))].sort((a, b) => a - b);
  const tables = sizes.map((pools) => {
    const runs = result.runs.filter((run) => run.pools === pools);
    const row = (label: string, cell: (run: BurstRun) => string) => [label, ...runs.map(cell)];
    return `**N = ${pools}**\n\n${table(
      ['', ...runs.map((run) => DESIGNS[run.design].label)],
      [
        row('opened (outcome records)', (run) => `${confirmed(run)} of ${run.pools} (${outcomesText(run)})`),
        row('dead letters', (run) => String(run.deadLetters)),
        row('peak Toloka requests in one second (sent)', (run) => String(peakPerSecond(run.requestsAtMs))),
        row(
          'requests answered 429 / all requests',
          (run) => `${run.rejectedAtMs.length} / ${run.requestsAtMs.length}`,
        ),
        row(
          'peak function instances (opener + checker at once)',
          (run) =>
            `${run.peakInstances.together} (${run.peakInstances.opener} + ${run.peakInstances.checker})`,
        ),
        row('last pool confirmed, after the minute', lastConfirmed),
        row(
          'invocations (opener + checker)',
          (run) => `${run.invocations.opener} + ${run.invocations.checker}`,
        ),
        row('cost per 1,000 openings (Lambda + SQS)', (run) => {
          const cost = costPer1000(run);
          return `${dollars(cost.total)} (${dollars(cost.lambda)} + ${dollars(cost.sqs)})`;
        }),
      ],
    )}`;
  });
  const designs = [...new Set(result.runs.map((run) => run.design))] as DesignName[];
  return {
    burstDesigns: designs
      .map((design) => `- **${DESIGNS[design].label}**: ${DESIGNS[design].description}.`)
      .join('\n'),
    burstTables: tables.join('\n\n'),
    burstChart: result.chartFile,
    burstBudget: String(result.budgetPerSecond),
    burstLimit: String(result.tolokaLimitPerSecond),
    burstLongest: seconds(result.longestOperationMs, 0),
    burstStop: seconds(result.limitMs, 0),
    burstSizes: sizes.map((size) => fmt(size, 0)).join(', '),
  };
}

export function burstTargets(result: BurstResult): Target[] {
  const targets: Target[] = [];
  for (const run of result.runs.filter((r) => r.design === 'paced')) {
    const label = `burst N = ${run.pools}`;
    const peak = peakPerSecond(run.requestsAtMs);
    targets.push(
      verdict({
        target: `${label}: every pool opened (an outcome record each)`,
        measured: `${confirmed(run)} of ${run.pools}`,
        met: confirmed(run) === run.pools,
        missedBy: `${run.pools - confirmed(run)} pools`,
        why: `outcomes: ${outcomesText(run)}; ${run.unfinished} unfinished when the run ended.`,
      }),
      verdict({
        target: `${label}: no dead letter`,
        measured: String(run.deadLetters),
        met: run.deadLetters === 0,
        missedBy: `${run.deadLetters} dead letters`,
        why: 'see the table of section 6.',
      }),
      verdict({
        target: `${label}: peak Toloka requests in one second ≤ the budget (${result.budgetPerSecond})`,
        measured: String(peak),
        met: peak <= result.budgetPerSecond,
        missedBy: `${peak - result.budgetPerSecond} requests`,
        why: 'see the chart of section 6.',
      }),
    );
    if (run.pools === CONFIRM_TARGET_POOLS) {
      const last = confirmed(run) === run.pools ? Math.max(...run.confirmedAtMs) : Number.POSITIVE_INFINITY;
      targets.push(
        verdict({
          target: `${label}: last pool confirmed within ${seconds(CONFIRM_WITHIN_MS, 0)} at the default budget`,
          measured: lastConfirmed(run),
          met: last <= CONFIRM_WITHIN_MS,
          missedBy: Number.isFinite(last) ? seconds(last - CONFIRM_WITHIN_MS, 0) : 'pools never confirmed',
          why: 'see the chart of section 6.',
        }),
      );
    }
  }
  return targets;
}

function verdict(t: Omit<Target, 'verdict'> & { missedBy: string }): Target {
  return {
    section: 'burst',
    target: t.target,
    measured: t.measured,
    met: t.met,
    verdict: t.met ? 'met' : `missed by ${t.missedBy}`,
    why: t.why,
  };
}
