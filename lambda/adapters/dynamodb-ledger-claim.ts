/**
 * Claiming a trigger in the DynamoDB ledger: one round reads the trigger's entry and the target's
 * pointer (one `BatchGetItem`), then writes what {@link planClaim} says in one transaction. A
 * round lost on a condition (another trigger moved first) reads again; one lost to a conflict is
 * retried by the table with backoff. The writes that take an opening over from a carrier also
 * release that carrier's trigger entry, so that its message, when it comes back (a redelivery,
 * or a redrive from the dead-letter queue), is claimed as a trigger anew.
 */
import { LedgerError } from '../runtime/errors.ts';
import {
  type Claim,
  type ClaimRequest,
  IN_PROCESS_PREFIX,
  LEDGER_RETENTION_MS,
  MAX_CLAIM_ROUNDS,
  MAX_LISTED_TRIGGERS,
  newOpening,
  type Opening,
  planClaim,
  runInForce,
  skippedOpening,
  startToken,
  targetKey,
  triggerKey,
} from '../runtime/openings-ledger.ts';
import { type Item, N, openingItem, S } from './dynamodb-ledger-items.ts';
import {
  conflictBackoffMs,
  type LedgerTable,
  type TransactItems,
  TransactionConflicted,
  TransactionRefused,
} from './dynamodb-ledger-table.ts';

type TransactItem = TransactItems[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function claimOnTable(
  table: LedgerTable,
  request: ClaimRequest,
  get: (openingId: string) => Promise<Opening | undefined>,
  newId: () => string,
): Promise<Claim> {
  const expiration = N(Math.ceil((request.deadlineMs + LEDGER_RETENTION_MS) / 1000));
  const entryKey = triggerKey(request.target, request.triggerId, request.action);
  // A round cancelled by a conflict reads again after a backoff with jitter: what it meant to
  // write (start, join, take over) may no longer be right once the other transaction went through.
  const transact = (items: TransactItems) => table.transact(items, { onConflict: 'throw' });
  for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
    // Both reads in one round trip. The pointer matters only for a new trigger; a trigger seen
    // before (a redelivery) pays its read for nothing, the price of the round trip saved.
    const [seen, pointer] = await table.getItems([entryKey, `target#${targetKey(request.target)}`]);
    const seenId = seen?.openingId?.S ?? '';
    if (seenId !== '') {
      const own = await get(seenId);
      if (own !== undefined) return { kind: 'seen', opening: own };
      // Its opening is gone (TTL removes entries one by one): the trigger is claimed anew.
    }
    // A run's item, written once: a run ID is never reused.
    const newRun = (opening: Opening): TransactItem => ({
      Put: {
        TableName: table.name,
        Item: openingItem(opening, expiration),
        ConditionExpression: 'attribute_not_exists(id)',
      },
    });
    const entry = (openingId: string): TransactItem => ({
      Put: {
        TableName: table.name,
        Item: { id: S(entryKey), kind: S('trigger'), openingId: S(openingId), expiration },
        // Over the entry as this round read it: absent, or released (taken over from) or stale.
        ...(seen === undefined
          ? { ConditionExpression: 'attribute_not_exists(id)' }
          : { ConditionExpression: 'openingId = :seen', ExpressionAttributeValues: { ':seen': S(seenId) } }),
      },
    });
    try {
      if (request.skip !== undefined) {
        // Decided as it is written, and only the trigger's entry points at it: the pool's runs
        // never meet a skipped trigger.
        const opening = skippedOpening(request, newId(), request.skip);
        await transact([entry(opening.openingId), newRun(opening)]);
        return { kind: 'skipped', opening };
      }
    } catch (error) {
      if (error instanceof TransactionConflicted) await sleep(conflictBackoffMs(Math.min(round, 6)));
      else if (!(error instanceof TransactionRefused)) throw error;
      continue;
    }
    const currentId = pointer?.openingId?.S;
    // The pointer's run, or an earlier one of its chain still undecided: the pointer's own
    // condition below stays on the pointer as read.
    const current = currentId === undefined ? undefined : await runInForce(await get(currentId), get);
    const plan = planClaim(current, request.nowMs, request.action);
    try {
      if (plan.kind === 'ending' || plan.kind === 'unreported')
        return { kind: 'ending', opening: plan.current };
      if (plan.kind === 'join') {
        await transact([entry(plan.current.openingId), joinUpdate(table, plan.current, request)]);
        return { kind: 'joined', opening: joined(plan.current, request.triggerId) };
      }
      if (plan.kind === 'take-over') {
        const token = `${IN_PROCESS_PREFIX}${newId()}`;
        await transact([
          entry(plan.current.openingId),
          ...takeOverWrites(table, plan.current, {
            token,
            from: startToken(plan.current.openingId),
            carrier: request.triggerId,
            nowMs: request.nowMs,
            leaseMs: request.leaseMs,
            joining: true,
          }),
        ]);
        return {
          kind: 'took-over',
          token,
          opening: {
            ...joined(plan.current, request.triggerId),
            checkToken: token,
            previousToken: startToken(plan.current.openingId),
            leaseUntilMs: request.nowMs + request.leaseMs,
            carrier: request.triggerId,
          },
        };
      }
      // Start, or (the other action's run is undecided) start one that waits for it.
      const token = `${IN_PROCESS_PREFIX}${newId()}`;
      const opening = newOpening(
        request,
        newId(),
        token,
        plan.kind === 'queue-behind' ? plan.current.openingId : undefined,
      );
      await transact([
        entry(opening.openingId),
        newRun(opening),
        {
          Put: {
            TableName: table.name,
            Item: {
              id: S(`target#${targetKey(request.target)}`),
              kind: S('target'),
              openingId: S(opening.openingId),
              expiration,
            },
            // Only over the pointer this round read: two starters race, one wins, the other joins.
            ...(currentId === undefined
              ? { ConditionExpression: 'attribute_not_exists(id)' }
              : {
                  ConditionExpression: 'openingId = :current',
                  ExpressionAttributeValues: { ':current': S(currentId) },
                }),
          },
        },
      ]);
      return { kind: 'started', opening, token };
    } catch (error) {
      // Someone else moved first (the same trigger, or another opening of the target): read again.
      if (error instanceof TransactionConflicted) await sleep(conflictBackoffMs(Math.min(round, 6)));
      else if (!(error instanceof TransactionRefused)) throw error;
    }
  }
  throw new LedgerError(
    `trigger ${request.triggerId} lost ${MAX_CLAIM_ROUNDS} races in a row for ${targetKey(request.target)}`,
  );
}

function joined(opening: Opening, triggerId: string): Opening {
  const listed = opening.triggers.length < MAX_LISTED_TRIGGERS;
  return {
    ...opening,
    triggers: listed ? [...opening.triggers, triggerId] : opening.triggers,
    triggerCount: opening.triggerCount + 1,
  };
}

/** Joining an opening in flight: only while it is undecided, carried on, and before its deadline. */
function joinUpdate(table: LedgerTable, opening: Opening, request: ClaimRequest): TransactItem {
  const listed = opening.triggers.length < MAX_LISTED_TRIGGERS;
  return {
    Update: {
      TableName: table.name,
      Key: { id: S(`opening#${opening.openingId}`) },
      UpdateExpression: `SET ${listed ? 'triggers = list_append(triggers, :trigger), ' : ''}updatedAt = :now ADD triggerCount :one`,
      ConditionExpression:
        '#state <> :decided AND deadline > :now AND (leaseUntil > :now OR carriedUntil > :now)',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ...(listed ? { ':trigger': { L: [S(request.triggerId)] } } : {}),
        ':now': N(request.nowMs),
        ':one': N(1),
        ':decided': S('DECIDED'),
      },
    },
  };
}

/** What taking an opening over writes, given as the new step's token, its `from` and its carrier. */
export interface TakeOver {
  readonly token: string;
  readonly from: string;
  readonly carrier?: string;
  readonly nowMs: number;
  readonly leaseMs: number;
  /** The taker is a new trigger of the opening (a claim), not one of its own steps. */
  readonly joining: boolean;
}

/**
 * The writes that take over an opening nothing carries any more (no lease held, no message due):
 * conditioned on the token and the times this step read, so that of two takers one wins. A
 * carrier trigger other than the taker is dropped from the opening (`dropped` lists it once more
 * than before: an opening answers a trigger listed more often in `triggers` than in `dropped`,
 * so a carrier that comes back and joins again is answered again), and its entry released.
 */
export function takeOverWrites(table: LedgerTable, opening: Opening, take: TakeOver): TransactItem[] {
  const dropping =
    opening.carrier !== undefined &&
    opening.carrier !== take.carrier &&
    opening.triggers.includes(opening.carrier)
      ? opening.carrier
      : undefined;
  const listed = take.joining && opening.triggers.length < MAX_LISTED_TRIGGERS;
  const set = [
    'checkToken = :token',
    'previousToken = :from',
    'leaseUntil = :lease',
    'updatedAt = :now',
    ...(take.carrier === undefined ? [] : ['carrier = :carrier']),
    ...(listed ? ['triggers = list_append(triggers, :trigger)'] : []),
    ...(dropping === undefined ? [] : ['dropped = list_append(if_not_exists(dropped, :none), :dropping)']),
  ];
  const countChange = (take.joining ? 1 : 0) - (dropping === undefined ? 0 : 1);
  const add = countChange === 0 ? [] : ['triggerCount :countChange'];
  const values: Item = {
    ':token': S(take.token),
    ':from': S(take.from),
    ':lease': N(take.nowMs + take.leaseMs),
    ':now': N(take.nowMs),
    ':observed': S(opening.checkToken ?? ''),
    ':decided': S('DECIDED'),
    ...(take.carrier === undefined ? {} : { ':carrier': S(take.carrier) }),
    ...(listed && take.carrier !== undefined ? { ':trigger': { L: [S(take.carrier)] } } : {}),
    ...(countChange === 0 ? {} : { ':countChange': N(countChange) }),
    ...(dropping === undefined ? {} : { ':dropping': { L: [S(dropping)] }, ':none': { L: [] } }),
  };
  const writes: TransactItem[] = [
    {
      Update: {
        TableName: table.name,
        Key: { id: S(`opening#${opening.openingId}`) },
        UpdateExpression: [
          `SET ${set.join(', ')}`,
          add.length > 0 ? `ADD ${add.join(', ')}` : '',
          take.carrier === undefined ? 'REMOVE carrier' : '',
        ]
          .filter((part) => part !== '')
          .join(' '),
        ConditionExpression:
          'checkToken = :observed AND #state <> :decided' +
          ' AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now)' +
          ' AND (attribute_not_exists(carriedUntil) OR carriedUntil <= :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      },
    },
  ];
  if (dropping !== undefined) {
    writes.push({
      Update: {
        TableName: table.name,
        Key: { id: S(triggerKey(opening.target, dropping, opening.action)) },
        UpdateExpression: 'SET openingId = :released, kind = :kind, expiration = :expiration',
        ConditionExpression: 'attribute_not_exists(id) OR openingId = :opening',
        ExpressionAttributeValues: {
          ':released': S(''),
          ':kind': S('trigger'),
          ':opening': S(opening.openingId),
          ':expiration': N(Math.ceil((opening.deadlineMs + LEDGER_RETENTION_MS) / 1000)),
        },
      },
    });
  }
  return writes;
}
