/**
 * How the DynamoDB openings ledger stores an opening: one item per opening (`opening#<id>`), one
 * per trigger (`trigger#<id>`) and one per pool or training (`target#<key>`, its latest opening),
 * each with the TTL `expiration`. Attribute names are the table's contract with `npm run
 * openings` and with older items, so they change only with a migration.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { OutcomeRecord } from '../runtime/model.ts';
import { type Opening, parseTargetKey, targetKey } from '../runtime/openings-ledger.ts';

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });

/** The item of a run a claim starts (`newOpening`, held by the claimer under its lease; or `skippedOpening`). */
export function openingItem(opening: Opening, expiration: AttributeValue): Item {
  const optional = (key: string, value: AttributeValue | undefined) =>
    value === undefined ? {} : { [key]: value };
  return {
    id: S(`opening#${opening.openingId}`),
    kind: S('opening'),
    target: S(targetKey(opening.target)),
    // An open writes no `action` (as before closes existed); a missing one reads as an open.
    ...optional('action', opening.action === 'open' ? undefined : S(opening.action)),
    ...optional('predecessor', opening.predecessorId === undefined ? undefined : S(opening.predecessorId)),
    triggers: { L: opening.triggers.map(S) },
    triggerCount: N(opening.triggerCount),
    state: S(opening.state),
    ...optional('carrier', opening.carrier === undefined ? undefined : S(opening.carrier)),
    ...optional('checkToken', opening.checkToken === undefined ? undefined : S(opening.checkToken)),
    ...optional('previousToken', opening.previousToken === undefined ? undefined : S(opening.previousToken)),
    ...optional('leaseUntil', opening.leaseUntilMs === undefined ? undefined : N(opening.leaseUntilMs)),
    requestedAt: N(opening.requestedAtMs),
    deadline: N(opening.deadlineMs),
    checks: N(opening.checks),
    // A skipped trigger's run is decided as it is written (skippedOpening).
    ...optional('outcome', opening.outcome === undefined ? undefined : S(JSON.stringify(opening.outcome))),
    ...optional('decidedAt', opening.decidedAtMs === undefined ? undefined : N(opening.decidedAtMs)),
    ...optional(
      'reportLeaseUntil',
      opening.reportLeaseUntilMs === undefined ? undefined : N(opening.reportLeaseUntilMs),
    ),
    updatedAt: N(opening.requestedAtMs),
    expiration,
  };
}

/** The opening an item holds; undefined for an item that is not a well-formed opening. */
export function toOpening(openingId: string, item: Item): Opening | undefined {
  const target = parseTargetKey(item.target?.S ?? '');
  if (target === undefined) return undefined;
  const number = (key: string) => (item[key]?.N === undefined ? undefined : Number(item[key]?.N));
  const outcome = item.outcome?.S;
  const optional = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  // Carriers taken over from stay in the list (DynamoDB cannot remove a list element by value)
  // and are named once more in `dropped`: the opening answers a trigger listed more often in
  // `triggers` than in `dropped` (a carrier whose message came back and joined again is listed twice).
  const listed = (item.triggers?.L ?? []).map((value) => value.S ?? '');
  const dropped = new Map<string, number>();
  for (const value of item.dropped?.L ?? [])
    dropped.set(value.S ?? '', (dropped.get(value.S ?? '') ?? 0) + 1);
  const answered: string[] = [];
  const droppedTriggers: string[] = [];
  for (const trigger of listed) {
    const owed = dropped.get(trigger) ?? 0;
    if (owed > 0) {
      dropped.set(trigger, owed - 1);
      droppedTriggers.push(trigger);
    } else if (!answered.includes(trigger)) answered.push(trigger);
  }
  const stillDropped = droppedTriggers.filter((trigger) => !answered.includes(trigger));
  return {
    openingId,
    target,
    action: item.action?.S === 'close' ? 'close' : 'open',
    ...optional('predecessorId', item.predecessor?.S),
    triggers: answered,
    triggerCount: number('triggerCount') ?? listed.length,
    ...(stillDropped.length === 0 ? {} : { droppedTriggers: stillDropped }),
    state: (item.state?.S ?? 'STARTING') as Opening['state'],
    requestedAtMs: number('requestedAt') ?? 0,
    deadlineMs: number('deadline') ?? 0,
    checks: number('checks') ?? 0,
    ...optional('operationId', item.operationId?.S),
    ...optional('checkToken', item.checkToken?.S),
    ...optional('previousToken', item.previousToken?.S),
    ...optional('leaseUntilMs', number('leaseUntil')),
    ...optional('carriedUntilMs', number('carriedUntil')),
    ...optional('carrier', item.carrier?.S),
    ...optional('outcome', outcome === undefined ? undefined : (JSON.parse(outcome) as OutcomeRecord)),
    ...optional('decidedAtMs', number('decidedAt')),
    ...optional('reportLeaseUntilMs', number('reportLeaseUntil')),
    ...optional('reportedAtMs', number('reportedAt')),
  };
}
