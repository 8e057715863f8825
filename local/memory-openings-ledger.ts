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
  isCarried,
  MAX_LISTED_TRIGGERS,
  newOpening,
  type Opening,
  type OpeningFilter,
  type OpeningsLedger,
  planClaim,
  runInForceOf,
  skippedOpening,
  startToken,
  targetKey,
  triggerKey,
} from '../lambda/runtime/openings-ledger.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class MemoryOpeningsLedger implements OpeningsLedger {
  private readonly triggers = new Map<string, string>();
  private readonly targets = new Map<string, string>();
  private readonly openings = new Map<string, Mutable<Opening>>();
  private readonly seenKeys = new Set<string>();

  async claim(request: ClaimRequest): Promise<Claim> {
    const entry = triggerKey(request.target, request.triggerId, request.action);
    const own = this.openings.get(this.triggers.get(entry) ?? '');
    if (own !== undefined) return { kind: 'seen', opening: copy(own) };
    if (request.skip !== undefined) {
      const skipped: Mutable<Opening> = skippedOpening(request, randomUUID(), request.skip);
      this.openings.set(skipped.openingId, skipped);
      this.triggers.set(entry, skipped.openingId);
      return { kind: 'skipped', opening: copy(skipped) };
    }
    const key = targetKey(request.target);
    // Synchronous, as every claim here is (no await between the read and the write).
    const current = runInForceOf(this.openings.get(this.targets.get(key) ?? ''), (id) =>
      this.openings.get(id),
    );
    const plan = planClaim(current, request.nowMs, request.action);
    if (plan.kind === 'ending' || plan.kind === 'unreported')
      return { kind: 'ending', opening: copy(plan.current) };
    if (plan.kind === 'join' || plan.kind === 'take-over') {
      const opening = this.openings.get(plan.current.openingId) as Mutable<Opening>;
      if (plan.kind === 'take-over') {
        const token = `${IN_PROCESS_PREFIX}${randomUUID()}`;
        this.takeOver(
          opening,
          token,
          startToken(opening.openingId),
          request.nowMs,
          request.leaseMs,
          request.triggerId,
        );
        this.join(opening, request.triggerId);
        this.triggers.set(entry, opening.openingId);
        return { kind: 'took-over', opening: copy(opening), token };
      }
      this.join(opening, request.triggerId);
      this.triggers.set(entry, opening.openingId);
      return { kind: 'joined', opening: copy(opening) };
    }
    const token = `${IN_PROCESS_PREFIX}${randomUUID()}`;
    const opening: Mutable<Opening> = newOpening(
      request,
      randomUUID(),
      token,
      plan.kind === 'queue-behind' ? plan.current.openingId : undefined,
    );
    this.openings.set(opening.openingId, opening);
    this.targets.set(key, opening.openingId);
    this.triggers.set(entry, opening.openingId);
    return { kind: 'started', opening: copy(opening), token };
  }

  private join(opening: Mutable<Opening>, triggerId: string): void {
    if (opening.droppedTriggers?.includes(triggerId) === true) {
      opening.droppedTriggers = opening.droppedTriggers.filter((trigger) => trigger !== triggerId);
    }
    if (opening.triggers.length < MAX_LISTED_TRIGGERS && !opening.triggers.includes(triggerId)) {
      opening.triggers = [...opening.triggers, triggerId];
    }
    opening.triggerCount += 1;
  }

  /** Takes over an opening nothing carries: a carrier trigger other than the taker is dropped, its entry released. */
  private takeOver(
    opening: Mutable<Opening>,
    token: string,
    from: string,
    nowMs: number,
    leaseMs: number,
    carrier: string | undefined,
  ): void {
    const dropping = opening.carrier;
    if (dropping !== undefined && dropping !== carrier && opening.triggers.includes(dropping)) {
      opening.triggers = opening.triggers.filter((trigger) => trigger !== dropping);
      opening.droppedTriggers = [...(opening.droppedTriggers ?? []), dropping];
      opening.triggerCount -= 1;
      const entry = triggerKey(opening.target, dropping, opening.action);
      if (this.triggers.get(entry) === opening.openingId) this.triggers.delete(entry);
    }
    Object.assign(opening, { checkToken: token, previousToken: from, leaseUntilMs: nowMs + leaseMs });
    if (carrier === undefined) delete opening.carrier;
    else opening.carrier = carrier;
  }

  async get(openingId: string): Promise<Opening | undefined> {
    const opening = this.openings.get(openingId);
    return opening === undefined ? undefined : copy(opening);
  }

  async acquire(
    openingId: string,
    fromToken: string,
    nowMs: number,
    leaseMs: number,
    carrier?: string,
  ): Promise<Acquired> {
    const opening = this.openings.get(openingId);
    if (opening === undefined) return { kind: 'stale' };
    if (opening.state === 'DECIDED') return { kind: 'decided', opening: copy(opening) };
    const running = opening.checkToken?.startsWith(IN_PROCESS_PREFIX) === true;
    const token = `${IN_PROCESS_PREFIX}${randomUUID()}`;
    const copyTakesOver = running && opening.previousToken === fromToken;
    if (opening.checkToken !== fromToken && !copyTakesOver) {
      if (isCarried(opening, nowMs)) return { kind: running ? 'busy' : 'stale', opening: copy(opening) };
      // Nothing carries it any more: taken over by whoever asks.
      this.takeOver(opening, token, fromToken, nowMs, leaseMs, carrier);
      return { kind: 'acquired', token, opening: copy(opening) };
    }
    if (copyTakesOver && opening.checkToken !== fromToken && (opening.leaseUntilMs ?? 0) > nowMs) {
      return { kind: 'busy', opening: copy(opening) };
    }
    Object.assign(opening, {
      checkToken: token,
      previousToken: opening.checkToken === fromToken ? fromToken : opening.previousToken,
      leaseUntilMs: nowMs + leaseMs,
    });
    if (carrier === undefined) delete opening.carrier;
    else opening.carrier = carrier;
    return { kind: 'acquired', token, opening: copy(opening) };
  }

  async release(openingId: string, token: string, nowMs: number, carriedUntilMs: number): Promise<void> {
    const opening = this.openings.get(openingId);
    if (opening !== undefined && opening.checkToken === token) {
      opening.leaseUntilMs = nowMs;
      opening.carriedUntilMs = carriedUntilMs;
    }
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

  async passCheck(
    openingId: string,
    from: string,
    to: string,
    checks: number,
    carriedUntilMs: number,
  ): Promise<boolean> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state === 'DECIDED' || opening.checkToken !== from) return false;
    Object.assign(opening, { checkToken: to, checks, carriedUntilMs });
    delete opening.carrier;
    return true;
  }

  async decide(
    openingId: string,
    outcome: OutcomeRecord,
    nowMs: number,
    leaseMs: number,
    token?: string,
  ): Promise<Opening | undefined> {
    const opening = this.openings.get(openingId);
    if (opening === undefined || opening.state === 'DECIDED') return undefined;
    if (token !== undefined && opening.checkToken !== token) return undefined;
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
  return {
    ...opening,
    triggers: [...opening.triggers],
    ...(opening.droppedTriggers === undefined ? {} : { droppedTriggers: [...opening.droppedTriggers] }),
  };
}
