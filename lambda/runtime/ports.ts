/**
 * The ports the domain talks through, declared here and implemented in lambda/adapters/ (Toloka
 * over undici, the token from SSM, the check queue on SQS, outcome records to a log line and to
 * EventBridge), in local/ for the local run, and in test/support/fakes.ts for unit tests. The
 * openings ledger, the fifth, has its own module with its types: ./openings-ledger.ts.
 */
import type { CheckMessage } from './messages.ts';
import type {
  Action,
  ActionResponse,
  OutcomeRecord,
  TolokaOperation,
  TolokaPoolState,
  TolokaTarget,
} from './model.ts';

/** The part of Toloka's API this app uses. One call is one HTTP request: retries are the caller's. */
export interface TolokaApi {
  /** `POST /pools/{id}/open` or `…/close` (`/trainings/…` for a training). */
  act(target: TolokaTarget, action: Action, authorization: string): Promise<ActionResponse>;
  getOperation(operationId: string, authorization: string): Promise<TolokaOperation>;
  /** `GET /pools/{id}` or `/trainings/{id}`: the fields the command line shows. */
  getTarget(target: TolokaTarget, authorization: string): Promise<TolokaPoolState>;
  /**
   * The action's operation on this pool or training still in progress, if any: the newest
   * `GET /operations?type=POOL.OPEN` (or `POOL.CLOSE`, …; the specification has no pool filter, so
   * the pool is matched on `parameters`; any status but SUCCESS and FAIL counts). What a 409
   * `POOL_LOCKED_BY_ANOTHER_OPERATION` points to.
   */
  findRunningOperation(
    target: TolokaTarget,
    action: Action,
    authorization: string,
  ): Promise<TolokaOperation | undefined>;
}

/**
 * The instance's share of the deployment's Toloka request budget (./request-pacer.ts): every
 * request to Toloka waits for its turn.
 */
export interface RequestBudget {
  /**
   * Resolves `true` when one request may be sent, its turn taken; `false`, taking nothing, when
   * the turn would not come within `maxWaitMs`.
   */
  take(maxWaitMs?: number): Promise<boolean>;
}

/** Where the Toloka credential comes from. Implementations never log or echo the value. */
export interface TokenSource {
  getToken(): Promise<string>;
  /**
   * The token read again from its source, past any cache: after a 401, a rotated token is
   * picked up at once instead of when the cache expires. Absent: the token cannot change.
   */
  refresh?(): Promise<string>;
  /** Where the token comes from, for messages (`SSM parameter /toloka/api-token`); never the token. */
  readonly source?: string;
}

/** Where the next status check of an operation is scheduled. */
export interface CheckQueue {
  /** Delivers `message` to the checker after `delaySeconds` (0 to 900). */
  enqueue(message: CheckMessage, delaySeconds: number): Promise<void>;
}

/** Where the one terminal record of each opening goes. */
export interface OutcomeSink {
  report(record: OutcomeRecord): Promise<void>;
}

/** The few log methods the domain uses; Powertools' Logger fits, and so does a console shim. */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}
