/**
 * Toloka as it looks when a token is rotated or revoked: a gate in front of two emulators that
 * sends each request whose token is accepted (for now) to `toloka`, which holds every pool and
 * operation and knows every token the test uses, and every other request to `refusing`, an
 * emulator that knows none of them and so answers with its own 401 (or 403). `accept` changes
 * which tokens get through, as rotating the key in Toloka's console does. Requests pass through
 * unchanged, so each emulator's request log and the conformance checks see what the app sent.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EmulatorOptions, TolokaEmulator } from '../../emulator/toloka-emulator.ts';

export class TokenGate {
  readonly toloka: TolokaEmulator;
  readonly refusing: TolokaEmulator;
  private accepted: ReadonlySet<string>;
  private server: Server | undefined;
  private origin: string | undefined;

  constructor(tokens: readonly string[], options: Omit<EmulatorOptions, 'tokens'> = {}) {
    this.toloka = new TolokaEmulator({ ...options, tokens: [...tokens] });
    this.refusing = new TolokaEmulator({ tokens: ['a-token-nobody-has-ZZ9'] });
    this.accepted = new Set(tokens);
  }

  /** Only these tokens get through from now on. */
  accept(...tokens: string[]): void {
    this.accepted = new Set(tokens);
  }

  get url(): string {
    if (this.origin === undefined) throw new Error('the token gate is not started');
    return this.origin;
  }

  async start(): Promise<string> {
    await this.toloka.start();
    await this.refusing.start();
    const server = createServer((req, res) => {
      const token = /^(?:OAuth|ApiKey) (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const upstream = token !== undefined && this.accepted.has(token) ? this.toloka : this.refusing;
      const forward = request(
        `${upstream.url}${req.url ?? '/'}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.origin = undefined;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.toloka.stop();
    await this.refusing.stop();
  }
}
