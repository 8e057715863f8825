/**
 * The fault matrix: each fault, on each path an opening can take, with what must come of it.
 * Shared by test/integration/fault-matrix.test.ts (which asserts it) and
 * scripts/reliability-matrix.ts (which prints it for docs/reliability.md).
 */

import { expect } from 'vitest';
import type { Fault } from '../../emulator/toloka-emulator.ts';
import { CheckQueueError, TokenUnavailableError } from '../../lambda/runtime/errors.ts';
import type { Action, Outcome } from '../../lambda/runtime/model.ts';
import type { OpeningsLedger } from '../../lambda/runtime/openings-ledger.ts';
import type { CheckQueue, TokenSource } from '../../lambda/runtime/ports.ts';
import { ASYNC_INVOKE_ATTEMPTS } from '../../local/local-app.ts';
import type { Duplicate } from '../../local/local-queue.ts';
import { Harness, TEST_TOKEN } from './harness.ts';

/**
 * `sqs`: a trigger message; `direct`: an asynchronous invocation (Scheduler); `fast`: the fault
 * hits the opener's own checks (the fast path) and then the queued ones; `checker`: the fault hits
 * the queued status checks (fast path off).
 */
export type FaultPath = 'sqs' | 'direct' | 'fast' | 'checker';
export const PATHS: readonly FaultPath[] = ['sqs', 'direct', 'fast', 'checker'];

/** Whether the fault is aimed at `GET /operations` rather than `POST …/open`. */
const hitsChecks = (path: FaultPath): boolean => path === 'fast' || path === 'checker';
/** The opener's fast path in these runs: one check at 0.5 s, then the hand-over. */
const FAST_PATH_SECONDS = 1.5;

export type Expected = Outcome | 'SUCCESS' | 'DLQ';

export const MAX_ATTEMPTS = 2;
export const MAX_RECEIVE_COUNT = 3;
export const REQUEST_TIMEOUT_MS = 300;
/** The emulator acts on a delayed request at once and answers after the client has given up. */
const LATE_ANSWER_MS = REQUEST_TIMEOUT_MS + 400;
/** Requests a whole opening may make on the checker path before its 2 s deadline (checks every 0.2 s). */
const CHECKS_BOUND = 20;
/**
 * Most requests one trigger may make to the faulted endpoint: attempts × receives (or async
 * invocations), plus on the fast path the opener's own attempts before it hands over.
 */
export function attemptBound(path: FaultPath): number {
  const queued = MAX_ATTEMPTS * Math.max(MAX_RECEIVE_COUNT, ASYNC_INVOKE_ATTEMPTS);
  return path === 'fast' ? queued + MAX_ATTEMPTS : queued;
}

type Persistence = 'persistent' | 'twice';

export interface FaultScenario {
  readonly name: string;
  /** The opening's deadline in this run. @default 2 s */
  readonly deadlineSeconds?: number;
  readonly paths: readonly FaultPath[];
  readonly expected: Expected;
  /** Whether the fault is permanent, so exactly one request is expected. */
  readonly permanent?: boolean;
  /**
   * Bounds on the requests to the faulted endpoint. @default 1 to attemptBound(path). Faults outside
   * Toloka (SSM, SQS) may stop an opening before any request, and on the checker path the checks
   * that precede and follow a fault count too, which the deadline bounds.
   */
  readonly attempts?: { readonly min: number; readonly max: number };

  readonly arrange: (world: World) => void;
}

export interface World {
  readonly harness: Harness;
  readonly path: FaultPath;
  readonly poolId: string;
  /** What the trigger asks: the matrix runs for opens and for closes. */
  readonly action: Action;
  /** The pool's operation for this action takes `durationMs` and ends in `result` (the pool starts where the action has work). */
  readonly actionTakes: (durationMs: number, result?: 'SUCCESS' | 'FAIL') => void;
  readonly flakyTokens: FlakyTokenSource;
  readonly flakyChecks: FlakyCheckQueue;
}

export interface ScenarioResult {
  readonly outcomes: Array<{ outcome: string; code?: string }>;
  /** Dead letters of distinct triggers and checks (a duplicated invocation dead-letters its payload twice). */
  readonly deadLetters: number;
  /** Requests to the endpoint the fault was aimed at (`POST …/open`, or `GET /operations` on the checker path). */
  readonly attempts: number;
  readonly everythingWritten: string;
}

/** A token source that fails while `failing(callNumber)` says so, as SSM does when throttled or down. */
export class FlakyTokenSource implements TokenSource {
  calls = 0;
  failing: (call: number) => boolean = () => false;
  async getToken(): Promise<string> {
    this.calls++;
    if (this.failing(this.calls)) {
      throw new TokenUnavailableError(
        'cannot read SSM parameter /toloka/token: ThrottlingException: Rate exceeded',
      );
    }
    return TEST_TOKEN;
  }
}

/** A check queue whose sends fail while `failing(callNumber)` says so, as SQS SendMessage can. */
export class FlakyCheckQueue implements CheckQueue {
  calls = 0;
  failing: (call: number) => boolean = () => false;
  inner: CheckQueue | undefined;
  async enqueue(...args: Parameters<CheckQueue['enqueue']>): Promise<void> {
    this.calls++;
    if (this.failing(this.calls)) throw new CheckQueueError('cannot enqueue check: ServiceUnavailable');
    if (this.inner === undefined) throw new Error('FlakyCheckQueue has no inner queue');
    await this.inner.enqueue(...args);
  }
}

function httpFault(fault: Fault, persistence: Persistence): (world: World) => void {
  return ({ harness, path, poolId, action, actionTakes }) => {
    // Faults hit POST …/open (or …/close); on the checker path the action succeeds and the checks meet the fault.
    actionTakes(hitsChecks(path) ? 600 : 0);
    harness.emulator.injectFault({
      ...fault,
      ...(hitsChecks(path)
        ? { method: 'GET', path: /^\/operations\// }
        : { method: 'POST', path: `/pools/${poolId}/${action}` }),
      times: persistence === 'persistent' ? Number.POSITIVE_INFINITY : 2,
    } as Fault);
  };
}

const transientFaults: Array<[string, Fault]> = [
  ['503', { kind: 'status', status: 503 }],
  ['500', { kind: 'status', status: 500 }],
  ['502', { kind: 'status', status: 502 }],
  ['504', { kind: 'status', status: 504 }],
  ['408', { kind: 'status', status: 408, body: null }],
  ['429 without Retry-After', { kind: 'status', status: 429 }],
  ['connection reset', { kind: 'reset' }],
  ['no answer within the request time-out', { kind: 'delay', delayMs: LATE_ANSWER_MS }],
  ['2xx with malformed JSON', { kind: 'malformed', status: 200 }],
];

const tokenRefusals: Array<[string, Fault]> = [
  ['401', { kind: 'status', status: 401 }],
  ['403 with an empty body', { kind: 'status', status: 403, body: null }],
];

const permanentFaults: Array<[string, Fault]> = [
  ['404', { kind: 'status', status: 404 }],
  ['400', { kind: 'status', status: 400 }],
];

export const SCENARIOS: readonly FaultScenario[] = [
  ...transientFaults.flatMap(([name, fault]): FaultScenario[] => [
    {
      name: `${name}, twice, then recovers`,
      paths: PATHS,
      expected: 'SUCCESS',
      arrange: httpFault(fault, 'twice'),
    },
    {
      name: `${name}, every time`,
      // Long enough for every receive to fail before it: what this row tests is the dead letter.
      // A receive after the deadline asks Toloka nothing and ends TIMED_OUT (recovery.test.ts).
      deadlineSeconds: 10,
      paths: PATHS,
      expected: 'DLQ',
      arrange: httpFault(fault, 'persistent'),
    },
  ]),
  {
    // A wait asked for by Toloka outlasts the run's usual 2 s deadline: 6 s here.
    name: '429 with Retry-After: 1, twice, then recovers',
    deadlineSeconds: 6,
    paths: PATHS,
    expected: 'SUCCESS',
    arrange: httpFault({ kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, 'twice'),
  },
  {
    // Toloka's wait is honoured however long it is asked for again: the opening waits on the
    // check queue (no receives used up, no dead letter) until its deadline.
    name: '429 with Retry-After: 1, every time',
    paths: PATHS,
    expected: 'TIMED_OUT',
    attempts: { min: 1, max: CHECKS_BOUND },
    arrange: httpFault({ kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, 'persistent'),
  },
  // A refused token on the open is a FAILED opening, at once (after reading the token again);
  // on a status check it is no verdict on the opening: the check ends in the dead-letter queue.
  ...tokenRefusals.flatMap(([name, fault]): FaultScenario[] => [
    {
      name,
      paths: ['sqs', 'direct'],
      expected: 'FAILED',
      permanent: true,
      arrange: httpFault(fault, 'persistent'),
    },
    {
      name,
      paths: ['fast', 'checker'],
      expected: 'DLQ',
      attempts: { min: 1, max: CHECKS_BOUND },
      arrange: httpFault(fault, 'persistent'),
    },
  ]),
  ...permanentFaults.map(
    ([name, fault]): FaultScenario => ({
      name,
      paths: PATHS,
      expected: 'FAILED',
      permanent: true,
      arrange: httpFault(fault, 'persistent'),
    }),
  ),
  {
    name: 'operation stuck in RUNNING past the deadline',
    paths: ['sqs', 'direct'],
    expected: 'TIMED_OUT',
    arrange: ({ actionTakes }) => actionTakes(600_000),
  },
  {
    name: 'operation ends in FAIL',
    paths: ['sqs', 'direct'],
    expected: 'FAILED',
    arrange: ({ actionTakes }) => actionTakes(600, 'FAIL'),
  },
  ...dependencyFaults('SSM', 'flakyTokens', { twice: 600, persistent: 600 }),
  ...dependencyFaults('SQS SendMessage', 'flakyChecks', { twice: 1_500, persistent: 60_000 }),
];

/**
 * A dependency outside Toloka (SSM, SQS) failing twice then recovering, and failing every time.
 * On the check paths the opener's own call goes through and the fault hits the later ones.
 * `openDurationMs` is how long the emulated opening takes on the paths that start a check.
 */
function dependencyFaults(
  label: string,
  dependency: 'flakyTokens' | 'flakyChecks',
  openDurationMs: Record<Persistence, number>,
): FaultScenario[] {
  const scenario = (persistence: Persistence): FaultScenario => ({
    name: persistence === 'twice' ? `${label} failing twice, then recovers` : `${label} failing every time`,
    paths: PATHS,
    attempts: { min: 0, max: CHECKS_BOUND },
    expected: persistence === 'twice' ? 'SUCCESS' : 'DLQ',
    arrange: (world) => {
      const checksOnly = hitsChecks(world.path);
      const duration = dependency === 'flakyTokens' && !checksOnly ? 0 : openDurationMs[persistence];
      world.actionTakes(duration);
      const first = checksOnly ? 2 : 1;
      world[dependency].failing = (call) =>
        call >= first && (persistence === 'persistent' || call < first + 2);
    },
  });
  return [scenario('twice'), scenario('persistent')];
}

export interface RunOptions {
  /**
   * Every message delivered twice (local/local-queue.ts), and on the direct path the invocation
   * too, with the `triggerId` Scheduler passes, as Lambda may run an asynchronous event twice.
   * @default 'off'
   */
  readonly duplicate?: Duplicate;
  /** The openings ledger of the run (a DynamoDB one behind the fault proxy); default in memory. */
  readonly ledger?: () => Promise<OpeningsLedger>;
  /** What the trigger asks. @default 'open' */
  readonly action?: Action;
}

/** Runs one scenario on one path from trigger to the end, and reports what came of it. */
export async function runScenario(
  scenario: FaultScenario,
  path: FaultPath,
  poolId = '4242',
  options: RunOptions = {},
): Promise<ScenarioResult> {
  const duplicate = options.duplicate ?? 'off';
  const action = options.action ?? 'open';
  const flakyTokens = new FlakyTokenSource();
  const flakyChecks = new FlakyCheckQueue();
  const harness = await new Harness().start({
    ...(options.ledger === undefined ? {} : { ledger: await options.ledger() }),
    tokens: flakyTokens,
    wrapCheckQueue: (queue) => {
      flakyChecks.inner = queue;
      return flakyChecks;
    },
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    retry: { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 10, maxDelayMs: 50 },
    poll: {
      fastPathSeconds: path === 'fast' ? FAST_PATH_SECONDS : 0,
      minDelaySeconds: 1,
      backoffFactor: 1,
      deadlineSeconds: scenario.deadlineSeconds ?? 2,
    },
    maxReceiveCount: MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: 1,
    timeScale: 0.2,
  });
  // The emulator's default: a retried POST whose first attempt got through meets 409
  // POOL_LOCKED_BY_ANOTHER_OPERATION, which the app follows (the running operation, looked up).
  harness.app.triggerQueue.duplicate = duplicate;
  harness.app.checkQueue.duplicate = duplicate;
  try {
    const actionTakes = (durationMs: number, result: 'SUCCESS' | 'FAIL' = 'SUCCESS') =>
      harness.emulator.setPool(
        poolId,
        action === 'open'
          ? { openDurationMs: durationMs, result }
          : { status: 'OPEN', closeDurationMs: durationMs, closeResult: result },
      );
    scenario.arrange({ harness, path, poolId, action, actionTakes, flakyTokens, flakyChecks });
    // An open's trigger is written as before closes existed.
    const trigger = action === 'open' ? { poolId } : { poolId, action };
    if (path === 'direct') {
      // Scheduler's payload names its run, which is what makes a second run of the event the same trigger.
      const payload = duplicate === 'off' ? trigger : { ...trigger, triggerId: `scheduler-run-${poolId}` };
      await invokeDirect(harness, payload, duplicate);
    } else harness.app.triggerQueue.send(JSON.stringify(trigger));
    await harness.app.settled();
    const attempts = hitsChecks(path)
      ? harness.emulator.countRequests('GET', '/operations/')
      : harness.emulator.countRequests('POST', `/pools/${poolId}/${action}`);
    return {
      outcomes: harness.app.outcomes.map(({ outcome, code }) => ({ outcome, ...(code ? { code } : {}) })),
      deadLetters:
        new Set(harness.app.triggerQueue.deadLetters.map(({ body }) => body)).size +
        new Set(harness.app.checkQueue.deadLetters.map(({ body }) => body)).size,
      attempts,
      everythingWritten: JSON.stringify([
        harness.log.entries,
        harness.app.outcomes,
        harness.app.checkQueue.sent,
      ]),
    };
  } finally {
    await harness.stop();
  }
}

/** The direct path's asynchronous invocation, run twice (in a row or at once) when duplicated. */
async function invokeDirect(harness: Harness, payload: object, duplicate: Duplicate): Promise<void> {
  if (duplicate === 'at-once') {
    await Promise.all([harness.app.invokeAsync(payload), harness.app.invokeAsync(payload)]);
    return;
  }
  await harness.app.invokeAsync(payload);
  if (duplicate === 'in-a-row') await harness.app.invokeAsync(payload);
}

/** What a run that succeeded ends in, for each action. */
const SUCCESS: Record<Action, readonly string[]> = {
  open: ['OPENED', 'ALREADY_OPEN'],
  close: ['CLOSED', 'ALREADY_CLOSED'],
};

/**
 * The matrix's guarantee for one run: exactly one outcome record or one dead letter, the one the
 * scenario expects; no more requests than `attemptsFactor` times a single delivery's bound; and
 * the token in nothing written.
 */
export function expectOneEnd(
  result: ScenarioResult,
  scenario: FaultScenario,
  path: FaultPath,
  action: Action,
  attemptsFactor = 1,
): void {
  expect(result.outcomes.length + result.deadLetters).toBe(1);
  if (scenario.expected === 'DLQ') expect(result.deadLetters).toBe(1);
  else if (scenario.expected === 'SUCCESS') expect(SUCCESS[action]).toContain(result.outcomes[0]?.outcome);
  else expect(result.outcomes[0]?.outcome).toBe(scenario.expected);
  const bounds = scenario.attempts ?? { min: 1, max: scenario.permanent ? 1 : attemptBound(path) };
  expect(result.attempts).toBeGreaterThanOrEqual(bounds.min);
  expect(result.attempts).toBeLessThanOrEqual(attemptsFactor * bounds.max);
  // Logs, outcome records, queued messages and every exception with its causes.
  expect(result.everythingWritten).not.toContain(TEST_TOKEN);
}
