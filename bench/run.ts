/**
 * `npm run bench`: measures the app against toloka-kit and against its own targets, and writes
 * docs/benchmarks.md. Progress goes to stderr. `--quick` runs a shortened smoke version and writes
 * its report to a temporary file instead (`--out <file>` chooses the file either way).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { TolokaEmulator } from '../emulator/toloka-emulator.ts';
import { resetLambdaRuntime } from '../lambda/wiring/lambda-dependencies.ts';
import { createOpeningsTable } from '../test/support/moto.ts';
import { DESIGNS, type DesignName, runBurst } from './burst.ts';
import { burstChart } from './burst-chart.ts';
import type { BurstResult } from './burst-report.ts';
import { runColdStart } from './cold-start.ts';
import { DURATIONS_MS, RUNS, runConfirmation, STAGGER_MS, TOKEN, TOKEN_PARAMETER } from './confirmation.ts';
import {
  awsEnvironment,
  CountingProxy,
  describeCode,
  describeMachine,
  emptyTable,
  ROOT,
  type Started,
  setupPythonTools,
  startEmulatorProcess,
  startMoto,
  startTlsProxy,
} from './infra.ts';
import { progress } from './output.ts';
import { renderReport } from './report.ts';
import { configureHandler, runBatch, runWarm } from './warm.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
});
const quick = values.quick === true;
const settings = quick
  ? {
      durations: [3_000, 0],
      runs: 1,
      coldRounds: 2,
      warmIterations: 50,
      warmup: 10,
      batchRuns: 5,
      delayedRuns: 3,
      burst: { sizes: [30], longestOperationMs: 10_000, optionAt: 30 },
    }
  : {
      durations: [...DURATIONS_MS],
      runs: RUNS,
      coldRounds: 15,
      warmIterations: 1_000,
      warmup: 100,
      batchRuns: 25,
      delayedRuns: 10,
      burst: { sizes: [100, 300, 1000], longestOperationMs: 60_000, optionAt: 300 },
    };
/** Toloka's per-account limit, which the burst's emulator enforces, and the construct's default budget. */
const TOLOKA_LIMIT_PER_SECOND = 300;
const BURST_BUDGET_PER_SECOND = 50;
/** A burst run still going after this long is stopped (and reported so). */
const BURST_LIMIT_MS = 15 * 60_000;
/** The stand-in for the distance to Toloka in the supplementary warm and batch measurements. */
const DELAY_MS = 20;
const outFile =
  values.out ?? (quick ? join(tmpdir(), 'toloka-bench-quick.md') : join(ROOT, 'docs', 'benchmarks.md'));

const startedAt = new Date();
const started: Started[] = [];
const emulators: TolokaEmulator[] = [];

async function main(): Promise<void> {
  progress(`bench ${quick ? '(quick) ' : ''}writing ${outFile}`);
  setupPythonTools();
  const machine = describeMachine();
  const code = describeCode();
  progress(`${machine.cpu}, ${machine.cores} cores, Node.js ${machine.node}`);

  const moto = await startMoto();
  started.push(moto);
  Object.assign(process.env, awsEnvironment(moto.url));
  const openingsTable = await createOpeningsTable('bench-openings');
  const proxy = new CountingProxy();
  const proxied = await proxy.start(moto.url);
  started.push(proxied);
  const appEmulator = new TolokaEmulator({ tokens: [TOKEN] });
  const kitEmulator = new TolokaEmulator({ tokens: [TOKEN] });
  emulators.push(appEmulator, kitEmulator);
  await appEmulator.start();
  await kitEmulator.start();
  progress(`moto ${moto.url} (proxy ${proxied.url}), emulators ${appEmulator.url}, ${kitEmulator.url}`);

  const confirmation = await runConfirmation({
    proxyUrl: proxied.url,
    motoUrl: moto.url,
    openingsTable,
    proxy,
    appEmulator,
    kitEmulator,
    durationsMs: settings.durations,
    runs: settings.runs,
  });
  await appEmulator.stop();
  await kitEmulator.stop();

  // Sections 3 to 5: an emulator in its own process; cold starts reach moto over TLS (below),
  // sections 4 and 5 through the counting proxy.
  const emulatorProcess = await startEmulatorProcess(TOKEN);
  started.push(emulatorProcess);
  const handlerEnv = {
    // Through the counting proxy: it records the ledger's calls, which sections 4 and 5 send again raw.
    ...awsEnvironment(proxied.url),
    TOLOKA_API_URL: emulatorProcess.url,
    TOLOKA_TOKEN_PARAMETER: TOKEN_PARAMETER,
    CHECK_QUEUE_URL: `${moto.url}/123456789012/bench-checks`,
    OPENINGS_TABLE: openingsTable,
  };
  // Cold starts reach AWS (moto, where section 1 stored the token) over TLS, as in Lambda.
  const coldDir = mkdtempSync(join(tmpdir(), 'toloka-bench-'));
  const tls = await startTlsProxy(moto.url, coldDir);
  started.push(tls, { url: coldDir, stop: async () => rmSync(coldDir, { recursive: true, force: true }) });
  const coldStart = await runColdStart({
    dir: coldDir,
    rounds: settings.coldRounds,
    env: { ...handlerEnv, AWS_ENDPOINT_URL: tls.url, NODE_EXTRA_CA_CERTS: tls.caFile },
    emulatorUrl: emulatorProcess.url,
    motoUrl: moto.url,
    token: TOKEN,
  });

  configureHandler(handlerEnv);
  const emptyLedger = () => emptyTable(moto.url, openingsTable);
  const warm = await runWarm({
    emulatorUrl: emulatorProcess.url,
    token: TOKEN,
    poolId: '3002',
    iterations: settings.warmIterations,
    warmup: settings.warmup,
    delayMs: DELAY_MS,
    delayedIterations: settings.delayedRuns * 10,
    proxy,
    proxyUrl: proxied.url,
    emptyLedger,
  });
  const batch = await runBatch({
    emulatorUrl: emulatorProcess.url,
    token: TOKEN,
    runs: settings.batchRuns,
    warmup: 3,
    delayMs: DELAY_MS,
    delayedRuns: settings.delayedRuns,
    share: BURST_BUDGET_PER_SECOND / 10,
    proxy,
    proxyUrl: proxied.url,
    emptyLedger,
  });
  resetLambdaRuntime();
  await emulatorProcess.stop();
  started.splice(started.indexOf(emulatorProcess), 1);

  const burst = await runBursts(join(dirname(outFile), BURST_CHART));

  const wallSeconds = (Date.now() - startedAt.getTime()) / 1000;
  const markdown = renderReport({
    machine,
    code,
    startedAt,
    wallSeconds,
    confirmation,
    coldStart,
    warm,
    batch,
    burst,
    settings: { runs: settings.runs, staggerMs: STAGGER_MS },
  });
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, markdown);
  progress(`wrote ${outFile} (${Math.round(wallSeconds)} s)`);
}

const BURST_CHART = 'benchmarks-burst.svg';

/** Section 6: each size with the design before and the one now, and the option without a budget at one size. */
async function runBursts(chartPath: string): Promise<BurstResult> {
  const limited = await startEmulatorProcess(TOKEN, TOLOKA_LIMIT_PER_SECOND);
  started.push(limited);
  const { sizes, longestOperationMs, optionAt } = settings.burst;
  const plan: Array<{ design: DesignName; pools: number }> = sizes.flatMap((pools) => [
    { design: 'direct' as const, pools },
    ...(pools === optionAt ? [{ design: 'queued' as const, pools }] : []),
    { design: 'paced' as const, pools },
  ]);
  const runs = [];
  for (const [index, { design, pools }] of plan.entries()) {
    progress(`burst: ${DESIGNS[design].label}, N=${pools}`);
    runs.push(
      await runBurst({
        design,
        pools,
        emulatorUrl: limited.url,
        token: TOKEN,
        firstPoolId: 100_000 + index * 2_000,
        budgetPerSecond: BURST_BUDGET_PER_SECOND,
        longestOperationMs,
        limitMs: BURST_LIMIT_MS,
      }),
    );
  }
  await limited.stop();
  started.splice(started.indexOf(limited), 1);
  const labels = Object.fromEntries(
    Object.entries(DESIGNS).map(([name, design]) => [name, design.label]),
  ) as Record<DesignName, string>;
  mkdirSync(dirname(chartPath), { recursive: true });
  writeFileSync(chartPath, burstChart(runs, BURST_BUDGET_PER_SECOND, labels));
  progress(`wrote ${chartPath}`);
  return {
    runs,
    budgetPerSecond: BURST_BUDGET_PER_SECOND,
    tolokaLimitPerSecond: TOLOKA_LIMIT_PER_SECOND,
    longestOperationMs,
    limitMs: BURST_LIMIT_MS,
    chartFile: BURST_CHART,
  };
}

async function shutdown(): Promise<void> {
  for (const emulator of emulators) await emulator.stop();
  for (const process of started.reverse()) await process.stop();
}

try {
  await main();
} catch (error) {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await shutdown();
  progress(`stopped; still active: ${process.getActiveResourcesInfo().join(', ')}`);
}
