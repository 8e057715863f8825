import { createHash } from 'node:crypto';
import type {
  EventBridgeClient,
  EventBridgeClientConfig,
  PutEventsCommand,
} from '@aws-sdk/client-eventbridge';
import { describeError } from '../runtime/errors.ts';
import type { OutcomeRecord } from '../runtime/model.ts';
import type { Log, OutcomeSink } from '../runtime/ports.ts';

/** The `source` of outcome events: match on it in an EventBridge rule. */
export const OUTCOME_EVENT_SOURCE = 'toloka-pool-opener';
/** The `detail-type` of an open's outcome events (as before closes existed: rules match on it). */
export const OUTCOME_EVENT_DETAIL_TYPE = 'Toloka pool opening finished';
/** The `detail-type` of a close's outcome events. */
export const CLOSE_EVENT_DETAIL_TYPE = 'Toloka pool closing finished';

/** An outcome's `detail-type`: a close's, or an open's (also for a bad message, whose action is not known). */
export function detailTypeOf(record: OutcomeRecord): string {
  return record.action === 'close' ? CLOSE_EVENT_DETAIL_TYPE : OUTCOME_EVENT_DETAIL_TYPE;
}

/** The event's `detail`: the outcome record, versioned, with a key to drop duplicates by. */
export type OutcomeEventDetail = OutcomeRecord & {
  readonly version: 1;
  /** The same for every copy of this outcome: keep the first event with a given `dedupeKey`. */
  readonly dedupeKey: string;
  readonly finishedAt: string;
};

export function outcomeEventDetail(record: OutcomeRecord, finishedAt: Date): OutcomeEventDetail {
  // The opening's identity in the ledger: the same on every redelivery of every trigger of it.
  if (record.openingId !== undefined) {
    return { version: 1, dedupeKey: record.openingId, ...record, finishedAt: finishedAt.toISOString() };
  }
  // A bad message has no opening: its own identity, as before the ledger.
  const opening = [
    record.poolId ?? '',
    record.trainingId ?? '',
    record.operationId ?? record.requestedAt ?? record.messageId ?? '',
    record.outcome,
  ].join('|');
  const dedupeKey = createHash('sha256').update(opening).digest('hex').slice(0, 32);
  return { version: 1, dedupeKey, ...record, finishedAt: finishedAt.toISOString() };
}

interface EventBridgeSdk {
  readonly client: EventBridgeClient;
  readonly PutEvents: typeof PutEventsCommand;
}

/**
 * Publishes each outcome on an EventBridge bus so that users can route it with rules (mail,
 * chat, their next pipeline step). The log record stays the record of truth: an event that
 * cannot be published after the SDK's retries is logged as a warning and does not fail the
 * opening, which would open the pool again.
 */
export class EventBridgeOutcomeSink implements OutcomeSink {
  private sdk: Promise<EventBridgeSdk> | undefined;

  constructor(
    private readonly eventBusName: string,
    private readonly log: Log,
    private readonly clientConfig: EventBridgeClientConfig = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  async report(record: OutcomeRecord): Promise<void> {
    const detail = outcomeEventDetail(record, this.now());
    try {
      const { client, PutEvents } = await this.loadSdk();
      const result = await client.send(
        new PutEvents({
          Entries: [
            {
              EventBusName: this.eventBusName,
              Source: OUTCOME_EVENT_SOURCE,
              DetailType: detailTypeOf(record),
              Detail: JSON.stringify(detail),
            },
          ],
        }),
      );
      const failed = result.Entries?.[0];
      if ((result.FailedEntryCount ?? 0) > 0) {
        this.log.warn('outcome event not published', {
          dedupeKey: detail.dedupeKey,
          error: { code: failed?.ErrorCode, message: failed?.ErrorMessage },
        });
      }
    } catch (error) {
      this.log.warn('outcome event not published', {
        dedupeKey: detail.dedupeKey,
        error: describeError(error),
      });
    }
  }

  private loadSdk(): Promise<EventBridgeSdk> {
    // Loaded when the first outcome is reported: a checker invocation that only schedules the next check never needs it.
    this.sdk ??= import('@aws-sdk/client-eventbridge').then((sdk) => ({
      client: new sdk.EventBridgeClient(this.clientConfig),
      PutEvents: sdk.PutEventsCommand,
    }));
    return this.sdk;
  }
}
