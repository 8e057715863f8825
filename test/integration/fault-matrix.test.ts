import { describe, expect, it } from 'vitest';
import { attemptBound, type FaultPath, runScenario, SCENARIOS } from '../support/fault-scenarios.ts';
import { TEST_TOKEN } from '../support/harness.ts';

const cases = SCENARIOS.flatMap((scenario) => scenario.paths.map((path) => ({ scenario, path })));
const describePath: Record<FaultPath, string> = {
  sqs: 'SQS trigger',
  direct: 'direct invocation',
  fast: 'fast-path check',
  checker: 'queued status check',
};

describe.concurrent('the fault matrix: every trigger ends in exactly one outcome record or one dead letter', () => {
  it.each(cases.map(({ scenario, path }) => [scenario.name, describePath[path], scenario, path] as const))(
    '%s on the %s path',
    async (_, __, scenario, path) => {
      const result = await runScenario(scenario, path);

      expect(result.outcomes.length + result.deadLetters).toBe(1);
      if (scenario.expected === 'DLQ') {
        expect(result.deadLetters).toBe(1);
      } else if (scenario.expected === 'SUCCESS') {
        expect(['OPENED', 'ALREADY_OPEN']).toContain(result.outcomes[0]?.outcome);
      } else {
        expect(result.outcomes[0]?.outcome).toBe(scenario.expected);
      }
      const bounds = scenario.attempts ?? { min: 1, max: scenario.permanent ? 1 : attemptBound(path) };
      expect(result.attempts).toBeGreaterThanOrEqual(bounds.min);
      expect(result.attempts).toBeLessThanOrEqual(bounds.max);
      // Logs, outcome records, queued messages and every exception with its causes.
      expect(result.everythingWritten).not.toContain(TEST_TOKEN);
    },
  );
});
