import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { TokenUnavailableError } from '../runtime/errors.ts';
import type { TokenSource } from '../runtime/ports.ts';

/** A fixed credential: the CLI's `TOLOKA_TOKEN`, the local run and tests. */
export class StaticTokenSource implements TokenSource {
  constructor(
    private readonly token: string,
    readonly source = 'the configured token',
  ) {}
  async getToken(): Promise<string> {
    return this.token;
  }
}

/**
 * The token from an SSM SecureString, decrypted, cached for `maxAgeSeconds` across warm
 * invocations by Powertools Parameters. Concurrent first reads (a batch of ten on a cold start)
 * share one `GetParameter` call.
 */
export class SsmTokenSource implements TokenSource {
  private inFlight: Promise<string> | undefined;
  private refreshing: Promise<string> | undefined;
  private provider: Promise<SSMProvider> | undefined;

  constructor(
    private readonly parameterName: string,
    private readonly maxAgeSeconds: number,
    provider?: SSMProvider,
    /** The SSM client's settings (time-outs), when the provider is built here. */
    private readonly clientConfig: Record<string, unknown> = {},
  ) {
    if (provider !== undefined) this.provider = Promise.resolve(provider);
  }

  get source(): string {
    return `SSM parameter ${this.parameterName}`;
  }

  getToken(): Promise<string> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** One `GetParameter` past the cache, shared by concurrent callers like the first read. */
  refresh(): Promise<string> {
    this.refreshing ??= this.read(true).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async read(forceFetch = false): Promise<string> {
    let value: string | undefined;
    try {
      // Loaded on first use, so that the command line with TOLOKA_TOKEN never loads the SSM client.
      this.provider ??= import('@aws-lambda-powertools/parameters/ssm').then(
        (ssm) => new ssm.SSMProvider({ clientConfig: this.clientConfig }),
      );
      const provider = await this.provider;
      value = await provider.get(this.parameterName, {
        decrypt: true,
        maxAge: this.maxAgeSeconds,
        forceFetch,
      });
    } catch (error) {
      // The SDK's message names the parameter and the reason (not found, access denied, throttled), never its value.
      throw new TokenUnavailableError(
        `cannot read SSM parameter ${this.parameterName}: ${errorText(error)}`,
        {
          cause: error,
        },
      );
    }
    if (value === undefined || value.trim() === '') {
      throw new TokenUnavailableError(`SSM parameter ${this.parameterName} is empty`);
    }
    return value;
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = error.cause instanceof Error ? error.cause : error;
  return `${inner.name}: ${inner.message}`;
}
