/**
 * The deployment's Toloka request budget, kept by each function instance on its own.
 *
 * Toloka allows 300 requests a second per account, and the requester's other tools (task uploads,
 * result downloads) share that limit. The construct divides the deployment's budget
 * (`tolokaRequestsPerSecond`) among the most function instances that can run at once (each SQS
 * event source's `maxConcurrency`), and hands each instance its whole share
 * (`TOLOKA_REQUESTS_PER_SECOND`). An instance lets a request go only when its last `share` requests
 * all went more than 1.1 s ago, and never sooner than `1100 / share` ms after the one before: any
 * second holds at most `share` of its requests, by the times they were really sent (a timer that
 * fires late holds the next ones back), with a tenth of a second to spare for requests that take
 * different times to reach Toloka. Whatever the instances do together stays within the budget,
 * with no shared state to read or write per request.
 */
import type { RequestBudget } from './ports.ts';

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The second a share is spread over: Toloka's, and a tenth more for the requests' varying way there. */
export const PACING_WINDOW_MS = 1100;

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class RequestPacer implements RequestBudget {
  /** The least time between two requests of this instance. */
  readonly spacingMs: number;
  /** When the last `requestsPerSecond` requests were let go, oldest first. */
  private readonly sent: number[] = [];
  /** The requests waiting, in the order they asked: each waits for the one before it. */
  private line: Promise<unknown> = Promise.resolve();
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

  /** Requests waiting for their turn now. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Whether, within the last `withinMs`, a request had to queue behind a full second's worth of
   * others (`requestsPerSecond` of them): the instance was asked for more than its share.
   * Remembered for a while, so that the openings of one burst all see it.
   */
  backlogged(withinMs: number): boolean {
    return this.clock.now() - this.backlogAt <= withinMs;
  }

  /**
   * Resolves `true` when the caller may send one request (its turn is taken), in the order asked;
   * `false` at once, taking nothing, when its turn could not come within `maxWaitMs` even if
   * every request ahead of it went on time.
   */
  async take(maxWaitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const now = this.clock.now();
    if (this.earliestTurn(now, this.waiting) - now > maxWaitMs) return false;
    if (this.waiting >= this.requestsPerSecond) this.backlogAt = now;
    this.waiting++;
    const turn = this.line.then(async () => {
      // The times are those requests were really let go: a late timer only delays what follows.
      for (;;) {
        const at = this.clock.now();
        const due = this.earliestTurn(at, 0);
        if (due <= at) break;
        await this.clock.sleep(due - at);
      }
      this.sent.push(this.clock.now());
      if (this.sent.length > this.requestsPerSecond) this.sent.shift();
      this.waiting--;
    });
    this.line = turn;
    await turn;
    return true;
  }

  /**
   * The earliest time a request could go with `ahead` others before it, each on time: after the
   * spacing from the last one, and once the one `requestsPerSecond` before it is a window old.
   */
  private earliestTurn(now: number, ahead: number): number {
    const last = this.sent.at(-1);
    let due = last === undefined ? now : Math.max(now, last + this.spacingMs);
    const history = [...this.sent];
    for (let i = 0; i <= ahead; i++) {
      if (i > 0) due += this.spacingMs;
      const windowStart =
        history.length >= this.requestsPerSecond
          ? history[history.length - this.requestsPerSecond]
          : undefined;
      if (windowStart !== undefined) due = Math.max(due, windowStart + PACING_WINDOW_MS);
      history.push(due);
    }
    return due;
  }
}
