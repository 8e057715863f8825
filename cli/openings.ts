/**
 * `toloka-pool openings`: the history operators read, from the openings ledger's DynamoDB table
 * (`DynamoDbOpeningsLedger.list`, newest first). The AWS region, credentials and endpoint come
 * from the SDK's standard settings, with the Lambdas' client time-outs and retries.
 */

import { DynamoDbOpeningsLedger } from '../lambda/adapters/dynamodb-openings-ledger.ts';
import { AWS_CLIENT_TIMEOUTS } from '../lambda/runtime/config.ts';
import { type TolokaTarget, targetFields } from '../lambda/runtime/model.ts';
import type { Opening, OpeningsLedger } from '../lambda/runtime/openings-ledger.ts';
import { failureFromError } from './exit-codes.ts';
import type { CliIo, CommandResult } from './io.ts';
import { targetLabel } from './settings.ts';

export interface OpeningsSettings {
  readonly table: string;
  readonly target?: TolokaTarget | undefined;
  /** How far back to look, in ms (`--since`). */
  readonly sinceMs: number;
  /** `--since` as given, for the empty-result line. */
  readonly sinceText: string;
  readonly limit: number;
  readonly verbose: boolean;
}

export async function openingsCommand(
  settings: OpeningsSettings,
  io: CliIo,
  ledger: OpeningsLedger = new DynamoDbOpeningsLedger(settings.table, AWS_CLIENT_TIMEOUTS),
): Promise<CommandResult> {
  const nowMs = Date.now();
  const sinceMs = nowMs - settings.sinceMs;
  let found: Opening[];
  try {
    // One more than shown: whether more match than --limit lets through.
    found = await ledger.list({
      sinceMs,
      limit: settings.limit + 1,
      ...(settings.target !== undefined ? { target: settings.target } : {}),
    });
  } catch (error) {
    // A LedgerError is judged by its cause (ledgerFailure): credentials 3, no table 5, unreachable 7.
    return { kind: 'failure', failure: failureFromError(error) };
  }
  const openings = found.slice(0, settings.limit);
  if (found.length > settings.limit) {
    io.stderr.write(
      `toloka-pool: showing the newest ${settings.limit === 1 ? 'opening' : `${settings.limit} openings`}; ` +
        'more match: raise --limit or shorten --since\n',
    );
  }
  const json = { openings: openings.map((opening) => openingJson(opening, nowMs)) };
  if (openings.length === 0) {
    const of = settings.target === undefined ? '' : ` of ${targetLabel(settings.target)}`;
    return {
      kind: 'success',
      json,
      text: `No openings${of} requested since ${utc(sinceMs)} UTC (the last ${settings.sinceText}) in ${settings.table}.`,
    };
  }
  return { kind: 'success', json, text: openingsTable(openings, nowMs, settings.verbose) };
}

/** Every field of the ledger's opening, and its times as ISO 8601 (UTC) too. */
export function openingJson(opening: Opening, nowMs: number): Record<string, unknown> {
  const iso = (key: string, ms: number | undefined) =>
    ms === undefined ? {} : { [key]: new Date(ms).toISOString() };
  return {
    ...opening,
    ...targetFields(opening.target),
    ...iso('requestedAt', opening.requestedAtMs),
    ...iso('deadline', opening.deadlineMs),
    ...iso('decidedAt', opening.decidedAtMs),
    ...iso('reportedAt', opening.reportedAtMs),
    elapsedMs: elapsedMs(opening, nowMs),
  };
}

const HEADERS = ['REQUESTED (UTC)', 'POOL', 'OUTCOME', 'OPERATION', 'CHECKS', 'ELAPSED', 'TRIGGERS'] as const;

/** One row per opening, newest first; with `verbose`, its IDs, times and message under it. */
function openingsTable(openings: readonly Opening[], nowMs: number, verbose: boolean): string {
  const rows = openings.map((opening) => [
    utc(opening.requestedAtMs),
    targetLabel(opening.target),
    outcomeLabel(opening),
    opening.operationId ?? '-',
    String(opening.checks),
    `${formatDuration(elapsedMs(opening, nowMs))}${opening.state === 'DECIDED' ? '' : ' so far'}`,
    String(opening.triggers.length),
  ]);
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = [line(HEADERS)];
  rows.forEach((row, index) => {
    lines.push(line(row));
    const opening = openings[index];
    if (verbose && opening !== undefined) lines.push(...details(opening));
  });
  return lines.join('\n');
}

/** `--verbose`: what the row leaves out. */
function details(opening: Opening): string[] {
  const rows: Array<readonly [string, string | undefined]> = [
    ['opening', opening.openingId],
    ['triggers', opening.triggers.join(', ')],
    ['deadline', `${utc(opening.deadlineMs)} UTC`],
    ['decided', opening.decidedAtMs === undefined ? undefined : `${utc(opening.decidedAtMs)} UTC`],
    [
      'reported',
      opening.reportedAtMs !== undefined
        ? `${utc(opening.reportedAtMs)} UTC`
        : opening.state === 'DECIDED'
          ? '(not yet)'
          : undefined,
    ],
    ['code', opening.outcome?.code],
    ['message', opening.outcome?.message],
    ['request_id', opening.outcome?.request_id],
  ];
  return rows
    .filter((row): row is readonly [string, string] => row[1] !== undefined)
    .map(([name, value]) => `    ${`${name}:`.padEnd(12)}${value}`);
}

/** The outcome, with a failure's code; an opening not decided yet is IN PROGRESS, with its state. */
function outcomeLabel(opening: Opening): string {
  const { outcome } = opening;
  if (outcome === undefined) {
    return opening.state === 'DECIDED' ? 'DECIDED' : `IN PROGRESS (${opening.state})`;
  }
  return outcome.outcome === 'FAILED' && outcome.code !== undefined
    ? `FAILED ${outcome.code}`
    : outcome.outcome;
}

/** From the request to the decision (the outcome record's own `elapsedMs` when it has one), or to now. */
function elapsedMs(opening: Opening, nowMs: number): number {
  if (opening.state !== 'DECIDED') return Math.max(0, nowMs - opening.requestedAtMs);
  return opening.outcome?.elapsedMs ?? Math.max(0, (opening.decidedAtMs ?? nowMs) - opening.requestedAtMs);
}

/** `2026-11-28 22:32:03` */
function utc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** `0.4 s`, `12.3 s`, `4m 05s`, `2h 03m`, `1d 02h`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  const two = (value: number) => String(value).padStart(2, '0');
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${two(Math.floor(seconds / 3_600) % 24)}h`;
}
