import type { OutcomeRecord } from '../runtime/model.ts';
import type { OutcomeSink } from '../runtime/ports.ts';

/** The `service` of every log line and outcome record. */
export const SERVICE_NAME = 'toloka-pool-opener';

export type LineWriter = (line: string) => void;

/**
 * Outcome records as single JSON log lines on stdout (CloudWatch Logs in Lambda). Written
 * directly rather than through the logger, because the contract puts Toloka's `message` at the
 * top level, where a logger keeps its own.
 */
export class LogOutcomeSink implements OutcomeSink {
  constructor(
    private readonly service: string,
    private readonly write: LineWriter = (line) => process.stdout.write(`${line}\n`),
    private readonly now: () => Date = () => new Date(),
  ) {}

  async report(record: OutcomeRecord): Promise<void> {
    const level = record.outcome === 'FAILED' || record.outcome === 'TIMED_OUT' ? 'ERROR' : 'INFO';
    this.write(
      JSON.stringify({ level, timestamp: this.now().toISOString(), service: this.service, ...record }),
    );
  }
}

/** Keeps records in memory: tests and the local run read them back. */
export class MemoryOutcomeSink implements OutcomeSink {
  readonly records: OutcomeRecord[] = [];
  async report(record: OutcomeRecord): Promise<void> {
    this.records.push(record);
  }
}

/** Sends each record to several sinks (the log line and, say, an event bus). */
export class FanOutOutcomeSink implements OutcomeSink {
  private readonly sinks: readonly OutcomeSink[];
  constructor(...sinks: OutcomeSink[]) {
    this.sinks = sinks;
  }
  async report(record: OutcomeRecord): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.report(record)));
  }
}
