/** Where the progress goes: stderr, or a fake in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressState {
  readonly status: string;
  /** 0–100, when Toloka sent one. */
  readonly progress?: number | undefined;
}

const BAR_WIDTH = 20;
/** On a terminal the elapsed time keeps moving between checks (which may be minutes apart). */
const TICK_MS = 1_000;

/** `[#########...........]  45%`: drawn by hand, 20 cells of 5 %. */
export function progressBar(percent: number): string {
  const clamped = Math.max(0, Math.min(100, percent));
  const filled = Math.round(clamped / (100 / BAR_WIDTH));
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(clamped)).padStart(3)}%`;
}

/**
 * Shows how an operation goes: on a terminal, one line redrawn in place with a bar; otherwise (a
 * pipe, a CI log) one line per change of status or progress, so logs stay short and greppable.
 * Notes (retries) are printed on lines of their own without losing the bar.
 */
export class ProgressReporter {
  /** The status and progress shown last: off a terminal a line is printed only when they change. */
  private lastKey: string | undefined;
  /** On a terminal: what the bar shows, to redraw it after a note or a tick. */
  private state: ProgressState | undefined;
  private barShown = false;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly now: () => number = Date.now,
    private readonly startedAt: number = now(),
  ) {}

  update(state: ProgressState): void {
    if (this.stream.isTTY === true) {
      this.state = state;
      this.draw();
      this.ticker ??= setInterval(() => this.draw(), TICK_MS).unref();
      return;
    }
    const shown = state.progress === undefined ? '' : ` ${Math.round(state.progress)}%`;
    const key = `${state.status}${shown}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.stream.write(`${this.label}: ${key} (${this.elapsed()})\n`);
  }

  /** A line of its own (a retry, the operation's ID), keeping the bar below it on a terminal. */
  note(line: string): void {
    const redraw = this.barShown;
    this.clear();
    this.stream.write(`${line}\n`);
    if (redraw) this.draw();
  }

  /** Stops redrawing and leaves the cursor on a fresh line. */
  done(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.barShown) this.stream.write('\n');
    this.barShown = false;
  }

  private draw(): void {
    if (this.state === undefined) return;
    const { status, progress } = this.state;
    const bar = progress === undefined ? '' : ` ${progressBar(progress)}`;
    const line = `${this.label}: ${status.padEnd(7)}${bar}  ${this.elapsed()}`;
    // A pseudo-terminal may report 0 columns; a line that wraps could not be redrawn in place.
    const columns = this.stream.columns !== undefined && this.stream.columns > 0 ? this.stream.columns : 80;
    this.stream.write(`\r\x1b[2K${line.length >= columns ? line.slice(0, columns - 1) : line}`);
    this.barShown = true;
  }

  private clear(): void {
    if (!this.barShown) return;
    this.stream.write('\r\x1b[2K');
    this.barShown = false;
  }

  private elapsed(): string {
    return `${((this.now() - this.startedAt) / 1000).toFixed(1)} s`;
  }
}
