/** The targets the bench holds the app to, each met or missed by how much, and why. */
import { DEFAULT_POLL } from '../lambda/runtime/config.ts';
import { burstTargets } from './burst-report.ts';
import type { AppOpening, ConfirmationResult } from './confirmation.ts';
import { COLD_BEYOND_WARM_LIMIT, coldPart, overBare } from './report-cold-start.ts';
import { ms, range, seriesMedian, times } from './report-format.ts';
import type { ReportInput } from './report-input.ts';
import { duration, fmt, median, seconds } from './stats.ts';
import type { Target } from './target.ts';

export type { Target } from './target.ts';

export const LAG_LIMIT_MS = 1_500;
export const FAST_PATH_S = DEFAULT_POLL.fastPathSeconds;
export const COLD_INIT_LIMIT = 2.5;
export const WARM_LIMIT = 1.2;
/** A batch's overlap: its 10/1 ratio against the same ratio of its raw round trips. */
export const BATCH_LIMIT = 1.2;

export function lengths(result: ConfirmationResult): number[] {
  return [...new Set(result.app.map((opening) => opening.durationMs))].sort((a, b) => a - b);
}

export function openingsOf(result: ConfirmationResult, durationMs: number) {
  return {
    app: result.app.filter((opening) => opening.durationMs === durationMs),
    kit: result.kit.filter((opening) => opening.durationMs === durationMs),
  };
}

export function missedText(targets: readonly Target[]): string {
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
    const beyond = coldPart(h.deployed.first, bare);
    const warm = median(h.deployed.first.againMs);
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
        target: `cold start, ${h.handler} (deployed): adds ≤ ${COLD_BEYOND_WARM_LIMIT}× a warm invocation beyond it`,
        measured: `+${ms(beyond, 0)} vs ${ms(warm, 0)} warm (${times(beyond / warm)})`,
        value: beyond / warm,
        limit: COLD_BEYOND_WARM_LIMIT,
        missedBy: times(beyond / warm - COLD_BEYOND_WARM_LIMIT),
        why,
      }),
    );
  }
  const [roundTrips, handler] = [
    seriesMedian(input.warm.series, 'raw round trips'),
    seriesMedian(input.warm.series, 'handler'),
  ];
  const { delayed } = input.batch;
  const ratio = median(delayed.batch) / median(delayed.single);
  const rawRatio = median(delayed.rawBatch) / median(delayed.rawSingle);
  targets.push(
    limit({
      section: 'warm',
      target: `warm invocation < ${WARM_LIMIT}× the raw round trips it makes (Toloka POST + ledger calls)`,
      measured: `${times(handler / roundTrips)} (${fmt(handler * 1000, 0)} vs ${fmt(roundTrips * 1000, 0)} µs)`,
      value: handler / roundTrips,
      limit: WARM_LIMIT,
      strict: true,
      missedBy: times(handler / roundTrips - WARM_LIMIT),
      why: 'see section 4, step by step.',
    }),
    limit({
      section: 'batch',
      target: `batch of 10 against 1, ${delayed.delayMs} ms added in front of Toloka and AWS: < ${BATCH_LIMIT}× the same ratio of its raw round trips`,
      measured: `${times(ratio)} against ${times(rawRatio)} raw (${times(ratio / rawRatio)})`,
      value: ratio / rawRatio,
      limit: BATCH_LIMIT,
      strict: true,
      missedBy: times(ratio / rawRatio - BATCH_LIMIT),
      why: 'see section 5.',
    }),
  );
  targets.push(...burstTargets(input.burst));
  return targets;
}
