import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmulatorConfigError, errorBody, TolokaError } from './errors.ts';
import { type Fault, FaultQueue, parseFault } from './faults.ts';
import {
  EmulatorState,
  type OperationJson,
  type PoolBehaviour,
  parsePoolBehaviour,
  type ResourceKind,
  type ResourceState,
} from './state.ts';

export type { Fault } from './faults.ts';
export type { OperationJson, PoolBehaviour, ResourceState } from './state.ts';

export interface EmulatorOptions {
  /** Accepted tokens, with either scheme. Default `['local-dev-token']`. */
  tokens?: string[];
  /** Pools known from the start, by ID. */
  pools?: Record<string, PoolBehaviour>;
  /** Trainings known from the start, by ID. */
  trainings?: Record<string, PoolBehaviour>;
  /**
   * Default true: an unknown pool or training whose ID is a positive integer is created, CLOSED, on first use.
   * False: unknown IDs answer 404 DOES_NOT_EXIST.
   */
  autoCreatePools?: boolean;
  /** More authenticated API requests than this within one second answer 429. Default 300; Infinity disables. */
  rateLimitPerSecond?: number;
  /** The clock behind operation progress, dates, the request log and the rate limit. Default `Date.now`. */
  now?: () => number;
}

export type AuthScheme = 'OAuth' | 'ApiKey';

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

interface Answer {
  status: number;
  /** A string is sent as is; anything else but undefined is sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

const API_PREFIX = '/api/v1';
const CONTROL_PREFIX = '/_emulator';
const MAX_BODY_BYTES = 1024 * 1024;
// Cut mid-string on purpose: a client must treat this as a protocol error, not as an operation.
const MALFORMED_BODY = '{"id": "trunc';
const DEFAULT_TOKENS = ['local-dev-token'];
const DEFAULT_RATE_LIMIT = 300;

type Handler = (id: string) => Answer;

/**
 * A Toloka API emulator on a real HTTP server: `/api/v1` behaves like the parts of Toloka this app uses,
 * and `/_emulator` lets other processes configure it (see emulator/README.md).
 */
export class TolokaEmulator {
  /** Every request under `/api/v1`, logged when it is acted on (before a delayed answer goes out). */
  readonly requests: RequestLogEntry[] = [];
  /** TCP connections accepted so far: tells whether a client reuses its connections. */
  connectionsAccepted = 0;

  private readonly state: EmulatorState;
  private readonly faults = new FaultQueue();
  private readonly tokens: ReadonlySet<string>;
  private readonly rateLimit: number;
  private readonly now: () => number;
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
    this.state = new EmulatorState(this.now, options.autoCreatePools ?? true, {
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
    this.state.reset();
    this.faults.clear();
    this.resetLog();
    this.recent = [];
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://emulator').pathname;
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    if (pathname === CONTROL_PREFIX || pathname.startsWith(`${CONTROL_PREFIX}/`)) {
      send(res, this.control(method, pathname.slice(CONTROL_PREFIX.length), body));
      return;
    }
    if (!pathname.startsWith(`${API_PREFIX}/`)) {
      send(res, { status: 404, body: errorBody(404, undefined, `No route for ${pathname}`) });
      return;
    }
    await this.api(req, res, method, pathname.slice(API_PREFIX.length));
  }

  private async api(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    const at = this.now();
    const authorization = req.headers.authorization;
    const log = (status: number) => {
      this.requests.push({ method, path, status, at, authScheme: schemeOf(authorization) });
    };

    const fault = this.faults.take(method, path);
    if (fault?.kind === 'reset') {
      log(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status' || fault?.kind === 'malformed') {
      const answer = faultAnswer(fault);
      log(answer.status);
      send(res, answer);
      return;
    }
    // Acted on at once, answered late: the state change has happened even if the client gave up
    // waiting, which is what a retry after a client-side time-out meets on the real service.
    const answer = this.answer(method, path, authorization);
    log(answer.status);
    if (fault?.kind === 'delay') await this.sleep(fault.delayMs);
    send(res, answer);
  }

  private answer(method: string, path: string, authorization: string | undefined): Answer {
    if (!this.authenticated(authorization)) {
      return {
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
    const route = this.findRoute(path.split('/').slice(1));
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
      return handler(id);
    } catch (error) {
      if (error instanceof TolokaError) return { status: error.status, body: error.toBody() };
      throw error;
    }
  }

  private findRoute(segments: string[]): { id: string; handlers: Record<string, Handler> } | undefined {
    const [collection, id, action, ...rest] = segments;
    if (id === undefined || id === '' || rest.length > 0) return undefined;
    if (collection === 'pools' || collection === 'trainings') {
      const kind: ResourceKind = collection === 'pools' ? 'pool' : 'training';
      const handlers: Record<string, Record<string, Handler>> = {
        '': { GET: (key) => ok(this.state.resourceJson(kind, key)) },
        open: { POST: (key) => transition(this.state.open(kind, key)) },
        close: { POST: (key) => transition(this.state.close(kind, key)) },
      };
      const forAction = ownValue(handlers, action ?? '');
      return forAction && { id, handlers: forAction };
    }
    if (collection === 'operations') {
      if (action === undefined) return { id, handlers: { GET: (key) => ok(this.operationOr404(key)) } };
      if (action === 'log') {
        return { id, handlers: { GET: (key) => ok(this.state.operationLog(key) ?? operationMissing(key)) } };
      }
    }
    return undefined;
  }

  private operationOr404(id: string): OperationJson {
    return this.state.getOperation(id) ?? operationMissing(id);
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

  private control(method: string, path: string, body: string): Answer {
    try {
      return this.controlRoute(method, path, body);
    } catch (error) {
      if (error instanceof EmulatorConfigError) {
        return { status: 400, body: errorBody(400, 'VALIDATION_ERROR', error.message) };
      }
      throw error;
    }
  }

  private controlRoute(method: string, path: string, body: string): Answer {
    const resource = path.match(/^\/(pools|trainings)\/([^/]+)$/);
    if (resource) {
      if (method !== 'POST') return notAllowed(method, 'POST');
      const kind: ResourceKind = resource[1] === 'pools' ? 'pool' : 'training';
      const id = decodePathSegment(resource[2] ?? '');
      if (id === undefined) throw new EmulatorConfigError('the ID is not valid percent-encoding');
      return ok(this.state.setResource(kind, id, parsePoolBehaviour(parseJson(body))));
    }
    switch (path) {
      case '/faults':
        if (method === 'POST') {
          this.injectFault(parseFault(parseJson(body)));
          return { status: 204 };
        }
        if (method === 'DELETE') {
          this.clearFaults();
          return { status: 204 };
        }
        return notAllowed(method, 'POST, DELETE');
      case '/requests':
        if (method === 'GET') return ok(this.requests);
        if (method === 'DELETE') {
          this.resetLog();
          return { status: 204 };
        }
        return notAllowed(method, 'GET, DELETE');
      case '/reset':
        if (method !== 'POST') return notAllowed(method, 'POST');
        this.reset();
        return { status: 204 };
      default:
        return {
          status: 404,
          body: errorBody(404, 'DOES_NOT_EXIST', `No control endpoint ${CONTROL_PREFIX}${path}`),
        };
    }
  }
}

/** Path segments and methods come from the client: `constructor` must not find Object's. */
function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function noRoute(path: string): Answer {
  return { status: 404, body: errorBody(404, 'DOES_NOT_EXIST', `No route for ${API_PREFIX}${path}`) };
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

function transition(result: { status: 202; operation: OperationJson } | { status: 204 }): Answer {
  return result.status === 204 ? { status: 204 } : { status: 202, body: result.operation };
}

function operationMissing(id: string): never {
  throw new TolokaError(404, 'DOES_NOT_EXIST', `Operation ${id} does not exist`);
}

function notAllowed(method: string, allow: string): Answer {
  return {
    status: 405,
    body: errorBody(405, undefined, `${method} is not allowed here`),
    headers: { allow },
  };
}

function faultAnswer(fault: Extract<Fault, { kind: 'status' | 'malformed' }>): Answer {
  if (fault.kind === 'malformed') {
    return {
      status: fault.status ?? 200,
      body: MALFORMED_BODY,
      headers: { 'content-type': 'application/json' },
    };
  }
  const headers = fault.headers ?? {};
  if (fault.body === null) return { status: fault.status, headers };
  if (fault.body === undefined) {
    // A 2xx status fault without a body has no sensible default error to send.
    return fault.status >= 400
      ? { status: fault.status, body: errorBody(fault.status), headers }
      : { status: fault.status, headers };
  }
  return { status: fault.status, body: fault.body, headers };
}

function schemeOf(authorization: string | undefined): AuthScheme | null {
  if (authorization?.startsWith('OAuth ')) return 'OAuth';
  if (authorization?.startsWith('ApiKey ')) return 'ApiKey';
  return null;
}

function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new EmulatorConfigError('the body is not valid JSON');
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading but stop storing: the body is drained so the keep-alive connection stays usable.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...answer.headers };
  let payload: string | undefined;
  if (answer.body !== undefined && answer.status !== 204) {
    payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    if (!hasType) headers['content-type'] = 'application/json';
  }
  res.writeHead(answer.status, headers);
  res.end(payload);
}
