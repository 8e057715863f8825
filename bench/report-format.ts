/** How the report writes numbers and tables. */
import { fmt, max, median, min } from './stats.ts';

export function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

export const ms = (value: number, decimals = 1) => `${fmt(value, decimals)} ms`;
export const kib = (bytes: number) => `${fmt(bytes / 1024, 0)} KiB`;
export const times = (ratio: number, decimals = 2) => `${fmt(ratio, decimals)}×`;
export const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${fmt(Math.abs(value), 0)}`;
/** A list of notes, or nothing: appended to a paragraph of the template. */
export const notes = (lines: readonly string[]) => (lines.length === 0 ? '' : `\n\n${lines.join('\n\n')}`);

export function range(values: readonly number[], decimals = 0): string {
  if (values.length === 0) return '–';
  const [low, high] = [fmt(min(values), decimals), fmt(max(values), decimals)];
  return low === high ? low : `${low}–${high}`;
}

export function seriesMedian(series: ReadonlyArray<{ name: string; ms: number[] }>, name: string): number {
  return median(series.find((s) => s.name === name)?.ms ?? []);
}
