/**
 * Puts an opening of the ledger in the state a running app leaves it in: following `operationId`,
 * its live step the check message that carries `checkToken` (as the opener's hand-over does:
 * take the start step, follow, pass the step to the message).
 */
import type { OpeningsLedger } from '../../lambda/runtime/openings-ledger.ts';
import { startToken } from '../../lambda/runtime/openings-ledger.ts';

export async function seedFollowing(
  ledger: OpeningsLedger,
  openingId: string,
  operationId: string,
  checkToken: string,
  checks: number,
  nowMs: number = Date.now(),
): Promise<void> {
  const acquired = await ledger.acquire(openingId, startToken(openingId), nowMs, 60_000);
  if (acquired.kind !== 'acquired') throw new Error(`cannot seed opening ${openingId}: ${acquired.kind}`);
  if (!(await ledger.follow(openingId, operationId, acquired.token, checks)))
    throw new Error('follow refused');
  if (!(await ledger.passCheck(openingId, acquired.token, checkToken, checks)))
    throw new Error('passCheck refused');
}
