/**
 * The openings ledger in memory, with the same guarantees as the DynamoDB one within one
 * process (every method is atomic here: nothing awaits between a read and its write). For the
 * local run (`npm start`) and the unit tests.
 */
import { randomUUID } from 'node:crypto';
import type { OutcomeRecord } from '../lambda/runtime/model.ts';
import {
  type Acquired,
  type Claim,
  type ClaimRequest,
  IN_PROCESS_PREFIX,
  newOpening,
  type Opening,
  type OpeningFilter,
  type OpeningsLedger,
  targetKey,
} from '../lambda/runtime/openings-ledger.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class MemoryOpeningsLedger implements OpeningsLedger {
  private readonly triggers = new Map<string, string>();
  private readonly targets = new Map<string, string>();
  private readonly openings = new Map<string, Mutable<Opening>>();
  private readonly seenKeys = new Set<string>();

  async claim(request: ClaimRequest): Promise<Claim> {
    const seen = this.triggers.get(request.triggerId);
    const own = seen === undefined ? undefined : this.openings.get(seen);
    if (own !== undefined) return { kind: 'seen', opening: copy(own) };
    const key = targetKey(request.target);
    const current = this.openings.get(this.targets.get(key) ?? '');
    if (current !== undefined && current.state !== 'DECIDED') {
      current.triggers = [...current.triggers, request.triggerId];
      this.triggers.set(request.triggerId, current.openingId);
      return { kind: 'joined', opening: copy(current) };
    }
    const token = `${IN_PROCESS_PREFIX}${randomUUID()}`;
    const opening: Mutable<Opening> = newOpening(request, randomUUID(), token);
    this.openings.set(opening.openingId, opening);
    this.targets.set(key, opening.openingId);
    this.triggers.set(request.triggerId, opening.openingId);
    return { kind: 'started', opening: copy(opening), token };
  }

  async get(openingId: string): Promise<Opening | undefined> {
    const opening = this.openings.get(openingId);
    return opening === undefined ? undefined : copy(opening);
  }

  async acquire(openingId: string, fromToken: string, nowMs: number, leaseMs: number): Promise<Acquired> {
    const opening = this.openings.get(openingId);
    if (opening === undefined) return { kind: 'stale' };
    if (opening.state === 'DECIDED') return { kind: 'decided', opening: copy(opening) };
    const running = opening.checkToken?.startsWith(IN_PROCESS_PREFIX) === true;
    if (opening.checkToken !== fromToken) {
      if (!running || opening.previousToken !== fromToken) return { kind: 'stale', opening: copy(opening) };
      if ((opening.leaseUntilMs ?? 0) > nowMs) return { kind: 'busy', opening: copy(opening) };
    }
    const token = `${IN_PROCESS_PREFIX}${randomUUID()}`;
    Object.assign(opening, {
      checkToken: token,
      previousToken: opening.checkToken === fromToken ? fromToken : opening.previousToken,
      leaseUntilMs: nowMs + leaseMs,
    });
    return { kind: 'acquired', token, opening: copy(opening) };
  }

  async release(openingId: string, token: string, nowMs: number): Promise<void> {
    const opening = this.openings.get(openingId);
    if (opening !== undefined && opening.checkToken === token) opening.leaseUntilMs = nowMs;
  }

  async follow(openingId: string, operationId: string, token: string, checks: number): Promise<boolean> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state === 'DECIDED' || opening.checkToken !== token) return false;
    Object.assign(opening, { state: 'FOLLOWING', operationId, checks });
    return true;
  }

  async firstTime(key: string): Promise<boolean> {
    if (this.seenKeys.has(key)) return false;
    this.seenKeys.add(key);
    return true;
  }

  async passCheck(openingId: string, from: string, to: string, checks: number): Promise<boolean> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state === 'DECIDED' || opening.checkToken !== from) return false;
    Object.assign(opening, { checkToken: to, checks });
    return true;
  }

  async decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
  ): Promise<Opening | undefined> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state === 'DECIDED') return undefined;
    Object.assign(opening, {
      state: 'DECIDED',
      outcome,
      decidedAtMs: nowMs,
      reportLeaseUntilMs: nowMs + leaseMs,
    });
    return copy(opening);
  }

  async takeReport(openingId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state !== 'DECIDED' || opening.reportedAtMs !== undefined)
      return false;
    if ((opening.reportLeaseUntilMs ?? 0) > nowMs) return false;
    opening.reportLeaseUntilMs = nowMs + leaseMs;
    return true;
  }

  async markReported(openingId: string, nowMs: number): Promise<void> {
    const opening = this.openings.get(openingId);
    if (opening !== undefined) opening.reportedAtMs = nowMs;
  }

  async list(filter: OpeningFilter): Promise<Opening[]> {
    const key = filter.target === undefined ? undefined : targetKey(filter.target);
    return [...this.openings.values()]
      .filter(
        (o) =>
          (filter.sinceMs === undefined || o.requestedAtMs >= filter.sinceMs) &&
          (key === undefined || targetKey(o.target) === key),
      )
      .sort((a, b) => b.requestedAtMs - a.requestedAtMs)
      .slice(0, filter.limit ?? 100)
      .map(copy);
  }
}

function copy(opening: Opening): Opening {
  return { ...opening, triggers: [...opening.triggers] };
}
