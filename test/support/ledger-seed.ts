/**
 * Puts an opening of the ledger in the state a running app leaves it in: following `operationId`,
 * its live step the check message that carries `checkToken` (as the opener's hand-over does: the
 * step the claim started follows, then passes the step to the message).
 */
import type { OpeningsLedger } from '../../lambda/runtime/openings-ledger.ts';

export async function seedFollowing(
  ledger: OpeningsLedger,
  openingId: string,
  operationId: string,
  checkToken: string,
  checks: number,
  /** Until when the check message is due (its delay plus a redelivery); by default 10 minutes from now. */
  carriedUntilMs = Date.now() + 600_000,
): Promise<void> {
  // The claim's own step, which holds a new opening.
  const step = (await ledger.get(openingId))?.checkToken;
  if (step === undefined) throw new Error(`cannot seed opening ${openingId}: not claimed`);
  if (!(await ledger.follow(openingId, operationId, step, checks))) throw new Error('follow refused');
  if (!(await ledger.passCheck(openingId, step, checkToken, checks, carriedUntilMs)))
    throw new Error('passCheck refused');
}
