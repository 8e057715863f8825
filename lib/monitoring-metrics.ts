/** What the monitoring's parts share: the metrics taken from the outcome records, their period, the operators' guide. */
import { Duration } from 'aws-cdk-lib';
import type { Outcome } from '../lambda/runtime/model.ts';

/** The outcome of one run (an open or a close), as the `outcome` field of its record says. */
export type OpeningOutcome = Outcome;

/** Every outcome a run can end in, in the order the dashboard shows them. */
export const OPENING_OUTCOMES: readonly OpeningOutcome[] = [
  'OPENED',
  'ALREADY_OPEN',
  'CLOSED',
  'ALREADY_CLOSED',
  'FAILED',
  'TIMED_OUT',
  'SKIPPED',
];

/** The default CloudWatch namespace of the metrics taken from the outcome records. */
export const DEFAULT_METRIC_NAMESPACE = 'TolokaPoolOpener';

/** Metric (namespace `metricNamespace`): 1 per run (open or close), dimension `Outcome`. */
export const OPENINGS_METRIC = 'Openings';
/** Metric: 1 per scheduled trigger skipped because it came too late (`SKIPPED`, `reason` `LATE`). */
export const LATE_TRIGGERS_METRIC = 'LateTriggers';
/** Metric: `elapsedMs` of each `OPENED` record (ms from the opening request to the confirmation). */
export const TIME_TO_CONFIRM_METRIC = 'TimeToConfirm';

/** The period of every alarm and of the dashboard's graphs. */
export const FIVE_MINUTES = Duration.minutes(5);

/** The operators' guide that alarm descriptions and the dashboard point to. */
export const OPERATIONS_DOC = 'docs/operations.md';
