import { TolokaEmulator } from '../../emulator/toloka-emulator.ts';
import type { OutcomeRecord } from '../../lambda/runtime/model.ts';
import { createLocalApp, type LocalApp, type LocalAppOptions } from '../../local/local-app.ts';
import { MemoryLog } from './fakes.ts';

export const TEST_TOKEN = 'integration-secret-token-7f3a9c';

/** The emulator on a free port, plus the real handlers wired to local queues pointing at it. */
export class Harness {
  readonly emulator = new TolokaEmulator({ tokens: [TEST_TOKEN] });
  readonly log = new MemoryLog();
  app!: LocalApp;

  async start(options: Partial<LocalAppOptions> = {}): Promise<this> {
    const origin = await this.emulator.start();
    this.app = createLocalApp({
      apiOrigin: origin,
      token: TEST_TOKEN,
      log: this.log,
      requestTimeoutMs: 1_000,
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
      poll: { fastPathSeconds: 0, minDelaySeconds: 1, backoffFactor: 1.5, deadlineSeconds: 30 },
      visibilityTimeoutSeconds: 0.2,
      ...options,
    });
    return this;
  }

  async stop(): Promise<void> {
    this.app?.close();
    await this.emulator.stop();
  }

  /** Sends each body to the trigger queue and waits until every opening has ended or died. */
  async trigger(...bodies: string[]): Promise<OutcomeRecord[]> {
    for (const body of bodies) this.app.triggerQueue.send(body);
    await this.app.settled();
    return this.app.outcomes;
  }

  operationChecks(): number {
    return this.emulator.countRequests('GET', '/operations/');
  }
}
