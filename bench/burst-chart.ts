/**
 * The burst as a picture (docs/benchmarks-burst.svg): for each N, Toloka requests a second and
 * pools confirmed over time, one line per design. Plain SVG, no library: polylines on two axes.
 */
import type { BurstRun, DesignName } from './burst.ts';

const COLORS: Record<DesignName, string> = { direct: '#d62728', queued: '#8c8c8c', paced: '#1f77b4' };
const PANEL = { width: 430, height: 190, left: 52, right: 14, top: 30, bottom: 36 };

/** Requests sent in each whole second after the minute. */
export function perSecond(instantsMs: readonly number[]): number[] {
  const counts: number[] = [];
  for (const at of instantsMs) {
    const second = Math.max(0, Math.floor(at / 1000));
    while (counts.length <= second) counts.push(0);
    counts[second] = (counts[second] ?? 0) + 1;
  }
  return counts;
}

/** Pools confirmed by the end of each whole second. */
export function confirmedBySecond(confirmedAtMs: readonly number[], seconds: number): number[] {
  const sorted = [...confirmedAtMs].sort((a, b) => a - b);
  const counts: number[] = [];
  let index = 0;
  for (let second = 0; second <= seconds; second++) {
    while (index < sorted.length && (sorted[index] ?? 0) < (second + 1) * 1000) index++;
    counts.push(index);
  }
  return counts;
}

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  return step ?? 10 * power;
}

interface Series {
  readonly color: string;
  readonly values: readonly number[];
}

/** A linear axis, or a logarithmic one (of 1 + value, so that 0 stays on it) for rates far apart. */
type Scale = 'linear' | 'log';

function panel(
  x: number,
  y: number,
  title: string,
  series: readonly Series[],
  xMaxSeconds: number,
  yMax: number,
  guides: ReadonlyArray<{ value: number; label: string }>,
  scale: Scale = 'linear',
): string {
  const w = PANEL.width - PANEL.left - PANEL.right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const ox = x + PANEL.left;
  const oy = y + PANEL.top + h;
  const sx = (seconds: number) => ox + (seconds / xMaxSeconds) * w;
  const toAxis = (value: number) => (scale === 'log' ? Math.log10(1 + value) : value);
  const sy = (value: number) => oy - (toAxis(Math.min(value, yMax)) / toAxis(yMax)) * h;
  const parts: string[] = [`<text x="${ox}" y="${y + 18}" class="title">${title}</text>`];
  const yTicks =
    scale === 'log'
      ? [0, 1, 10, 100, 1000, 10000].filter((value) => value <= yMax)
      : Array.from({ length: Math.floor(yMax / niceStep(yMax, 4)) + 1 }, (_, i) => i * niceStep(yMax, 4));
  for (const value of yTicks) {
    parts.push(
      `<line x1="${ox}" x2="${ox + w}" y1="${sy(value)}" y2="${sy(value)}" class="grid"/>`,
      `<text x="${ox - 6}" y="${sy(value) + 4}" class="tick" text-anchor="end">${value}</text>`,
    );
  }
  const xStep = niceStep(xMaxSeconds, 6);
  for (let second = 0; second <= xMaxSeconds + 1e-9; second += xStep) {
    parts.push(`<text x="${sx(second)}" y="${oy + 16}" class="tick" text-anchor="middle">${second} s</text>`);
  }
  for (const guide of guides) {
    if (guide.value > yMax) continue;
    parts.push(
      `<line x1="${ox}" x2="${ox + w}" y1="${sy(guide.value)}" y2="${sy(guide.value)}" class="guide"/>`,
      `<text x="${ox + w - 4}" y="${sy(guide.value) - 4}" class="tick" text-anchor="end">${guide.label}</text>`,
    );
  }
  for (const line of series) {
    const points = line.values
      .map((value, second) => `${sx(second + 0.5).toFixed(1)},${sy(value).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${line.color}" stroke-width="1.6"/>`);
  }
  parts.push(`<rect x="${ox}" y="${oy - h}" width="${w}" height="${h}" class="frame"/>`);
  return parts.join('\n');
}

/** `text` as XML character data. */
function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** One row per N: requests a second on the left, pools confirmed on the right. */
export function burstChart(
  runs: readonly BurstRun[],
  budgetPerSecond: number,
  labels: Record<DesignName, string>,
): string {
  const sizes = [...new Set(runs.map((run) => run.pools))].sort((a, b) => a - b);
  const designs = [...new Set(runs.map((run) => run.design))];
  const legendHeight = 22 * designs.length + 10;
  const width = 2 * PANEL.width;
  const height = legendHeight + sizes.length * PANEL.height;
  const body: string[] = [];
  designs.forEach((design, i) => {
    const y = 16 + 22 * i;
    body.push(
      `<line x1="${PANEL.left}" x2="${PANEL.left + 26}" y1="${y}" y2="${y}" stroke="${COLORS[design]}" stroke-width="3"/>`,
      `<text x="${PANEL.left + 34}" y="${y + 4}" class="legend">${escapeXml(labels[design])}</text>`,
    );
  });
  sizes.forEach((pools, row) => {
    const inRow = runs.filter((run) => run.pools === pools);
    const seconds = Math.ceil(Math.max(...inRow.map((run) => run.wallMs)) / 1000);
    const rates = inRow.map((run) => ({ color: COLORS[run.design], values: perSecond(run.requestsAtMs) }));
    // Both designs on one axis: the one before peaks at thousands a second, the budget is 50.
    const peak = Math.max(...rates.flatMap((rate) => rate.values), 300);
    const y = legendHeight + row * PANEL.height;
    body.push(
      panel(
        0,
        y,
        `N = ${pools}: Toloka requests a second (log scale)`,
        rates,
        seconds + 1,
        peak * 1.2,
        [
          { value: budgetPerSecond, label: `budget ${budgetPerSecond}/s` },
          { value: 300, label: "Toloka's limit 300/s" },
        ],
        'log',
      ),
      panel(
        PANEL.width,
        y,
        `N = ${pools}: pools confirmed`,
        inRow.map((run) => ({
          color: COLORS[run.design],
          values: confirmedBySecond(run.confirmedAtMs, seconds),
        })),
        seconds + 1,
        pools,
        [],
      ),
    );
  });
  // The title is the chart's text alternative, for readers that cannot see it.
  const title =
    `A busy morning: ${sizes.join(', ')} pools at the same minute; Toloka requests a second ` +
    `(budget ${budgetPerSecond}, Toloka's limit 300) and pools confirmed over time, for ${designs.map((d) => labels[d]).join('; ')}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-labelledby="chart-title">
<title id="chart-title">${escapeXml(title)}</title>
<style>
.title { font-size: 13px; font-weight: bold; fill: #222; }
.tick { font-size: 10px; fill: #555; }
.legend { font-size: 12px; fill: #222; }
.grid { stroke: #e6e6e6; stroke-width: 1; }
.guide { stroke: #444; stroke-width: 1; stroke-dasharray: 4 3; }
.frame { fill: none; stroke: #999; stroke-width: 1; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
${body.join('\n')}
</svg>
`;
}
