/** Small statistics helpers for the benchmark: every figure in the report goes through these. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  const lower = sorted[middle - 1] ?? Number.NaN;
  return (lower + upper) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The value at quantile `q` (0..1), nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** A number with a fixed count of decimals, or an en dash when there is none. */
export function fmt(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function seconds(ms: number, decimals = 2): string {
  return `${fmt(ms / 1000, decimals)} s`;
}

/** Dollars: three significant digits below $1, cents above. */
export function dollars(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value === 0) return '$0';
  if (value >= 1) return `$${value.toFixed(2)}`;
  return `$${value.toPrecision(3)}`;
}

/** A lag or duration: milliseconds below one second, seconds above. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return Math.abs(ms) < 1000 ? `${fmt(ms, 0)} ms` : seconds(ms);
}

/** A signed difference in microseconds, e.g. `+129 µs`. */
export function signedMicros(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const us = Math.round(ms * 1000);
  return `${us >= 0 ? '+' : '−'}${fmt(Math.abs(us), 0)} µs`;
}
