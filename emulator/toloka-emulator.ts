import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findRoute } from './api-routes.ts';
import { CONTROL_PREFIX, controlAnswer } from './control-api.ts';
import { EmulatorConfigError, errorBody, TolokaError } from './errors.ts';
import { type Fault, FaultQueue } from './faults.ts';
import {
  type Answer,
  API_PREFIX,
  type AuthScheme,
  decodePathSegment,
  faultAnswer,
  noRoute,
  ownValue,
  readBody,
  rendered,
  schemeOf,
  send,
} from './http-answers.ts';
import type { OperationJson, ResourceState } from './model.ts';
import type { PoolBehaviour } from './pool-behaviour.ts';
import { EmulatorState } from './state.ts';
import { DEFAULT_SWITCHES, type EmulatorSwitches, parseSwitches } from './switches.ts';

export type { Fault } from './faults.ts';
export type { AuthScheme } from './http-answers.ts';
export type { OperationJson, ResourceState } from './model.ts';
export type { PoolBehaviour } from './pool-behaviour.ts';
export type { EmulatorSwitches } from './switches.ts';

export interface EmulatorOptions {
  /** Accepted tokens, with either scheme. Default `['local-dev-token']`. */
  tokens?: string[];
  /** Pools known from the start, by ID. */
  pools?: Record<string, PoolBehaviour>;
  /** Trainings known from the start, by ID. */
  trainings?: Record<string, PoolBehaviour>;
  /** What real Toloka may do that the emulator does not by default (emulator/switches.ts). */
  switches?: Partial<EmulatorSwitches>;
  /** Shorthand for `switches.autoCreatePools`: create unknown positive-integer IDs on first use. Default false. */
  autoCreatePools?: boolean;
  /** More authenticated API requests than this within one second answer 429. Default 300; Infinity disables. */
  rateLimitPerSecond?: number;
  /** The clock behind operation progress, dates, the request log and the rate limit. Default `Date.now`. */
  now?: () => number;
  /** The account balance `GET /requester` shows, in US dollars. Default 100. */
  balance?: number;
}

/** One request to `/api/v1` and its answer, as observers see it (for conformance checks). */
export interface Exchange {
  readonly method: string;
  /** The path after `/api/v1`, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Request headers, names in lower case; `authorization` is replaced by its scheme alone. */
  readonly requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  /** 0 when the connection was reset without an answer. */
  readonly status: number;
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** The body as sent; undefined when there was none. */
  readonly body: string | undefined;
  /** Set when an injected fault produced the answer: it departs from Toloka's contract on purpose. */
  readonly fault?: Fault['kind'];
  /** The switches in force when it was answered. */
  readonly switches: EmulatorSwitches;
}

type ExchangeObserver = (exchange: Exchange) => void;
const exchangeObservers = new Set<ExchangeObserver>();

/**
 * Calls `observer` with every exchange of every emulator in this process, until the returned
 * function is called. The conformance checks of the tests use it (test/setup/conformance.ts).
 */
export function observeExchanges(observer: ExchangeObserver): () => void {
  exchangeObservers.add(observer);
  return () => exchangeObservers.delete(observer);
}

export interface RequestLogEntry {
  method: string;
  /** The path after `/api/v1`, without the query string, e.g. `/pools/1/open`. */
  path: string;
  /** The status answered; 0 when the connection was reset without an answer. */
  status: number;
  /** Arrival time, by the emulator's clock. */
  at: number;
  /** The scheme the request used; the token itself is never recorded. */
  authScheme: AuthScheme | null;
}

const DEFAULT_TOKENS = ['local-dev-token'];
const DEFAULT_RATE_LIMIT = 300;

/**
 * A Toloka API emulator on a real HTTP server: `/api/v1` behaves like the parts of Toloka this app uses,
 * and `/_emulator` lets other processes configure it (see emulator/README.md).
 */
export class TolokaEmulator {
  /** Every request under `/api/v1`, logged when it is acted on (before a delayed answer goes out). */
  readonly requests: RequestLogEntry[] = [];
  /** TCP connections accepted so far: tells whether a client reuses its connections. */
  connectionsAccepted = 0;
  /** What `GET /requester` shows as the balance; a test may change it. */
  balance: number;

  private readonly state: EmulatorState;
  private readonly faults = new FaultQueue();
  private readonly tokens: ReadonlySet<string>;
  private readonly rateLimit: number;
  private readonly now: () => number;
  private readonly initialSwitches: EmulatorSwitches;
  private currentSwitches: EmulatorSwitches;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Arrival times of the requests counted against the rate limit during the last second. */
  private recent: number[] = [];
  private server: Server | undefined;
  private origin: string | undefined;

  constructor(options: EmulatorOptions = {}) {
    const tokens = options.tokens ?? DEFAULT_TOKENS;
    if (tokens.length === 0 || tokens.some((token) => typeof token !== 'string' || token.trim() === '')) {
      throw new EmulatorConfigError('tokens must be non-empty strings');
    }
    const rateLimit = options.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT;
    if (!(rateLimit > 0)) throw new EmulatorConfigError('rateLimitPerSecond must be > 0');
    this.tokens = new Set(tokens);
    this.rateLimit = rateLimit;
    this.now = options.now ?? Date.now;
    this.balance = options.balance ?? 100;
    this.initialSwitches = {
      ...DEFAULT_SWITCHES,
      ...(options.autoCreatePools === undefined ? {} : { autoCreatePools: options.autoCreatePools }),
      ...parseSwitches(options.switches ?? {}),
    };
    this.currentSwitches = this.initialSwitches;
    this.state = new EmulatorState(this.now, () => this.currentSwitches, {
      pools: options.pools ?? {},
      trainings: options.trainings ?? {},
    });
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('the emulator is already started');
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, { status: 500, body: errorBody(500, undefined, String(error)) });
        else res.destroy();
      });
    });
    server.on('connection', () => {
      this.connectionsAccepted++;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.server = server;
    this.origin = `http://${hostPart}:${address.port}`;
    return this.origin;
  }

  /** The origin, e.g. `http://127.0.0.1:54321`; clients append `/api/v1`. */
  get url(): string {
    if (!this.origin) throw new Error('the emulator is not started');
    return this.origin;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.origin = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive sockets would otherwise hold close() open until clients let go.
    server.closeAllConnections();
    await closed;
  }

  setPool(id: string, behaviour: PoolBehaviour): ResourceState {
    return this.state.setResource('pool', id, behaviour);
  }

  setTraining(id: string, behaviour: PoolBehaviour): ResourceState {
    return this.state.setResource('training', id, behaviour);
  }

  /** Undefined for a pool nobody configured or used yet. */
  getPoolState(id: string): ResourceState | undefined {
    return this.state.resourceState('pool', id);
  }

  getTrainingState(id: string): ResourceState | undefined {
    return this.state.resourceState('training', id);
  }

  getOperation(id: string): OperationJson | undefined {
    return this.state.getOperation(id);
  }

  /** The switches in force. */
  get switches(): EmulatorSwitches {
    return this.currentSwitches;
  }

  /** Changes some switches; the others keep their values. `reset()` restores the constructor's. */
  setSwitches(switches: Partial<EmulatorSwitches>): EmulatorSwitches {
    this.currentSwitches = { ...this.currentSwitches, ...parseSwitches(switches) };
    return this.currentSwitches;
  }

  injectFault(fault: Fault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Counts logged requests; a string path is a prefix of the path after `/api/v1`. */
  countRequests(method?: string, pathPrefixOrRegExp?: string | RegExp): number {
    return this.requests.filter((entry) => {
      if (method !== undefined && entry.method !== method) return false;
      if (pathPrefixOrRegExp === undefined) return true;
      if (typeof pathPrefixOrRegExp === 'string') return entry.path.startsWith(pathPrefixOrRegExp);
      pathPrefixOrRegExp.lastIndex = 0;
      return pathPrefixOrRegExp.test(entry.path);
    }).length;
  }

  resetLog(): void {
    this.requests.length = 0;
    this.connectionsAccepted = 0;
  }

  /** Back to the constructor's configuration: pools, trainings, operations, faults, log and rate window. */
  reset(): void {
    this.currentSwitches = this.initialSwitches;
    this.state.reset();
    this.faults.clear();
    this.resetLog();
    this.recent = [];
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const pathname = url.pathname;
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    if (pathname === CONTROL_PREFIX || pathname.startsWith(`${CONTROL_PREFIX}/`)) {
      send(res, controlAnswer(this, method, pathname.slice(CONTROL_PREFIX.length), body));
      return;
    }
    if (!pathname.startsWith(`${API_PREFIX}/`)) {
      send(res, { status: 404, body: errorBody(404, undefined, `No route for ${pathname}`) });
      return;
    }
    await this.api(req, res, method, pathname.slice(API_PREFIX.length), url.searchParams);
  }

  private async api(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const at = this.now();
    const authorization = req.headers.authorization;
    const switches = this.currentSwitches;
    const log = (status: number) => {
      this.requests.push({ method, path, status, at, authScheme: schemeOf(authorization) });
    };
    const observe = (answer: Answer | undefined, fault?: Fault['kind']) => {
      if (exchangeObservers.size === 0) return;
      const sent = answer === undefined ? undefined : rendered(answer);
      const exchange: Exchange = {
        method,
        path,
        query,
        requestHeaders: { ...req.headers, authorization: schemeOf(authorization) ?? authorization },
        status: answer?.status ?? 0,
        responseHeaders: sent?.headers ?? {},
        body: sent?.payload,
        ...(fault === undefined ? {} : { fault }),
        switches,
      };
      for (const observer of exchangeObservers) observer(exchange);
    };

    const fault = this.faults.take(method, path);
    if (fault?.kind === 'reset') {
      log(0);
      observe(undefined, 'reset');
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status' || fault?.kind === 'malformed') {
      const answer = faultAnswer(fault);
      log(answer.status);
      observe(answer, fault.kind);
      send(res, answer);
      return;
    }
    // Acted on at once, answered late: the state change has happened even if the client gave up
    // waiting, which is what a retry after a client-side time-out meets on the real service.
    const answer = this.answer(method, path, query, authorization);
    log(answer.status);
    observe(answer);
    if (fault?.kind === 'delay') await this.sleep(fault.delayMs);
    send(res, answer);
  }

  private answer(
    method: string,
    path: string,
    query: URLSearchParams,
    authorization: string | undefined,
  ): Answer {
    if (!this.authenticated(authorization)) {
      // Whether Toloka answers a bad token with 401 or 403 is not documented: a switch chooses.
      return this.currentSwitches.badTokenStatus === 403
        ? { status: 403, body: errorBody(403, 'ACCESS_DENIED', 'Access denied: the token is not valid') }
        : {
            status: 401,
            body: errorBody(
              401,
              'AUTHENTICATION_ERROR',
              'Missing or invalid Authorization: use "OAuth <token>" or "ApiKey <key>"',
            ),
          };
    }
    if (!this.admit()) {
      return {
        status: 429,
        body: errorBody(429, 'TOO_MANY_REQUESTS', `More than ${this.rateLimit} requests per second`),
      };
    }
    const route = findRoute(path.split('/').slice(1), { state: this.state, balance: this.balance });
    const id = route && decodePathSegment(route.id);
    if (!route || id === undefined) return noRoute(path);
    const handler = ownValue(route.handlers, method);
    if (!handler) {
      return {
        status: 405,
        body: errorBody(405, undefined, `${method} is not allowed here`),
        headers: { allow: Object.keys(route.handlers).join(', ') },
      };
    }
    try {
      return handler(id, query);
    } catch (error) {
      if (error instanceof TolokaError) return { status: error.status, body: error.toBody() };
      throw error;
    }
  }

  private authenticated(authorization: string | undefined): boolean {
    const match = authorization?.match(/^(?:OAuth|ApiKey) (.+)$/);
    return match?.[1] !== undefined && this.tokens.has(match[1]);
  }

  /** A sliding one-second window over authenticated requests, like Toloka's per-account limit. */
  private admit(): boolean {
    if (this.rateLimit === Number.POSITIVE_INFINITY) return true;
    const now = this.now();
    this.recent = this.recent.filter((time) => time > now - 1000);
    if (this.recent.length >= this.rateLimit) return false;
    this.recent.push(now);
    return true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}
