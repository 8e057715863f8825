/** One run's measurements, as bench/run.ts hands them to the report (report.ts) and its targets (report-targets.ts). */
import type { BurstResult } from './burst-report.ts';
import type { ColdStartResult } from './cold-start.ts';
import type { ConfirmationResult } from './confirmation.ts';
import type { Machine } from './infra.ts';
import type { BatchResult, WarmResult } from './warm.ts';

export interface ReportInput {
  readonly machine: Machine;
  /** Which version of the app was measured. */
  readonly code: string;
  readonly startedAt: Date;
  readonly wallSeconds: number;
  readonly confirmation: ConfirmationResult;
  readonly coldStart: ColdStartResult;
  readonly warm: WarmResult;
  readonly batch: BatchResult;
  readonly burst: BurstResult;
  readonly settings: { readonly runs: number; readonly staggerMs: number };
}
