import { MemoryOutcomeSink } from '../../lambda/adapters/outcome-sinks.ts';
import { StaticTokenSource } from '../../lambda/adapters/token-sources.ts';
import { DEFAULT_POLL } from '../../lambda/runtime/config.ts';
import type { CheckMessage } from '../../lambda/runtime/messages.ts';
import type { Action, ActionResponse, TolokaOperation, TolokaTarget } from '../../lambda/runtime/model.ts';
import type { OpeningDependencies } from '../../lambda/runtime/opening-steps.ts';
import type { CheckQueue, Log, TolokaApi } from '../../lambda/runtime/ports.ts';
import { MemoryOpeningsLedger } from '../../local/memory-openings-ledger.ts';

type Step<T> = T | Error;

/** A Toloka whose answers are scripted call by call; it records what it was asked. */
export class ScriptedToloka implements TolokaApi {
  readonly calls: Array<{
    /** `open` or `close` for `act`. */
    call: 'open' | 'close' | 'getOperation' | 'findRunningOperation';
    id: string;
    authorization: string;
  }> = [];
  constructor(
    private readonly openAnswers: Step<ActionResponse>[] = [],
    private readonly operationAnswers: Step<TolokaOperation>[] = [],
  ) {}

  /** Opens and closes answer from one script, in order (`openAnswers`). */
  async act(target: TolokaTarget, action: Action, authorization: string): Promise<ActionResponse> {
    this.calls.push({ call: action, id: target.id, authorization });
    return next(this.openAnswers, action);
  }

  async getOperation(operationId: string, authorization: string): Promise<TolokaOperation> {
    this.calls.push({ call: 'getOperation', id: operationId, authorization });
    return next(this.operationAnswers, 'getOperation');
  }

  async getTarget(): Promise<never> {
    throw new Error('ScriptedToloka: getTarget is not scripted');
  }

  /** The answers of `GET /operations` lookups, in order (undefined: none running). */
  readonly lookups: Step<TolokaOperation | undefined>[] = [];

  async findRunningOperation(
    target: TolokaTarget,
    _action: Action,
    authorization: string,
  ): Promise<TolokaOperation | undefined> {
    this.calls.push({ call: 'findRunningOperation', id: target.id, authorization });
    const answer = this.lookups.shift();
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

function next<T>(answers: Step<T>[], call: string): T {
  const answer = answers.shift();
  if (answer === undefined) throw new Error(`ScriptedToloka: no scripted answer left for ${call}`);
  if (answer instanceof Error) throw answer;
  return answer;
}

export class MemoryCheckQueue implements CheckQueue {
  readonly sent: Array<{ message: CheckMessage; delaySeconds: number }> = [];
  failWith: Error | undefined;
  async enqueue(message: CheckMessage, delaySeconds: number): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push({ message, delaySeconds });
  }
}

export class MemoryLog implements Log {
  readonly entries: Array<{ level: string; message: string; attributes?: Record<string, unknown> }> = [];
  debug(message: string, attributes?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', message, attributes });
  }
  info(message: string, attributes?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', message, attributes });
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, attributes });
  }
}

/** A clock that moves only when slept on, so retries and deadlines run instantly. */
export class ManualClock {
  constructor(public nowMs = Date.parse('2026-11-28T12:00:00Z')) {}
  readonly now = (): number => this.nowMs;
  readonly sleeps: number[] = [];
  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.nowMs += ms;
  };
}

export function fakeDependencies(
  toloka: TolokaApi,
  overrides: Partial<OpeningDependencies> = {},
): OpeningDependencies & {
  checks: MemoryCheckQueue;
  outcomes: MemoryOutcomeSink;
  log: MemoryLog;
  clock: ManualClock;
  ledger: MemoryOpeningsLedger;
} {
  const clock = new ManualClock();
  return {
    toloka,
    tokens: new StaticTokenSource('test-oauth-token'),
    checks: new MemoryCheckQueue(),
    outcomes: new MemoryOutcomeSink(),
    log: new MemoryLog(),
    // The queue path by default; fast-path tests turn it on.
    poll: { ...DEFAULT_POLL, fastPathSeconds: 0 },
    ledger: new MemoryOpeningsLedger(),
    newToken: (() => {
      let n = 0;
      return () => `token-${++n}`;
    })(),
    retry: { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 },
    now: clock.now,
    sleep: clock.sleep,
    clock,
    ...overrides,
  } as ReturnType<typeof fakeDependencies>;
}
