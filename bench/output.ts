/**
 * The Lambda log stream, captured without vitest: while a capture runs, everything the handlers
 * write to stdout and stderr is taken in (and kept off the terminal), and each outcome record is
 * stamped with Date.now() when its line is written. Progress lines of the bench go to the real
 * stderr through `progress`, which the capture does not touch.
 */

const realStderrWrite = process.stderr.write.bind(process.stderr);
const benchStart = Date.now();

export function progress(message: string): void {
  const elapsed = ((Date.now() - benchStart) / 1000).toFixed(1).padStart(6);
  realStderrWrite(`[bench +${elapsed} s] ${message}\n`);
}

export interface CapturedOutcome {
  readonly record: Record<string, unknown>;
  /** Date.now() when the line was written. */
  readonly capturedAt: number;
}

type Write = typeof process.stdout.write;

export class OutputCapture {
  readonly outcomes: CapturedOutcome[] = [];
  lines = 0;
  private readonly partial = { stdout: '', stderr: '' };
  private restore: Array<() => void> = [];
  private listeners: Array<(outcome: CapturedOutcome) => void> = [];

  /** `keep: false` discards everything (a sink), without even parsing it. */
  start(options: { keep?: boolean } = {}): this {
    const keep = options.keep ?? true;
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = process[name];
      const original = stream.write;
      const replacement = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
        if (keep) this.take(name, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
        if (callback !== undefined) queueMicrotask(callback);
        return true;
      };
      stream.write = replacement as Write;
      this.restore.push(() => {
        stream.write = original;
      });
    }
    return this;
  }

  stop(): void {
    for (const restore of this.restore) restore();
    this.restore = [];
  }

  onOutcome(listener: (outcome: CapturedOutcome) => void): void {
    this.listeners.push(listener);
  }

  private take(name: 'stdout' | 'stderr', text: string): void {
    const capturedAt = Date.now();
    const lines = (this.partial[name] + text).split('\n');
    this.partial[name] = lines.pop() ?? '';
    for (const line of lines) {
      this.lines++;
      if (!line.startsWith('{') || !line.includes('"outcome"')) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (!('outcome' in record)) continue;
      const outcome = { record, capturedAt };
      this.outcomes.push(outcome);
      for (const listener of this.listeners) listener(outcome);
    }
  }
}
