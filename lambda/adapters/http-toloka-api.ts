import type { Dispatcher, Agent as UndiciAgent, errors as UndiciErrors } from 'undici';
// undici through its Agent and request modules, not its index: the index also loads fetch,
// WebSocket, cookies and caches (112 files instead of 39 at every cold start, docs/benchmarks.md).
// The paths are undici's internals: package.json pins its exact version and
// test/unit/undici-modules.test.ts fails when an upgrade moves them. Their types are the index's.
// @ts-expect-error undici declares no types for its internal modules
import requestModule from 'undici/lib/api/api-request.js';
// @ts-expect-error as above
import errorsModule from 'undici/lib/core/errors.js';
// @ts-expect-error as above
import agentModule from 'undici/lib/dispatcher/agent.js';
import {
  InvalidMessageError,
  TolokaApiError,
  TolokaNetworkError,
  TolokaProtocolError,
} from '../runtime/errors.ts';
import {
  type Action,
  type ActionResponse,
  isOperationId,
  isTerminal,
  operationTypeOf,
  type TolokaOperation,
  type TolokaPoolState,
  type TolokaTarget,
} from '../runtime/model.ts';
import type { TolokaApi } from '../runtime/ports.ts';

const Agent: typeof UndiciAgent = agentModule;
/** undici's `request` without the index's URL parsing: called on a dispatcher with an origin and a path. */
const request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData> =
  requestModule;
const undiciErrors: typeof UndiciErrors = errorsModule;

export interface HttpTolokaApiOptions {
  /** e.g. `https://toloka.dev`; `/api/v1/...` is appended. */
  readonly origin: string;
  readonly requestTimeoutMs: number;
  /** Shared across calls so warm invocations reuse their connections. */
  readonly dispatcher?: Dispatcher;
}

/** Bodies larger than this are not Toloka's: an operation or an error is well under 1 kB. */
const MAX_BODY_BYTES = 1024 * 1024;

export function createKeepAliveAgent(requestTimeoutMs: number): UndiciAgent {
  return new Agent({
    keepAliveTimeout: 30_000,
    connect: { timeout: Math.min(requestTimeoutMs, 5_000) },
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
}

/** Toloka's REST API over undici: maps each answer to a result or to one of the app's errors. */
export class HttpTolokaApi implements TolokaApi {
  private readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: HttpTolokaApiOptions) {
    this.baseUrl = `${options.origin.replace(/\/+$/, '')}/api/v1`;
    this.dispatcher = options.dispatcher ?? createKeepAliveAgent(options.requestTimeoutMs);
  }

  async act(target: TolokaTarget, action: Action, authorization: string): Promise<ActionResponse> {
    const collection = target.kind === 'pool' ? 'pools' : 'trainings';
    const response = await this.send(
      'POST',
      `/${collection}/${encodeURIComponent(target.id)}/${action}`,
      authorization,
    );
    if (response.status === 204) return { kind: 'already-done' };
    // The specification's only success for an open or close is 202 with the operation it started.
    if (response.status === 202)
      return { kind: 'operation', operation: startedOperation(response.text, target, action) };
    if (response.status >= 200 && response.status < 300) {
      throw new TolokaProtocolError(
        `the ${action} of ${target.kind} ${target.id} answered ${response.status}, not 202 or 204`,
      );
    }
    throw apiError(response);
  }

  async getTarget(target: TolokaTarget, authorization: string): Promise<TolokaPoolState> {
    const collection = target.kind === 'pool' ? 'pools' : 'trainings';
    const response = await this.send('GET', `/${collection}/${encodeURIComponent(target.id)}`, authorization);
    if (response.status !== 200) throw apiError(response);
    const body = parseJsonObject(response.text, `${target.kind} ${target.id}`);
    if (typeof body.status !== 'string')
      throw new TolokaProtocolError(`${target.kind} ${target.id} has no status`);
    return {
      id: typeof body.id === 'string' ? body.id : target.id,
      status: body.status,
      ...(typeof body.private_name === 'string' ? { privateName: body.private_name } : {}),
      ...(typeof body.last_close_reason === 'string' ? { lastCloseReason: body.last_close_reason } : {}),
      ...(typeof body.last_started === 'string' ? { lastStarted: body.last_started } : {}),
      ...(typeof body.last_stopped === 'string' ? { lastStopped: body.last_stopped } : {}),
    };
  }

  async findRunningOperation(
    target: TolokaTarget,
    action: Action,
    authorization: string,
  ): Promise<TolokaOperation | undefined> {
    const type = operationTypeOf(target, action);
    const idKey = target.kind === 'pool' ? 'pool_id' : 'training_id';
    // No status filter: a status Toloka may add (not terminal, like PENDING and RUNNING) would
    // slip through one; the newest operations are enough, and the terminal ones are skipped here.
    const query = new URLSearchParams({ type, sort: '-submitted', limit: '100' });
    const response = await this.send('GET', `/operations?${query}`, authorization);
    if (response.status !== 200) throw apiError(response);
    const body = parseJsonObject(response.text, 'operation list');
    if (!Array.isArray(body.items)) throw new TolokaProtocolError('the operation list has no items');
    for (const item of body.items as unknown[]) {
      const parameters = (item as { parameters?: Record<string, unknown> } | null)?.parameters;
      if (String(parameters?.[idKey]) !== target.id) continue;
      const operation = parseOperation(JSON.stringify(item));
      if (!isTerminal(operation.status)) return operation;
    }
    return undefined;
  }

  async getOperation(operationId: string, authorization: string): Promise<TolokaOperation> {
    // Never a request built from something that is not an operation ID (`..` would leave the path).
    if (!isOperationId(operationId)) {
      throw new InvalidMessageError(
        'operationId',
        `must be a Toloka operation ID, got ${JSON.stringify(operationId)}`,
      );
    }
    const response = await this.send('GET', `/operations/${operationId}`, authorization);
    if (response.status === 200) {
      const operation = parseOperation(response.text);
      if (operation.id !== operationId) {
        throw new TolokaProtocolError(
          `asked for operation ${operationId}, Toloka answered with operation ${operation.id}`,
        );
      }
      return operation;
    }
    throw apiError(response);
  }

  /** `GET /requester`: the account the token belongs to and its balance (the command line's doctor). */
  async getRequester(authorization: string): Promise<{ id: string; balance?: number; name?: string }> {
    const response = await this.send('GET', '/requester', authorization);
    if (response.status !== 200) throw apiError(response);
    const body = parseJsonObject(response.text, 'requester');
    const name = (body.public_name as { EN?: unknown } | undefined)?.EN;
    return {
      id: typeof body.id === 'string' ? body.id : '',
      ...(typeof body.balance === 'number' ? { balance: body.balance } : {}),
      ...(typeof name === 'string' ? { name } : {}),
    };
  }

  /** Whether the pool (or training pool) has at least one task: `GET /tasks?pool_id=…&limit=1`. */
  async hasTasks(target: TolokaTarget, authorization: string): Promise<boolean> {
    const query = new URLSearchParams({ pool_id: target.id, limit: '1' });
    const response = await this.send('GET', `/tasks?${query}`, authorization);
    if (response.status !== 200) throw apiError(response);
    const body = parseJsonObject(response.text, 'task list');
    if (!Array.isArray(body.items)) throw new TolokaProtocolError('the task list has no items');
    return body.items.length > 0;
  }

  private async send(method: 'GET' | 'POST', path: string, authorization: string): Promise<RawResponse> {
    try {
      const url = new URL(`${this.baseUrl}${path}`);
      const response = await request.call(this.dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers: { authorization, accept: 'application/json', 'user-agent': 'toloka-pool-opener' },
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await readLimited(response.body);
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      if (error instanceof TolokaProtocolError) throw error;
      const timedOut = isTimeout(error);
      const what = timedOut
        ? `no answer within ${this.options.requestTimeoutMs} ms`
        : describeNetworkError(error);
      throw new TolokaNetworkError(`${method} ${path}: ${what}`, { cause: error, timedOut });
    }
  }
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new TolokaProtocolError(`response body larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isTimeout(error: unknown): boolean {
  return (
    (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  );
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new TolokaProtocolError(`${what} body is not JSON`, { cause: error });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TolokaProtocolError(`${what} body is not an object`);
  }
  return body as Record<string, unknown>;
}

/**
 * An operation as Toloka sends it. A status this app does not know is kept, not refused: both
 * official SDKs treat it as not terminal, and so does the caller (only SUCCESS and FAIL end).
 */
function parseOperation(text: string): TolokaOperation {
  const body = parseJsonObject(text, 'operation');
  const { id, status, progress } = body;
  if (typeof id !== 'string' || id === '') throw new TolokaProtocolError('operation has no id');
  if (!isOperationId(id))
    throw new TolokaProtocolError(`operation id ${JSON.stringify(id)} is not an operation ID`);
  if (typeof status !== 'string' || status === '') {
    throw new TolokaProtocolError(`operation ${id} has no status (got ${JSON.stringify(status)})`);
  }
  return {
    ...(body as unknown as TolokaOperation),
    progress: typeof progress === 'number' && Number.isFinite(progress) ? progress : undefined,
  };
}

/**
 * The 202 body of an open or close: an operation of the action's type for the pool or training
 * asked for. Anything else (another type, another pool, no parameters) is a protocol error.
 */
function startedOperation(text: string, target: TolokaTarget, action: Action): TolokaOperation {
  const operation = parseOperation(text);
  const expectedType = operationTypeOf(target, action);
  const idKey = target.kind === 'pool' ? 'pool_id' : 'training_id';
  const parameters = (operation as { parameters?: unknown }).parameters;
  const askedFor =
    typeof parameters === 'object' && parameters !== null
      ? (parameters as Record<string, unknown>)[idKey]
      : undefined;
  if (operation.type !== expectedType) {
    throw new TolokaProtocolError(
      `the ${action} of ${target.kind} ${target.id} answered an operation of type ${JSON.stringify(operation.type)}, not ${expectedType}`,
    );
  }
  if (String(askedFor) !== target.id || (typeof askedFor !== 'string' && typeof askedFor !== 'number')) {
    throw new TolokaProtocolError(
      `the ${action} of ${target.kind} ${target.id} answered an operation for ${idKey} ${JSON.stringify(askedFor)}`,
    );
  }
  return operation;
}

function apiError(response: RawResponse): TolokaApiError {
  return new TolokaApiError(
    response.status,
    parseErrorBody(response.text),
    parseRetryAfter(response.headers),
  );
}

/** Toloka's error JSON when there is one; an empty or foreign body leaves only the status to go on. */
function parseErrorBody(text: string): TolokaApiError['body'] {
  if (text.trim() === '') return {};
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) return {};
    const { code, message, request_id, payload } = body as Record<string, unknown>;
    return {
      code: typeof code === 'string' ? code : undefined,
      message: typeof message === 'string' ? message : undefined,
      request_id: typeof request_id === 'string' ? request_id : undefined,
      payload,
    };
  } catch {
    return {};
  }
}

/** The longest wait honoured: SQS's longest visibility time-out. A longer one is taken as this. */
export const MAX_RETRY_AFTER_MS = 12 * 3_600_000;

/** `Retry-After` as seconds or an HTTP date; nothing is slept on in process beyond the step's budget. */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  // However long: the callers wait through their queues (up to 12 h), never by calling early.
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}
