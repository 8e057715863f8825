/**
 * `npm start`: the whole app on this machine. Starts the Toloka emulator, drops a trigger
 * message on a local queue, and runs the real opener and checker handlers through a local delay
 * queue until the opening ends, printing its progress and its outcome record.
 *
 *   npm start                                   # pool 1001 opens in about 8 s
 *   npm start -- --duration 20 --result FAIL    # a slower opening that fails
 *   npm start -- --refuse EMPTY_POOL            # Toloka refuses (409)
 *   npm start -- --already-open                 # Toloka answers 204
 *   npm start -- --direct                       # invoke the opener directly, as EventBridge Scheduler does
 *   npm start -- --duration 40                  # outlasts the opener's 20 s fast path: the check queue takes over
 *   npm start -- --fast-path 0                  # every check through the (local) delay queue
 */
import { parseArgs } from 'node:util';
import { TolokaEmulator } from '../emulator/toloka-emulator.ts';
import type { OutcomeRecord } from '../lambda/runtime/model.ts';
import type { Log } from '../lambda/runtime/pool-opening.ts';
import { createLocalApp } from '../local/local-app.ts';

const { values } = parseArgs({
  options: {
    'pool-id': { type: 'string', default: '1001' },
    duration: { type: 'string', default: '8' },
    result: { type: 'string', default: 'SUCCESS' },
    refuse: { type: 'string' },
    'already-open': { type: 'boolean', default: false },
    direct: { type: 'boolean', default: false },
    'deadline-seconds': { type: 'string', default: '3600' },
    'fast-path': { type: 'string', default: '20' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(
    'usage: npm start -- [--pool-id ID] [--duration SECONDS] [--result SUCCESS|FAIL] [--refuse CODE] [--already-open] [--direct] [--deadline-seconds N] [--fast-path SECONDS]',
  );
  process.exit(0);
}

const started = Date.now();
const stamp = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const say = (line: string) => console.log(`${stamp()}  ${line}`);

const poolId = values['pool-id'];
const durationSeconds = Number(values.duration);
if (!Number.isFinite(durationSeconds) || durationSeconds < 0) {
  console.error(`--duration: must be a number of seconds, got "${values.duration}"`);
  process.exit(2);
}
if (values.result !== 'SUCCESS' && values.result !== 'FAIL') {
  console.error(`--result: must be SUCCESS or FAIL, got "${values.result}"`);
  process.exit(2);
}

const emulator = new TolokaEmulator({ tokens: ['local-dev-token'] });
const origin = await emulator.start();
emulator.setPool(poolId, {
  status: values['already-open'] ? 'OPEN' : 'CLOSED',
  openDurationMs: durationSeconds * 1000,
  result: values.result,
  ...(values.refuse !== undefined ? { refuse: { code: values.refuse } } : {}),
});
say(`Toloka emulator listening on ${origin} (pool ${poolId} opens in ${durationSeconds} s)`);

const showProgress = (message: string, attributes: Record<string, unknown> = {}) => {
  const { status, progress, nextCheckInSeconds, operationId } = attributes;
  const bar = typeof progress === 'number' ? progressBar(progress) : '';
  const next = nextCheckInSeconds === undefined ? '' : `, next check in ${String(nextCheckInSeconds)} s`;
  say(`${message}: operation ${String(operationId)} ${String(status)} ${bar}${next}`);
};
const progressLog: Log = {
  debug: showProgress,
  info: showProgress,
  warn: (message, attributes) => say(`warning: ${message} ${JSON.stringify(attributes ?? {})}`),
};

const app = createLocalApp({
  apiOrigin: origin,
  token: 'local-dev-token',
  log: progressLog,
  poll: { deadlineSeconds: Number(values['deadline-seconds']), fastPathSeconds: Number(values['fast-path']) },
  outcomes: {
    report: async (record: OutcomeRecord) => {
      say(`outcome record: ${JSON.stringify(record)}`);
    },
  },
});

const trigger = { poolId };
if (values.direct) {
  say(`invoking the opener directly with ${JSON.stringify(trigger)}`);
  const result = await app.opener(trigger);
  say(`the opener returned ${JSON.stringify(result)}`);
} else {
  say(`sending ${JSON.stringify(trigger)} to the trigger queue`);
  app.triggerQueue.send(JSON.stringify(trigger));
}
await app.settled();
app.close();
await emulator.stop();

const outcome = app.outcomes[0]?.outcome;
const dead = app.triggerQueue.deadLetters.length + app.checkQueue.deadLetters.length;
say(`done: ${outcome ?? 'no outcome'}${dead > 0 ? `, ${dead} message(s) in the dead-letter queues` : ''}`);
process.exit(outcome === 'OPENED' || outcome === 'ALREADY_OPEN' ? 0 : 1);

function progressBar(percent: number): string {
  const filled = Math.round(Math.max(0, Math.min(100, percent)) / 5);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${String(percent).padStart(3)}%`;
}
