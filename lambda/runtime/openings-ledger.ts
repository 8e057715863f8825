/**
 * The openings ledger: what makes one outcome per opening in an at-least-once world. The domain
 * reaches it through {@link OpeningsLedger}; `DynamoDbOpeningsLedger`
 * (lambda/adapters/dynamodb-openings-ledger.ts) is the deployed one, `MemoryOpeningsLedger`
 * (local/memory-openings-ledger.ts) the local run's and the unit tests'.
 *
 * Three kinds of entry, each under its own `id`:
 * - `trigger#<triggerId>`: which opening a trigger belongs to. A trigger seen again does nothing new.
 * - `target#<pool|training>:<id>`: the opening of that pool or training in flight, if any; a later
 *   trigger joins it instead of opening again.
 * - `opening#<openingId>`: the opening itself: its triggers, its operation, the one live check
 *   message (`checkToken`), and, once decided, its outcome (decided by a conditional write, so
 *   exactly once; reported by whoever decided, or by a redelivery if that one died).
 */
import type { OpenTarget, OutcomeRecord } from './model.ts';

export type OpeningState = 'STARTING' | 'FOLLOWING' | 'DECIDED';

export interface Opening {
  readonly openingId: string;
  readonly target: OpenTarget;
  /** Every trigger that asked for this opening, the first one first. */
  readonly triggers: readonly string[];
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
  | { readonly kind: 'seen'; readonly opening: Opening };

export interface ClaimRequest {
  readonly triggerId: string;
  readonly target: OpenTarget;
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
  /** Starts an opening for the trigger, joins the target's opening in flight, or finds the trigger's own. */
  claim(request: ClaimRequest): Promise<Claim>;
  get(openingId: string): Promise<Opening | undefined>;
  /**
   * Takes the opening's live step for this invocation: the holder of `fromToken` (the opening's
   * start token, or a check message's token) gets a fresh in-process token, under a lease. A copy
   * of the same step running at once finds the opening `busy`; once the lease has run out (the
   * holder died), the next copy takes over. Anything else is `stale`: a step has moved on.
   */
  acquire(openingId: string, fromToken: string, nowMs: number, leaseMs: number): Promise<Acquired>;
  /**
   * Lets go of a step that failed (and will be tried again): its lease ends now, so the retry
   * takes over at once. Nothing happens if `token` no longer holds the opening.
   */
  release(openingId: string, token: string, nowMs: number): Promise<void>;
  /** The opening follows `operationId`; false unless `token` is still its live step. */
  follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean>;
  /**
   * Hands the live check from `from` to `to`. False when `from` is not the live check (a stale or
   * duplicate message) or the opening is decided: its caller then stops.
   */
  passCheck(openingId: string, from: string, to: string, checks: number): Promise<boolean>;
  /**
   * Decides the outcome, once: the decided opening (with every trigger that joined before the
   * decision) for the one caller whose write decided it, undefined for every other.
   */
  decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
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
export function newOpening(request: ClaimRequest, openingId: string, token: string): Opening {
  return {
    openingId,
    target: request.target,
    triggers: [request.triggerId],
    state: 'STARTING',
    requestedAtMs: request.nowMs,
    deadlineMs: request.deadlineMs,
    checks: 0,
    checkToken: token,
    previousToken: startToken(openingId),
    leaseUntilMs: request.nowMs + request.leaseMs,
  };
}

export interface OpeningFilter {
  /** Only openings requested at or after this epoch ms. */
  readonly sinceMs?: number;
  readonly target?: OpenTarget;
  readonly limit?: number;
}

/** How long entries stay: longer than any message can wait in a queue (14 days) plus the deadline. */
export const LEDGER_RETENTION_MS = 15 * 86_400_000;

export function targetKey(target: OpenTarget): string {
  return `${target.kind}:${target.id}`;
}

export function parseTargetKey(key: string): OpenTarget | undefined {
  const match = /^(pool|training):([0-9]+)$/.exec(key);
  if (match === null || match[2] === undefined) return undefined;
  return { kind: match[1] as 'pool' | 'training', id: match[2] };
}

/** Claiming lost a race more often than this: the caller retries the whole trigger later. */
export const MAX_CLAIM_ROUNDS = 5;
