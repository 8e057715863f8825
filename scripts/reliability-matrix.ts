/**
 * Prints the fault matrix of docs/reliability.md as a Markdown table, by running every scenario
 * of test/support/fault-scenarios.ts (the same ones the fault-matrix test asserts).
 *
 *   npm run reliability-matrix
 */
import { type FaultPath, PATHS, runScenario, SCENARIOS } from '../test/support/fault-scenarios.ts';

const cell = async (scenarioIndex: number, path: FaultPath): Promise<string> => {
  const scenario = SCENARIOS[scenarioIndex];
  if (scenario === undefined || !scenario.paths.includes(path)) return '—';
  const result = await runScenario(scenario, path);
  const end =
    result.deadLetters > 0
      ? 'DLQ'
      : result.outcomes
          .map((record) => (record.code ? `${record.outcome} (${record.code})` : record.outcome))
          .join(', ');
  return `${end}, ${result.attempts} req`;
};

console.log(`| fault | ${PATHS.map((path) => path).join(' | ')} |`);
console.log(`|---|${PATHS.map(() => '---').join('|')}|`);
for (const [index, scenario] of SCENARIOS.entries()) {
  const cells = await Promise.all(PATHS.map((path) => cell(index, path)));
  console.log(`| ${scenario.name} | ${cells.join(' | ')} |`);
}
