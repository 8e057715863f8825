import { LogOutcomeSink, SERVICE_NAME } from '../lambda/adapters/outcome-sinks.ts';
import { DEFAULT_POLL, type PollSettings } from '../lambda/runtime/config.ts';
import { isTransient, RetriesExhaustedError } from '../lambda/runtime/errors.ts';
import type { CheckMessage } from '../lambda/runtime/messages.ts';
import { type Action, type OutcomeRecord, type TolokaTarget, targetFields } from '../lambda/runtime/model.ts';
import type { OpeningDependencies, StepResult } from '../lambda/runtime/opening-steps.ts';
import { checkOperation } from '../lambda/runtime/operation-check.ts';
import type { CheckQueue, Log } from '../lambda/runtime/ports.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from '../lambda/runtime/retry.ts';
import { runAction } from '../lambda/runtime/target-action.ts';
import { MemoryOpeningsLedger } from '../local/memory-openings-ledger.ts';
import { type Connection, type ConnectionOptions, connect } from './connection.ts';
import { apiFailure, ExitCode, exitCodeForRecord, type Failure, failureFromError } from './exit-codes.ts';
import type { CliIo, CommandResult } from './io.ts';
import { ProgressReporter } from './progress.ts';
import { targetLabel } from './settings.ts';
import { describeTrouble, describeWarning, inAWhile, troubleOf } from './trouble.ts';

/** How the command line speaks of each action. */
const WORDS: Record<Action, { readonly ing: string; readonly done: string; readonly not: string }> = {
  open: { ing: 'opening', done: 'open', not: 'not opened' },
  close: { ing: 'closing', done: 'closed', not: 'not closed' },
};

export interface ActionOptions extends ConnectionOptions {
  /** Follow the operation until it ends or `timeoutSeconds` pass. */
  readonly wait: boolean;
  readonly timeoutSeconds: number;
}

/** Without --wait, retries of the open request may take this long, pauses included. */
const OPEN_BUDGET_MS = 60_000;
/** A check at the deadline still gets this much time for its retries. */
const CHECK_BUDGET_FLOOR_MS = 10_000;
/** With --wait, how the checks back off while Toloka cannot be reached (attempts: until --timeout). */
const WAIT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
};
const WAIT_RETRY_FLOOR_MS = 500;

/** Where runAction hands an unfinished operation over: kept here instead of SQS. */
class HandOver implements CheckQueue {
  last: { readonly message: CheckMessage; readonly delaySeconds: number } | undefined;
  async enqueue(message: CheckMessage, delaySeconds: number): Promise<void> {
    this.last = { message, delaySeconds };
  }
}

/** The outcome record, captured as the Lambdas write it (the `--json` object) and as data. */
class CapturedOutcome {
  record: OutcomeRecord | undefined;
  line: string | undefined;
  private readonly sink = new LogOutcomeSink(SERVICE_NAME, (line) => {
    this.line = line;
  });
  async report(record: OutcomeRecord): Promise<void> {
    this.record = record;
    await this.sink.report(record);
  }
}

/**
 * `toloka-pool open <poolId>` and `toloka-pool close <poolId>`: the Lambdas' runAction with the
 * CLI's dependencies. Without --wait the fast path is 0 s, so the first hand-over ends the command
 * (PENDING); with --wait the fast path and the deadline are the timeout, and each hand-over is
 * followed here by the next checkOperation after its delay, as the checker Lambda would, until
 * SUCCESS, FAIL or the deadline.
 */
export async function actionCommand(
  target: TolokaTarget,
  action: Action,
  options: ActionOptions,
  io: CliIo,
): Promise<CommandResult> {
  const connection = connect(options, io);
  try {
    return await act(target, action, options, connection, io);
  } finally {
    await connection.close();
  }
}

async function act(
  target: TolokaTarget,
  action: Action,
  options: ActionOptions,
  connection: Connection,
  io: CliIo,
): Promise<CommandResult> {
  const label = targetLabel(target);
  const words = WORDS[action];
  const progress = options.wait ? new ProgressReporter(io.stderr, label) : undefined;
  const seen: { operationId?: string; status?: string; progress?: number } = {};
  const note = (line: string) => (progress ? progress.note(line) : io.stderr.write(`${line}\n`));
  const log: Log = {
    debug: (_message, attributes) => observe(attributes),
    info: (_message, attributes) => observe(attributes),
    warn: (message, attributes) => note(`${label}: ${describeWarning(message, attributes)}`),
  };
  function observe(attributes: Record<string, unknown> = {}): void {
    const { operationId, status, progress: percent } = attributes;
    if (typeof operationId === 'string' && seen.operationId === undefined) {
      seen.operationId = operationId;
      if (progress) note(`${label}: operation ${operationId}`);
    }
    if (typeof status !== 'string') return;
    seen.status = status;
    seen.progress = typeof percent === 'number' ? percent : undefined;
    progress?.update({ status, progress: seen.progress });
  }

  const handOver = new HandOver();
  const outcome = new CapturedOutcome();
  const poll: PollSettings = options.wait
    ? { ...DEFAULT_POLL, fastPathSeconds: options.timeoutSeconds, deadlineSeconds: options.timeoutSeconds }
    : { ...DEFAULT_POLL, fastPathSeconds: 0 };
  const deps: OpeningDependencies = {
    toloka: connection.toloka,
    tokens: connection.tokens,
    checks: handOver,
    outcomes: outcome,
    // One run in one process: the ledger's guarantees are about redeliveries, which a command
    // line does not have (a second command is a second trigger, and Toloka's 409 on a pool
    // locked by the first one's operation of the same action is followed, not reported).
    ledger: new MemoryOpeningsLedger(),
    log,
    poll,
    retry: DEFAULT_RETRY_POLICY,
  };

  if (progress)
    note(`${label}: ${words.ing} on ${connection.origin} (waiting up to ${options.timeoutSeconds} s)`);
  const stopInterruptHint = options.wait
    ? io.onInterrupt(() => {
        progress?.done();
        io.stderr.write(`toloka-pool: interrupted. ${followHint(seen.operationId, target, action)}\n`);
      })
    : () => undefined;
  try {
    let step: StepResult = await runAction(
      deps,
      { id: `cli:${crypto.randomUUID()}`, target, action },
      {
        budgetMs: options.wait ? options.timeoutSeconds * 1000 : OPEN_BUDGET_MS,
      },
    );
    // Checks that failed in a row, each after its own retries: Toloka or the network is away.
    let failedChecks = 0;
    while (step.kind === 'following' && options.wait) {
      const pending = handOver.last;
      if (pending === undefined) break;
      const deadlineMs = Date.parse(pending.message.deadline);
      await sleep(Math.max(0, Math.min(pending.delaySeconds * 1000, deadlineMs - Date.now())));
      try {
        step = await checkOperation(deps, pending.message, {
          budgetMs: Math.max(CHECK_BUDGET_FLOOR_MS, deadlineMs - Date.now()),
        });
        failedChecks = 0;
      } catch (error) {
        // A blip (a reset, a 5xx, a 429) does not end the wait: the pool was asked to act and
        // the operation goes on. Only a permanent error or the --timeout ends it.
        const msLeft = deadlineMs - Date.now();
        if (!isTransient(error)) throw error;
        if (msLeft <= 0) throw new WaitEndedUnreachable(error, options.timeoutSeconds);
        failedChecks++;
        const delayMs = Math.min(msLeft, waitRetryDelayMs(failedChecks, error));
        note(
          `${label}: Toloka is unavailable for now (${describeTrouble(troubleOf(error))}); ` +
            `still waiting, checking again ${inAWhile(delayMs)} (the --timeout ends the wait in ${Math.ceil(msLeft / 1000)} s)`,
        );
        handOver.last = { message: pending.message, delaySeconds: delayMs / 1000 };
      }
    }
    // The last check (checkOperation's) logs nothing: show what the record says.
    const { record } = outcome;
    if (progress && record !== undefined && record.operationId !== undefined) {
      if (record.status !== undefined) progress.update({ status: record.status, progress: record.progress });
      else if ((record.outcome === 'OPENED' || record.outcome === 'CLOSED') && seen.status !== 'SUCCESS')
        progress.update({ status: 'SUCCESS' });
    }
    progress?.done();
    if (step.kind === 'following') {
      return pendingResult(
        target,
        step.operationId ?? handOver.last?.message.operationId ?? '',
        handOver,
        seen.status,
        action,
      );
    }
  } catch (thrown) {
    progress?.done();
    const error = thrown instanceof WaitEndedUnreachable ? thrown.cause : thrown;
    const failure = failureFromError(error);
    // Toloka went away while the run was being followed: it may well go on without us.
    const operationId = seen.operationId ?? handOver.last?.message.operationId;
    if (failure.exitCode !== ExitCode.UNAVAILABLE) return { kind: 'failure', failure };
    if (operationId === undefined) {
      const hint =
        action === 'open'
          ? `${failure.hint ?? ''} Opening again is safe: a pool that did open reports ALREADY_OPEN.`
          : `${failure.hint ?? ''} Closing again is safe: a pool that did close reports ALREADY_CLOSED.`;
      return { kind: 'failure', failure: { ...failure, hint: hint.trim() } };
    }
    const message =
      thrown instanceof WaitEndedUnreachable
        ? `${label}: the ${thrown.timeoutSeconds} s --timeout came while Toloka was unavailable: ${describeTrouble(troubleOf(error))}`
        : `${label}: stopped following the ${words.ing}: ${failure.message}`;
    return {
      kind: 'failure',
      failure: {
        ...failure,
        message,
        hint: `${followHint(operationId, target, action)} once Toloka answers again.`,
      },
    };
  } finally {
    stopInterruptHint();
  }

  const { record, line } = outcome;
  if (record === undefined || line === undefined) {
    return {
      kind: 'failure',
      failure: failureFromError(new Error(`the ${words.ing} ended without an outcome record`)),
    };
  }
  const json = JSON.parse(line) as Record<string, unknown>;
  if (exitCodeForRecord(record) === ExitCode.OK)
    return { kind: 'success', json, text: describeSuccess(label, record) };
  return { kind: 'failure', failure: failureForRecord(label, target, action, record, options), json };
}

function pendingResult(
  target: TolokaTarget,
  operationId: string,
  handOver: HandOver,
  status: string | undefined,
  action: Action,
): CommandResult {
  const requestedAt = handOver.last?.message.requestedAt;
  return {
    kind: 'success',
    json: {
      level: 'INFO',
      timestamp: new Date().toISOString(),
      service: SERVICE_NAME,
      outcome: 'PENDING',
      ...targetFields(target),
      action,
      operationId,
      ...(requestedAt !== undefined ? { requestedAt } : {}),
      ...(status !== undefined ? { status } : {}),
    },
    text:
      `${targetLabel(target)}: ${WORDS[action].ing} started, operation ${operationId}${status !== undefined ? ` (${status})` : ''}\n` +
      `Follow it with: toloka-pool status ${operationId}   (or ${action} with --wait to wait here)`,
  };
}

function describeSuccess(label: string, record: OutcomeRecord): string {
  if (record.outcome === 'ALREADY_OPEN') return `${label} was already open`;
  if (record.outcome === 'ALREADY_CLOSED') return `${label} was already closed`;
  if (record.outcome === 'SKIPPED')
    return `${label}: skipped (${record.reason ?? '?'}): ${record.message ?? ''}`;
  const seconds = record.elapsedMs === undefined ? '' : `, ${(record.elapsedMs / 1000).toFixed(1)} s`;
  const checks =
    record.checks === undefined ? '' : `, ${record.checks} check${record.checks === 1 ? '' : 's'}`;
  const done = record.outcome === 'CLOSED' ? 'closed' : 'open';
  return `${label} is ${done} (operation ${record.operationId ?? '?'}${seconds}${checks})`;
}

function failureForRecord(
  label: string,
  target: TolokaTarget,
  action: Action,
  record: OutcomeRecord,
  options: ActionOptions,
): Failure {
  const { not } = WORDS[action];
  const code = record.code ?? record.outcome;
  if (record.outcome === 'TIMED_OUT') {
    const percent = record.progress === undefined ? '' : ` at ${record.progress}%`;
    return {
      exitCode: ExitCode.TIMED_OUT,
      code,
      message: `${label}: operation ${record.operationId ?? '?'} still ${record.status ?? 'unfinished'}${percent} after the ${options.timeoutSeconds} s --timeout`,
      hint: `${followHint(record.operationId, target, action)}, or wait longer with a larger --timeout.`,
    };
  }
  if (record.httpStatus !== undefined) {
    const failure = apiFailure({
      httpStatus: record.httpStatus,
      code,
      message: record.message ?? `HTTP ${record.httpStatus}`,
      requestId: record.request_id,
      payload: record.payload,
    });
    const payload = record.payload === undefined ? '' : ` payload: ${JSON.stringify(record.payload)}`;
    return { ...failure, message: `${label} ${not}: ${failure.message}${payload}` };
  }
  const details = record.payload === undefined ? '' : ` (details: ${JSON.stringify(record.payload)})`;
  return {
    exitCode: ExitCode.FAILED,
    code,
    message: `${label} ${not}: ${record.message ?? code}${details}`,
    hint: `See the ${target.kind}'s state and last close reason with: toloka-pool pool ${target.id}${target.kind === 'training' ? ' --training' : ''}`,
  };
}

function followHint(operationId: string | undefined, target: TolokaTarget, action: Action): string {
  const flags = target.kind === 'training' ? ' --training' : '';
  const { ing } = WORDS[action];
  return operationId === undefined
    ? `The ${ing} may have started at Toloka: see toloka-pool pool ${target.id}${flags}`
    : `The ${ing} goes on at Toloka: follow it with toloka-pool status ${operationId}`;
}

/** The --wait reached its --timeout while the checks could not reach Toloka. */
class WaitEndedUnreachable extends Error {
  constructor(
    override readonly cause: unknown,
    readonly timeoutSeconds: number,
  ) {
    super('the --timeout came while Toloka was unavailable', { cause });
  }
}

/**
 * The pause before checking again after `failedChecks` checks failed in a row (each after the
 * app's own retries): Toloka's `Retry-After` when it sent one, otherwise backing off from 1 s to
 * 30 s with jitter, and never under half a second.
 */
function waitRetryDelayMs(failedChecks: number, error: unknown): number {
  const last = error instanceof RetriesExhaustedError ? error.cause : error;
  return Math.max(WAIT_RETRY_FLOOR_MS, retryDelayMs(WAIT_RETRY_POLICY, failedChecks, last, Math.random));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
