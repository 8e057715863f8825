/**
 * The deployment's Toloka request budget, kept by each function instance on its own.
 *
 * Toloka allows 300 requests a second per account, and the requester's other tools (task uploads,
 * result downloads) share that limit. The construct divides the deployment's budget
 * (`tolokaRequestsPerSecond`) among the most function instances that can run at once (each SQS
 * event source's `maxConcurrency`), and hands each instance its whole share
 * (`TOLOKA_REQUESTS_PER_SECOND`). An instance spaces its requests `1100 / share` ms apart, so that
 * any one second holds at most `share` of them, with a tenth of a second to spare: requests that
 * take different times to reach Toloka still arrive at most `share` to its second. Whatever the
 * instances do together stays within the budget, with no shared state to read or write per request.
 */

/** The second a share is spread over: Toloka's, and a tenth more for the requests' varying way there. */
export const PACING_WINDOW_MS = 1100;
export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class RequestPacer {
  /** The least time between two requests of this instance. */
  readonly spacingMs: number;
  private nextSlotAt = Number.NEGATIVE_INFINITY;
  private waiting = 0;
  private backlogAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly requestsPerSecond: number,
    private readonly clock: PacerClock = realClock,
  ) {
    if (!Number.isInteger(requestsPerSecond) || requestsPerSecond < 1) {
      throw new RangeError(
        `requestsPerSecond must be a whole number of at least 1, got ${requestsPerSecond}`,
      );
    }
    this.spacingMs = PACING_WINDOW_MS / requestsPerSecond;
  }

  /** Requests that are waiting for their slot now (for the log: how far behind the instance is). */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Whether, within the last `withinMs`, a request had to queue behind a full second of others:
   * the instance was asked for more than its share. Remembered for a while, so that the openings
   * of one burst all see it, not only those that asked while the queue was long.
   */
  backlogged(withinMs: number): boolean {
    return this.clock.now() - this.backlogAt <= withinMs;
  }

  /**
   * Resolves when the caller may send one request, and takes that slot. Slots are handed out in
   * the order asked, each `spacingMs` after the one before: any 1.1 s holds at most
   * `requestsPerSecond` of them.
   */
  async take(): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlotAt);
    this.nextSlotAt = slot + this.spacingMs;
    if (slot <= now) return;
    if (this.waiting + 1 >= this.requestsPerSecond) this.backlogAt = now;
    this.waiting++;
    try {
      await this.clock.sleep(slot - now);
    } finally {
      this.waiting--;
    }
  }
}
