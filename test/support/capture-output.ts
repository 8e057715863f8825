import { vi } from 'vitest';

/** Everything written to stdout and stderr while active (Lambda's log stream), for assertions and scans. */
export class OutputCapture {
  readonly chunks: string[] = [];
  private spies: Array<{ mockRestore(): void }> = [];

  start(): this {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      const spy = vi.spyOn(stream, 'write').mockImplementation(((
        chunk: string | Uint8Array,
        ...rest: unknown[]
      ) => {
        this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return process.env.SHOW_LAMBDA_LOGS === '1' ? original(chunk, ...(rest as [])) : true;
      }) as typeof stream.write);
      this.spies.push(spy);
    }
    return this;
  }

  stop(): void {
    for (const spy of this.spies) spy.mockRestore();
    this.spies = [];
  }

  get text(): string {
    return this.chunks.join('');
  }

  /** The JSON log lines written, parsed. */
  records(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  outcomes(): Array<Record<string, unknown>> {
    return this.records().filter((record) => 'outcome' in record);
  }
}
