/** Section 3 of the report: the cold start, technique by technique, and what is left. */
import type { ColdStartResult, Sample } from './cold-start.ts';
import type { BundleSize } from './cold-start-builds.ts';
import { kib, ms, notes, signedMs, table, times } from './report-format.ts';
import { fmt, median } from './stats.ts';

/** What a cold start may add beyond a warm invocation, in warm invocations (a target: report-targets.ts). */
export const COLD_BEYOND_WARM_LIMIT = 3;

/** Median wall time, what it adds to a bare start, and its ratio to one. */
export function overBare(sample: Sample, bare: number): { wall: number; added: number; ratio: number } {
  const wall = median(sample.wallMs);
  return { wall, added: wall - bare, ratio: wall / bare };
}

/** What a cold start adds beyond a warm invocation: init + first invocation − bare start − the second one. */
export const coldPart = (sample: Sample, bare: number) =>
  median(sample.wallMs) - bare - median(sample.againMs);

/**
 * The median of the differences measured in the same round (every variant runs once a round, in
 * turn), which the machine's drift moves less than a difference of two medians; the latter where a
 * failed run left the two samples of different lengths.
 */
export function roundDelta(now: readonly number[], before: readonly number[]): number {
  if (now.length !== before.length || now.length === 0) return median(now) - median(before);
  return median(now.map((value, index) => value - (before[index] ?? Number.NaN)));
}

const sizeText = (size: BundleSize) => `${size.files}, ${kib(size.initBytes)} / ${kib(size.bytes)}`;

export function coldStartValues(cold: ColdStartResult): Record<string, string> {
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
        const warm = median(h.deployed.first.againMs);
        return `${h.handler} ${ms(now, 0)}, ${times(now / warm)} its warm invocation (before: ${ms(before, 0)})`;
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
        const past = (m: typeof h.deployed) => median(m.first.wallMs) - median(m.init.wallMs);
        return `${h.handler} ${ms(past(h.deployed), 0)} (before: ${ms(past(h.before), 0)}), of which its second invocation, warm, takes ${ms(median(h.deployed.first.againMs), 0)}`;
      })
      .join('; '),
    coldBeyondLimit: times(COLD_BEYOND_WARM_LIMIT),
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
