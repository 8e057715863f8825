/**
 * The fault matrix again, with SQS and Lambda delivering at least once: every receive of every
 * message reaches the handler twice (in a row, or at once), and on the direct path the invocation
 * runs twice with Scheduler's `triggerId`. The guarantee does not change: each trigger ends in
 * exactly one outcome record or one dead letter, never both, never neither.
 */
import { describe, it, vi } from 'vitest';
import type { Duplicate } from '../../local/local-queue.ts';
import { expectOneEnd, type FaultPath, runScenario, SCENARIOS } from '../support/fault-scenarios.ts';

// The runs mostly wait on timers: more of them at once keeps this file as quick as the plain matrix.
vi.setConfig({ maxConcurrency: 10 });

const describePath: Record<FaultPath, string> = {
  sqs: 'SQS trigger',
  direct: 'direct invocation',
  fast: 'fast-path check',
  checker: 'queued status check',
};
const modes: ReadonlyArray<readonly [string, Exclude<Duplicate, 'off'>]> = [
  ['twice in a row', 'in-a-row'],
  ['twice at once', 'at-once'],
];
const cases = (['open', 'close'] as const).flatMap((action) =>
  modes.flatMap(([label, duplicate]) =>
    SCENARIOS.flatMap((scenario) =>
      scenario.paths.map(
        (path) => [action, scenario.name, describePath[path], label, scenario, path, duplicate] as const,
      ),
    ),
  ),
);

describe.concurrent('the fault matrix with every delivery made twice: still one outcome record or one dead letter', () => {
  it.each(cases)(
    '%s: %s on the %s path, delivered %s',
    async (action, _, __, ___, scenario, path, duplicate) => {
      const result = await runScenario(scenario, path, '4242', { duplicate, action });

      // Each receive runs the handler twice, so up to twice the requests of a single delivery.
      expectOneEnd(result, scenario, path, action, 2);
    },
  );
});
