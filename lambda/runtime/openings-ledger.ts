/**
 * The openings ledger: what makes one outcome per opening in an at-least-once world. The domain
 * reaches it through {@link OpeningsLedger}; `DynamoDbOpeningsLedger`
 * (lambda/adapters/dynamodb-openings-ledger.ts) is the deployed one, `MemoryOpeningsLedger`
 * (local/memory-openings-ledger.ts) the local run's and the unit tests'.
 *
 * Three kinds of entry, each under its own `id`:
 * - `trigger#<pool|training>:<id>#<triggerId>`: which opening a trigger belongs to. A trigger seen
 *   again does nothing new. The key names the target: a trigger's identity belongs to its target.
 * - `target#<pool|training>:<id>`: the opening of that pool or training in flight, if any; a later
 *   trigger joins it instead of opening again.
 * - `opening#<openingId>`: the opening itself: its triggers, its operation, the one live check
 *   message (`checkToken`), and, once decided, its outcome (decided by a conditional write, so
 *   exactly once; reported by whoever decided, or by a redelivery if that one died).
 *
 * Nothing stays blocked: an opening is joined only while something carries it on (a step holding
 * its lease, or a message due back: a queued check, or a failed step's own message) and before its
 * deadline. An opening nothing carries any more (its message went to a dead-letter queue, or was
 * deleted) is taken over by the next trigger; see {@link isCarried}.
 */
import type { Action, OutcomeRecord, TolokaTarget } from './model.ts';

/**
 * `WAITING`: asked while the target's other action ran, it waits for that one (its
 * `predecessorId`) to end; `STARTING`: about to ask Toloka; `FOLLOWING`: following the operation.
 */
export type OpeningState = 'WAITING' | 'STARTING' | 'FOLLOWING' | 'DECIDED';

/**
 * One run of an action on a target, open or close (the ledger's entries keep the name "opening",
 * and `OPENINGS_TABLE` its own, for the items already written): its triggers, its step, its end.
 */
export interface Opening {
  readonly openingId: string;
  readonly target: TolokaTarget;
  /** What it asks of the target; entries written before closes existed are opens. */
  readonly action: Action;
  /** The run of the target's other action this one waits for (state `WAITING`), if any. */
  readonly predecessorId?: string;
  /**
   * The triggers this opening answers, the first one first (at most {@link MAX_LISTED_TRIGGERS};
   * `triggerCount` counts them all). A trigger whose message carried the opening and was taken
   * over from (it is in a dead-letter queue, or on its way back) is not among them: its message,
   * when it comes back, is a trigger of its own.
   */
  readonly triggers: readonly string[];
  /** How many triggers joined, listed or not. */
  readonly triggerCount: number;
  /** Triggers taken over from (and not come back since): the opening no longer answers them. */
  readonly droppedTriggers?: readonly string[];
  readonly state: OpeningState;
  /** Epoch ms of the first trigger. */
  readonly requestedAtMs: number;
  /** Epoch ms after which the opening is TIMED_OUT. */
  readonly deadlineMs: number;
  readonly operationId?: string;
  /** The token of the one step that may act for this opening (a check message's, or a running step's). */
  readonly checkToken?: string;
  /** The token the running step took over from: a copy of that step may take over once the lease ends. */
  readonly previousToken?: string;
  /** Until when the running step holds the opening. */
  readonly leaseUntilMs?: number;
  /**
   * Until when a message is due to carry the opening on although no step runs: the queued check
   * (its delay plus one redelivery), or the message of a step that failed and comes back.
   */
  readonly carriedUntilMs?: number;
  /** The trigger whose message carries the opening now; absent while a check message does. */
  readonly carrier?: string;
  /** `GET /operations` calls made so far. */
  readonly checks: number;
  /** Set once decided. */
  readonly outcome?: OutcomeRecord;
  readonly decidedAtMs?: number;
  /** Until when the one who decided (or took over) may write the record before another may. */
  readonly reportLeaseUntilMs?: number;
  readonly reportedAtMs?: number;
}

/** What claiming a trigger found. */
export type Claim =
  /**
   * A new opening of the target, started by this trigger and already held by its step (`token`,
   * under the claim's lease, as {@link OpeningsLedger.acquire} would hold it): it must ask Toloka.
   */
  | { readonly kind: 'started'; readonly opening: Opening; readonly token: string }
  /** An opening of the target was in flight: this trigger joined it and has nothing else to do. */
  | { readonly kind: 'joined'; readonly opening: Opening }
  /** The trigger was claimed before (a redelivery or a retry): carry on with its opening. */
  | { readonly kind: 'seen'; readonly opening: Opening }
  /**
   * The target's opening was abandoned (nothing carried it on) before its deadline: this trigger
   * joined it and its step now holds it (`token`), to carry it on from where it stopped.
   */
  | { readonly kind: 'took-over'; readonly opening: Opening; readonly token: string }
  /**
   * The target's opening is past its deadline and undecided, or decided and its record never
   * written: the caller ends it (TIMED_OUT, if nothing carries it) or writes its record, for the
   * opening's own triggers, then claims again; or, while another step still holds it, comes back
   * later. This trigger is not one of its triggers. The pool's pointer moves on only after.
   */
  | { readonly kind: 'ending'; readonly opening: Opening }
  /**
   * A new trigger that is skipped (`ClaimRequest.skip`): its run is decided at once, with the skip
   * record, held for reporting by this step; the target's pointer does not move.
   */
  | { readonly kind: 'skipped'; readonly opening: Opening };

export interface ClaimRequest {
  readonly triggerId: string;
  readonly target: TolokaTarget;
  /** Default `open`. */
  readonly action?: Action;
  /**
   * The record of a trigger that must not act (a calendar date, or too late): a new trigger is
   * decided with it at once (claim `skipped`); one seen before carries on as it was.
   */
  readonly skip?: OutcomeRecord;
  readonly nowMs: number;
  /** The deadline a new opening gets. */
  readonly deadlineMs: number;
  /**
   * How long the claiming step holds a new opening: the claim takes its first step in the same
   * write (one round trip less than claiming, then acquiring from the start token). A copy of the
   * trigger delivered meanwhile finds it busy; once the lease ends, a copy takes over.
   */
  readonly leaseMs: number;
}

export interface OpeningsLedger {
  /**
   * Starts an opening for the trigger, joins the target's opening in flight (or takes it over, if
   * abandoned), finds the trigger's own, or hands back a past-deadline opening to end first.
   */
  claim(request: ClaimRequest): Promise<Claim>;
  get(openingId: string): Promise<Opening | undefined>;
  /**
   * Takes the opening's live step for this invocation: the holder of `fromToken` (the opening's
   * start token, or a check message's token) gets a fresh in-process token, under a lease. A copy
   * of the same step running at once finds the opening `busy`; once the lease has run out (the
   * holder died), the next copy takes over. An opening that nothing carries on any more
   * ({@link isCarried}) is taken over by whoever asks. Anything else is `stale`: a step has moved
   * on. `carrier`: the trigger whose message this step runs in (absent for a check message); a
   * takeover drops the previous carrier trigger from the opening (its message is a trigger anew).
   */
  acquire(
    openingId: string,
    fromToken: string,
    nowMs: number,
    leaseMs: number,
    carrier?: string,
  ): Promise<Acquired>;
  /**
   * Lets go of a step that failed (and will be tried again): its lease ends now, so the retry
   * takes over at once, and the opening counts as carried until `carriedUntilMs` (when the
   * message is due back at the latest). Nothing happens if `token` no longer holds the opening.
   */
  release(openingId: string, token: string, nowMs: number, carriedUntilMs: number): Promise<void>;
  /** The opening follows `operationId`; false unless `token` is still its live step. */
  follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean>;
  /**
   * Hands the live check from `from` to `to`. False when `from` is not the live check (a stale or
   * duplicate message) or the opening is decided: its caller then stops. The check carries the
   * opening until `carriedUntilMs` (its delay plus one redelivery).
   */
  passCheck(
    openingId: string,
    from: string,
    to: string,
    checks: number,
    carriedUntilMs: number,
  ): Promise<boolean>;
  /**
   * Decides the outcome, once: the decided opening (with every trigger that joined before the
   * decision) for the one caller whose write decided it, undefined for every other.
   */
  decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
    /** The deciding step's token: a step taken over from (it outlived its lease) decides nothing. */
    token?: string,
  ): Promise<Opening | undefined>;
  /** Takes over writing the record of a decided, unreported opening whose report lease has run out. */
  takeReport(openingId: string, nowMs: number, leaseMs: number): Promise<boolean>;
  markReported(openingId: string, nowMs: number): Promise<void>;
  /** True the first time `key` is asked about (within the retention): a bad message reported once. */
  firstTime(key: string, nowMs: number): Promise<boolean>;
  /** Recent openings, newest first: the history operators read. */
  list(filter: OpeningFilter): Promise<Opening[]>;
}

export type Acquired =
  | { readonly kind: 'acquired'; readonly token: string; readonly opening: Opening }
  | { readonly kind: 'busy' | 'stale' | 'decided'; readonly opening?: Opening };

/** The token a new opening starts with: its first step is whoever claimed it. */
export function startToken(openingId: string): string {
  return `start-${openingId}`;
}

/** In-process tokens: the step that holds one is running now, under a lease. */
export const IN_PROCESS_PREFIX = 'run-';

/**
 * The opening a claim starts, held by the claiming step's `token` (an {@link IN_PROCESS_PREFIX}
 * one) as if it had acquired it from the start token: both ledgers write this.
 */
export function newOpening(
  request: ClaimRequest,
  openingId: string,
  token: string,
  predecessorId?: string,
): Opening {
  return {
    openingId,
    target: request.target,
    action: request.action ?? 'open',
    ...(predecessorId === undefined ? {} : { predecessorId }),
    triggers: [request.triggerId],
    triggerCount: 1,
    carrier: request.triggerId,
    state: predecessorId === undefined ? 'STARTING' : 'WAITING',
    requestedAtMs: request.nowMs,
    deadlineMs: request.deadlineMs,
    checks: 0,
    checkToken: token,
    previousToken: startToken(openingId),
    leaseUntilMs: request.nowMs + request.leaseMs,
  };
}

/**
 * The run a skipped trigger ends in: decided at once with its record, reported by the claiming
 * step under the report lease (a copy of the trigger meanwhile finds it decided, and writes the
 * record only if that step died), pointed at by the trigger's entry only.
 */
export function skippedOpening(request: ClaimRequest, openingId: string, record: OutcomeRecord): Opening {
  return {
    openingId,
    target: request.target,
    action: request.action ?? 'open',
    triggers: [request.triggerId],
    triggerCount: 1,
    state: 'DECIDED',
    requestedAtMs: request.nowMs,
    deadlineMs: request.nowMs,
    checks: 0,
    outcome: record,
    decidedAtMs: request.nowMs,
    reportLeaseUntilMs: request.nowMs + request.leaseMs,
  };
}

export interface OpeningFilter {
  /** Only openings requested at or after this epoch ms. */
  readonly sinceMs?: number;
  readonly target?: TolokaTarget;
  readonly limit?: number;
}

/** How long entries stay: longer than any message can wait in a queue (14 days) plus the deadline. */
export const LEDGER_RETENTION_MS = 15 * 86_400_000;

export function targetKey(target: TolokaTarget): string {
  return `${target.kind}:${target.id}`;
}

export function parseTargetKey(key: string): TolokaTarget | undefined {
  const match = /^(pool|training):([0-9]+)$/.exec(key);
  if (match === null || match[2] === undefined) return undefined;
  return { kind: match[1] as 'pool' | 'training', id: match[2] };
}

/**
 * Claiming lost a race more often than this: the caller retries the whole trigger later. Rounds
 * lost to DynamoDB's transaction conflicts wait with backoff and jitter between them, so that
 * 50 triggers for one pool at once settle on one opening.
 */
export const MAX_CLAIM_ROUNDS = 25;

/** An opening lists this many triggers at most (its record too); `triggerCount` counts them all. */
export const MAX_LISTED_TRIGGERS = 50;

/**
 * Whether anything carries the opening on at `nowMs`: a step holding its lease, or a message due
 * (a queued check, or the message of a step that failed). One that nothing carries may be taken
 * over by anyone; taking over is always safe (the live token moves, so a late message finds
 * itself stale), it only decides who goes on.
 */
export function isCarried(opening: Opening, nowMs: number): boolean {
  return Math.max(opening.leaseUntilMs ?? 0, opening.carriedUntilMs ?? 0) > nowMs;
}

/** Whether a trigger may join the opening: undecided, carried on, and before its deadline. */
export function isJoinable(opening: Opening, nowMs: number): boolean {
  return opening.state !== 'DECIDED' && nowMs < opening.deadlineMs && isCarried(opening, nowMs);
}

/** What a claim does with the target's current opening (the pointer's), read in one round. */
export type ClaimPlan =
  | {
      readonly kind: 'join' | 'take-over' | 'ending' | 'unreported' | 'queue-behind';
      readonly current: Opening;
    }
  | { readonly kind: 'start' };

/**
 * The one rule both ledgers claim by. No current opening, or a decided and reported one: start.
 * Before its deadline: join it while something carries it on, else take it over. Past its
 * deadline, or decided but unreported: the caller ends it or writes its record first (see
 * {@link Claim} `ending`), then claims again. One action at a time, in the order asked: a trigger
 * of the other action than the target's undecided run starts a run that waits for that one
 * (`queue-behind`), and the pointer moves to it, so what is asked next queues behind it in turn.
 */
export function planClaim(current: Opening | undefined, nowMs: number, action: Action = 'open'): ClaimPlan {
  if (current === undefined) return { kind: 'start' };
  if (current.state === 'DECIDED') {
    // Decided and never reported (its decider died, or failed to write the record): the record
    // is written before the pool's pointer moves on, or nothing would ever meet it again.
    return current.reportedAtMs === undefined && current.outcome !== undefined
      ? { kind: 'unreported', current }
      : { kind: 'start' };
  }
  if (nowMs < current.deadlineMs) {
    if (current.action !== action) return { kind: 'queue-behind', current };
    return isCarried(current, nowMs) ? { kind: 'join', current } : { kind: 'take-over', current };
  }
  // Past its deadline: it is ended (TIMED_OUT) before the pointer moves on, by whoever carries it
  // or, if nothing does, by this trigger: the pointer never leaves an opening that has no end.
  return { kind: 'ending', current };
}

/** How far back a chain of runs (each waiting for the one before) is followed: further is no real chain. */
const MAX_CHAIN = 10;

/**
 * The run of a target that is still in force: the pointer's run, unless it is decided and one of
 * the runs it waited for is not (it ended TIMED_OUT waiting while the one before still ran): then
 * that earlier, undecided run, which a new trigger must end, join or wait for before anything else
 * happens to the pool.
 */
export async function runInForce(
  current: Opening | undefined,
  get: (openingId: string) => Promise<Opening | undefined>,
): Promise<Opening | undefined> {
  // The chain's runs, read first (at most MAX_CHAIN), then the same rule as runInForceOf.
  const known = new Map<string, Opening>();
  let id = current?.state === 'DECIDED' ? current.predecessorId : undefined;
  for (let hop = 0; hop < MAX_CHAIN && id !== undefined; hop++) {
    const before = await get(id);
    if (before === undefined) break;
    known.set(id, before);
    id = before.state === 'DECIDED' ? before.predecessorId : undefined;
  }
  return runInForceOf(current, (openingId) => known.get(openingId));
}

/** {@link runInForce} over runs at hand (the memory ledger's, read without a pause). */
export function runInForceOf(
  current: Opening | undefined,
  get: (openingId: string) => Opening | undefined,
): Opening | undefined {
  let run = current;
  for (let hop = 0; hop < MAX_CHAIN && run?.state === 'DECIDED' && run.predecessorId !== undefined; hop++) {
    const before = get(run.predecessorId);
    if (before === undefined) return current;
    if (before.state !== 'DECIDED') return before;
    run = before;
  }
  return current;
}

/**
 * The earliest undecided run among those `run` waits for (its predecessor, and theirs), or
 * undefined when every one of them is decided: only then may `run` act.
 */
export async function undecidedBefore(
  run: Opening,
  get: (openingId: string) => Promise<Opening | undefined>,
): Promise<Opening | undefined> {
  let undecided: Opening | undefined;
  let id = run.predecessorId;
  for (let hop = 0; hop < MAX_CHAIN && id !== undefined; hop++) {
    const before = await get(id);
    if (before === undefined) break;
    if (before.state !== 'DECIDED') undecided = before;
    id = before.predecessorId;
  }
  return undecided;
}

/**
 * The ledger key of a trigger: its identity within its target and action (an open's key is as it
 * was before closes existed, so a trigger in flight during the upgrade is still known).
 */
export function triggerKey(target: TolokaTarget, triggerId: string, action: Action = 'open'): string {
  return action === 'open'
    ? `trigger#${targetKey(target)}#${triggerId}`
    : `trigger#${targetKey(target)}#${action}#${triggerId}`;
}
