/**
 * `npm start`: the whole app on this machine. Starts the Toloka emulator, drops a trigger
 * message on a local queue, and runs the real opener and checker handlers through a local delay
 * queue until the opening ends, printing its progress and its outcome record.
 *
 *   npm start                                   # pool 1001 opens in about 8 s
 *   npm start -- --duration 20 --result FAIL    # a slower opening that fails
 *   npm start -- --refuse EMPTY_POOL            # Toloka refuses (409)
 *   npm start -- --already-open                 # Toloka answers 204
 *   npm start -- --close                        # close the pool (it starts open)
 *   npm start -- --window                       # open and close at once: the close waits for the opening
 *   npm start -- --direct                       # invoke the opener directly, as `aws lambda invoke` does
 *   npm start -- --duration 40                  # outlasts the opener's 20 s fast path: the check queue takes over
 *   npm start -- --fast-path 0                  # every check through the (local) delay queue
 *   npm start -- --help                         # every option, its default, the exit codes
 *
 * Exit codes: 0 OPENED, ALREADY_OPEN, CLOSED or ALREADY_CLOSED, 1 FAILED or TIMED_OUT, 2 bad usage
 * (scripts/local-run-options.ts).
 */
import { TolokaEmulator } from '../emulator/toloka-emulator.ts';
import type { OutcomeRecord } from '../lambda/runtime/model.ts';
import type { Log } from '../lambda/runtime/ports.ts';
import { createLocalApp } from '../local/local-app.ts';
import {
  LocalRunExit,
  type LocalRunOptions,
  localRunHelp,
  type ParsedCommandLine,
  parseLocalRunArgs,
  UsageError,
} from './local-run-options.ts';

let commandLine: ParsedCommandLine;
try {
  commandLine = parseLocalRunArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  // One line, no stack: the option and what is wrong with it.
  console.error(`npm start: ${error.message}; see npm start -- --help`);
  process.exit(LocalRunExit.USAGE);
}
if (commandLine.kind === 'help') {
  process.stdout.write(localRunHelp());
  process.exit(LocalRunExit.OK);
}
const options = commandLine.options;

const started = Date.now();
const stamp = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const say = (line: string) => console.log(`${stamp()}  ${line}`);

const { poolId, durationSeconds } = options;
const emulator = new TolokaEmulator({ tokens: ['local-dev-token'] });
const origin = await emulator.start();
(options.training ? emulator.setTraining.bind(emulator) : emulator.setPool.bind(emulator))(
  poolId,
  options.close
    ? {
        status: 'OPEN',
        closeDurationMs: durationSeconds * 1000,
        closeResult: options.result,
        ...(options.refuse !== undefined ? { refuseClose: { code: options.refuse } } : {}),
      }
    : {
        status: options.alreadyOpen ? 'OPEN' : 'CLOSED',
        openDurationMs: durationSeconds * 1000,
        result: options.result,
        ...(options.refuse !== undefined ? { refuse: { code: options.refuse } } : {}),
        // A window's close takes as long as its opening.
        ...(options.window ? { closeDurationMs: durationSeconds * 1000 } : {}),
      },
);
say(`Toloka emulator listening on ${origin} (${whatTolokaDoes(options)})`);

const showProgress = (message: string, attributes: Record<string, unknown> = {}) => {
  const { status, progress, nextCheckInSeconds, operationId } = attributes;
  const bar = typeof progress === 'number' ? progressBar(progress) : '';
  const next = nextCheckInSeconds === undefined ? '' : `, next check in ${String(nextCheckInSeconds)} s`;
  // A run waiting for the pool's other action has no operation yet.
  if (operationId === undefined) say(`${message}${next}`);
  else say(`${message}: operation ${String(operationId)} ${String(status)} ${bar}${next}`);
};
const progressLog: Log = {
  debug: showProgress,
  info: showProgress,
  warn: (message, attributes) => say(`warning: ${message} ${JSON.stringify(attributes ?? {})}`),
};

// As the stack sizes them from the function's time-out (the fast path plus 12 s): a step holds its
// run for twice that, and a failed message comes back after six times that. A shorter lease
// would let a close waiting for this opening take it over while its own step still follows it.
const stepSeconds = options.fastPathSeconds + 12;
const app = createLocalApp({
  apiOrigin: origin,
  token: 'local-dev-token',
  log: progressLog,
  leaseMs: 2 * stepSeconds * 1000,
  visibilityTimeoutSeconds: 6 * stepSeconds,
  poll: { deadlineSeconds: options.deadlineSeconds, fastPathSeconds: options.fastPathSeconds },
  outcomes: {
    report: async (record: OutcomeRecord) => {
      say(`outcome record: ${JSON.stringify(record)}`);
    },
  },
});

const target = options.training ? { trainingId: poolId } : { poolId };
// An open's trigger is written as before closes existed; a close names its action.
const triggers = options.window
  ? [target, { ...target, action: 'close' }]
  : [options.close ? { ...target, action: 'close' } : target];
for (const trigger of triggers) {
  if (options.direct) {
    say(`invoking the opener directly with ${JSON.stringify(trigger)}`);
    // A window's close is asked while the opening runs: not awaited, as Scheduler would not.
    const result = app.opener(trigger).then((answer) => say(`the opener returned ${JSON.stringify(answer)}`));
    if (!options.window) await result;
  } else {
    say(`sending ${JSON.stringify(trigger)} to the trigger queue`);
    app.triggerQueue.send(JSON.stringify(trigger));
  }
}
await app.settled();
app.close();
await emulator.stop();

const outcomes = app.outcomes.map((record) => record.outcome);
const dead = app.triggerQueue.deadLetters.length + app.checkQueue.deadLetters.length;
say(
  `done: ${outcomes.length === 0 ? 'no outcome' : outcomes.join(', ')}${dead > 0 ? `, ${dead} message(s) in the dead-letter queues` : ''}`,
);
const fine = new Set(['OPENED', 'ALREADY_OPEN', 'CLOSED', 'ALREADY_CLOSED']);
process.exit(
  outcomes.length === triggers.length && outcomes.every((outcome) => fine.has(outcome))
    ? LocalRunExit.OK
    : LocalRunExit.NOT_OPENED,
);

/** The banner's promise, true to the options: what Toloka (the emulator) will answer. */
function whatTolokaDoes(run: LocalRunOptions): string {
  const what = `${run.training ? 'training' : 'pool'} ${run.poolId}`;
  if (run.close) {
    if (run.refuse !== undefined) return `${what} is open; Toloka refuses to close it with 409 ${run.refuse}`;
    return `${what} is open; it ${run.result === 'SUCCESS' ? 'closes' : 'fails to close'} ${run.durationSeconds === 0 ? "at once, in Toloka's first answer" : `in ${run.durationSeconds} s`}`;
  }
  if (run.window && run.refuse === undefined && !run.alreadyOpen) {
    return `${what} opens in ${run.durationSeconds} s, then closes in ${run.durationSeconds} s`;
  }
  if (run.refuse !== undefined)
    return `Toloka refuses to open ${run.training ? 'training' : 'pool'} ${run.poolId} with 409 ${run.refuse}`;
  if (run.alreadyOpen)
    return `${run.training ? 'training' : 'pool'} ${run.poolId} is already open: Toloka answers 204`;
  if (run.durationSeconds === 0) {
    return `${run.training ? 'training' : 'pool'} ${run.poolId} ${run.result === 'SUCCESS' ? 'opens' : 'fails to open'} at once, in Toloka's first answer`;
  }
  return run.result === 'SUCCESS'
    ? `${run.training ? 'training' : 'pool'} ${run.poolId} opens in ${run.durationSeconds} s`
    : `${run.training ? 'training' : 'pool'} ${run.poolId} fails to open after ${run.durationSeconds} s`;
}

function progressBar(percent: number): string {
  const filled = Math.round(Math.max(0, Math.min(100, percent)) / 5);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${String(percent).padStart(3)}%`;
}
