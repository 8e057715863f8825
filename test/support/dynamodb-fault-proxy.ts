/**
 * An HTTP proxy in front of moto_server that makes moto's DynamoDB behave like DynamoDB where moto
 * does not, and injects the faults DynamoDB shows in production. Every request of every service is
 * forwarded unchanged; DynamoDB's (header `x-amz-target: DynamoDB_20120810.<Operation>`) are parsed,
 * and, in this order:
 * - throttled, when a {@link DynamoDbFaultProxy.throttle} rule matches (400, not forwarded);
 * - replayed or refused by `ClientRequestToken`: moto ignores the token, DynamoDB answers a repeat of
 *   an applied TransactWriteItems (within 10 minutes) with success without applying it again, a
 *   repeat with other TransactItems with IdempotentParameterMismatchException, and a repeat while
 *   the first is in flight with TransactionInProgressException;
 * - refused when an item would exceed 400 KB (moto half-applies such an UpdateItem);
 * - refused when they contend with a transaction in flight, as DynamoDB does (moto serialises);
 * - forwarded, and the answer possibly lost after moto applied the write
 *   ({@link DynamoDbFaultProxy.loseAnswers}).
 * Plain node:http, free of Vitest, so the benchmark can share it.
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  answer,
  canonicalJson,
  failure,
  forward,
  itemSize,
  type Json,
  MAX_ITEM_BYTES,
  record,
  refuse,
  relay,
  type Upstream,
  updateGrowthBound,
} from './dynamodb-wire.ts';

/** Which DynamoDB requests a fault applies to, and how many times. */
export interface FaultRule {
  /** The operation, as in `x-amz-target`: 'PutItem', 'UpdateItem', 'TransactWriteItems', … */
  operation: string;
  /** How many matching requests get the fault; later ones go through. */
  times: number;
  /** Further narrows the match, on the request's parsed JSON body. */
  when?: (body: Record<string, unknown>) => boolean;
}

/** What the proxy did with one DynamoDB request. */
export type ProxyAction =
  | 'forwarded'
  | 'lost-answer'
  | 'conflict'
  | 'throttled'
  | 'too-large'
  | 'idempotent-replay'
  | 'idempotent-mismatch'
  | 'in-progress';

/** One DynamoDB request, as the proxy saw it. */
export interface ProxyLogEntry {
  operation: string;
  /** The items it touches (writes) or reads by key, as `table/{canonical JSON of the key}`. */
  keys: string[];
  action: ProxyAction;
  /** The HTTP status the client got (0 when the connection was reset). */
  status: number;
}

export interface DynamoDbFaultProxyOptions {
  /** Holds every TransactWriteItems this long (keys held) before forwarding it. Default 0. */
  transactionHoldMs?: number;
  /** Refuses writes that meet a transaction in flight on one of their items. Default true. */
  contention?: boolean;
}

/** One item a write touches: what the write does to it, and its key as a string. */
interface Touch {
  kind: string;
  spec: Json;
  key: string;
}
interface InFlight {
  keys: Set<string>;
  transaction: boolean;
}
type Rule<Extra> = FaultRule & Extra;

const PREFIX = 'DynamoDB_20120810.';
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);
const TRANSACT_KINDS = ['Put', 'Update', 'Delete', 'ConditionCheck'];
const IDEMPOTENCY_MS = 10 * 60_000;
const ONGOING = 'Transaction is ongoing for the item';
const TOO_LARGE = 'Item size has exceeded the maximum allowed size';

function take<Extra>(rules: Array<Rule<Extra>>, operation: string, body: Json): Rule<Extra> | undefined {
  const rule = rules.find((r) => r.times > 0 && r.operation === operation && (r.when?.(body) ?? true));
  if (rule !== undefined) rule.times -= 1;
  return rule;
}

/**
 * The proxy. Start it, point the SDK at {@link DynamoDbFaultProxy.url} (client `endpoint`, or
 * `AWS_ENDPOINT_URL_DYNAMODB`), add faults, and read {@link DynamoDbFaultProxy.log}.
 */
export class DynamoDbFaultProxy {
  private server: Server | undefined;
  private origin = '';
  private readonly agent = new Agent({ keepAlive: true });
  private readonly entries: ProxyLogEntry[] = [];
  private lose: Array<Rule<{ how: 'error-500' | 'reset' }>> = [];
  private throttles: Array<Rule<{ code: string }>> = [];
  private readonly inFlight = new Set<InFlight>();
  private readonly applied = new Map<string, { items: string; at: number }>();
  private readonly pendingTokens = new Set<string>();
  private readonly keySchemas = new Map<string, Promise<string[]>>();

  /**
   * @param upstream moto_server's origin, e.g. `http://127.0.0.1:5123`.
   * @param options `transactionHoldMs` (default 0) holds each transaction that long before
   *   forwarding it, so that overlaps happen on loopback; `contention` (default true) answers
   *   writes that meet a transaction in flight as DynamoDB does.
   */
  constructor(
    private readonly upstream: string,
    private readonly options: DynamoDbFaultProxyOptions = {},
  ) {}

  /** Listens on 127.0.0.1, on a free port; resolves to the proxy's origin. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (res.headersSent) res.destroy();
        else failure(res, 502, 'ProxyError', `fault proxy: ${String(error)}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.origin;
  }

  /** The proxy's origin, e.g. `http://127.0.0.1:40123` (after {@link start}). */
  get url(): string {
    if (this.origin === '') throw new Error('the DynamoDB fault proxy is not started');
    return this.origin;
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Matching requests are forwarded, so moto applies them, and then their answer is lost: the client
   * gets a 500 InternalServerError (`how: 'error-500'`, the default) or a reset connection (`'reset'`).
   */
  loseAnswers(rule: FaultRule & { how?: 'error-500' | 'reset' }): void {
    this.lose.push({ ...rule, how: rule.how ?? 'error-500' });
  }

  /** Matching requests are answered 400 ThrottlingException (or the `code` given), not forwarded. */
  throttle(
    rule: FaultRule & { code?: 'ThrottlingException' | 'ProvisionedThroughputExceededException' },
  ): void {
    this.throttles.push({ ...rule, code: rule.code ?? 'ThrottlingException' });
  }

  /** Removes every loseAnswers and throttle rule (the DynamoDB behaviours stay). */
  clearFaults(): void {
    this.lose = [];
    this.throttles = [];
  }

  /** Every DynamoDB request so far, in the order they were answered. */
  get log(): ReadonlyArray<ProxyLogEntry> {
    return this.entries;
  }

  /** How many writes are in flight to moto now, holding their keys (when contention is on). */
  get writesInFlight(): number {
    return this.inFlight.size;
  }

  /** How many DynamoDB requests got `action` (of `operation`, if given). */
  count(action: ProxyAction, operation?: string): number {
    return this.entries.filter(
      (entry) => entry.action === action && (operation === undefined || entry.operation === operation),
    ).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = req.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(PREFIX)) {
      relay(res, await this.pass(req, body));
      return;
    }
    let parsed: Json = {};
    try {
      parsed = record(JSON.parse(body.toString('utf8')));
    } catch {
      // not JSON: moto answers it
    }
    await this.dynamo(req, res, body, target.slice(PREFIX.length), parsed);
  }

  private async dynamo(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    operation: string,
    parsed: Json,
  ): Promise<void> {
    const touches = await this.touches(req.headers, operation, parsed);
    const keys = touches.map((touch) => touch.key);
    const done = (action: ProxyAction, status: number): void => {
      this.entries.push({ operation, keys, action, status });
    };
    const transaction = operation === 'TransactWriteItems';

    const throttle = take(this.throttles, operation, parsed);
    if (throttle !== undefined) {
      failure(res, 400, throttle.code, 'Rate of requests exceeds the allowed throughput.');
      return done('throttled', 400);
    }

    const token = transaction ? String(parsed.ClientRequestToken ?? '') : '';
    const items = canonicalJson(parsed.TransactItems);
    let upstream: Upstream;
    const refused = token === '' ? undefined : this.byToken(token, items);
    if (refused !== undefined) {
      if (refused === 'idempotent-replay') answer(res, 200, {});
      else if (refused === 'idempotent-mismatch') {
        const message = 'The request uses the same client token as a previous, but non-identical request.';
        failure(res, 400, 'IdempotentParameterMismatchException', message);
      } else failure(res, 400, 'TransactionInProgressException', 'Transaction is in progress');
      return done(refused, refused === 'idempotent-replay' ? 200 : 400);
    }

    if (token !== '') this.pendingTokens.add(token);
    const mine: InFlight = { keys: new Set(keys), transaction };
    try {
      const tooLarge = await Promise.all(touches.map((touch) => this.exceedsLimit(req.headers, touch)));
      if (tooLarge.includes(true)) {
        const [type, code] = ['ValidationException', 'ValidationError'];
        refuse(res, { transaction, flagged: tooLarge, type, code, message: TOO_LARGE });
        return done('too-large', 400);
      }
      // DynamoDB refuses what meets a transaction in flight on one of its items; moto serialises.
      if (WRITES.has(operation) && this.options.contention !== false) {
        const others = [...this.inFlight].filter((other) => transaction || other.transaction);
        const flagged = keys.map((key) => others.some((other) => other.keys.has(key)));
        if (flagged.includes(true)) {
          const [type, code] = ['TransactionConflictException', 'TransactionConflict'];
          refuse(res, { transaction, flagged, type, code, message: ONGOING });
          return done('conflict', 400);
        }
        this.inFlight.add(mine);
      }
      if (transaction) await sleep(this.options.transactionHoldMs ?? 0);
      upstream = await this.pass(req, body);
    } finally {
      this.inFlight.delete(mine);
      this.pendingTokens.delete(token);
    }
    if (token !== '' && upstream.status === 200) this.applied.set(token, { items, at: Date.now() });

    const lost = take(this.lose, operation, parsed);
    if (lost?.how === 'reset') {
      res.destroy();
      return done('lost-answer', 0);
    }
    if (lost !== undefined) {
      failure(res, 500, 'InternalServerError', 'Internal server error (the fault proxy lost the answer)');
      return done('lost-answer', 500);
    }
    relay(res, upstream);
    done('forwarded', upstream.status);
  }

  /** Forwards the client's request to moto as it came. */
  private pass(req: IncomingMessage, body: Buffer): Promise<Upstream> {
    return forward(this.upstream, this.agent, req.method ?? 'GET', req.url ?? '/', req.headers, body);
  }

  /**
   * DynamoDB's idempotency of TransactWriteItems, which moto ignores: a token applied within the
   * last 10 minutes is replayed (same TransactItems) or refused (different ones); a token in flight
   * is refused as in progress. Undefined: go on.
   */
  private byToken(token: string, items: string): ProxyAction | undefined {
    for (const [old, { at }] of this.applied) if (Date.now() - at > IDEMPOTENCY_MS) this.applied.delete(old);
    const before = this.applied.get(token);
    if (before !== undefined) return before.items === items ? 'idempotent-replay' : 'idempotent-mismatch';
    return this.pendingTokens.has(token) ? 'in-progress' : undefined;
  }

  /** The items a request touches: the items of a write, or the one a read names by `Key`. */
  private async touches(headers: IncomingHttpHeaders, operation: string, body: Json): Promise<Touch[]> {
    const one = async (kind: string, spec: Json): Promise<Touch> => {
      const table = String(spec.TableName ?? '');
      let key = record(spec.Key);
      if (kind === 'Put') {
        const names = await this.keySchema(headers, table);
        const item = record(spec.Item);
        key = Object.fromEntries(names.map((name) => [name, item[name]]));
      }
      return { kind, spec, key: `${table}/${canonicalJson(key)}` };
    };
    if (operation === 'TransactWriteItems') {
      return Promise.all(
        (Array.isArray(body.TransactItems) ? body.TransactItems : []).map((entry: unknown) => {
          const kind = TRANSACT_KINDS.find((name) => name in record(entry)) ?? 'Unknown';
          return one(kind, record(record(entry)[kind]));
        }),
      );
    }
    if (operation === 'PutItem') return [await one('Put', body)];
    if (operation === 'UpdateItem') return [await one('Update', body)];
    if ('Key' in body) return [await one(operation.replace(/Item$/, ''), body)];
    return [];
  }

  /**
   * Whether a write would leave its item over 400 KB: a Put by its Item; an Update by the current
   * item (read consistently from moto) plus an upper bound of what the update adds (see
   * {@link updateGrowthBound}).
   */
  private async exceedsLimit(headers: IncomingHttpHeaders, touch: Touch): Promise<boolean> {
    if (touch.kind === 'Put') return itemSize(touch.spec.Item) > MAX_ITEM_BYTES;
    if (touch.kind !== 'Update') return false;
    const found = await this.call(headers, 'GetItem', {
      TableName: touch.spec.TableName,
      Key: touch.spec.Key,
      ConsistentRead: true,
    });
    const current = record(found.json.Item);
    const base = Object.keys(current).length > 0 ? current : touch.spec.Key;
    return itemSize(base) + updateGrowthBound(touch.spec) > MAX_ITEM_BYTES;
  }

  /** A table's key attribute names, from moto (cached; empty, and not cached, when it fails). */
  private keySchema(headers: IncomingHttpHeaders, table: string): Promise<string[]> {
    let names = this.keySchemas.get(table);
    if (names === undefined) {
      names = this.call(headers, 'DescribeTable', { TableName: table }).then(({ status, json }) => {
        if (status !== 200) this.keySchemas.delete(table);
        const schema = record(json.Table).KeySchema;
        return (Array.isArray(schema) ? schema : []).map((element: unknown) =>
          String(record(element).AttributeName),
        );
      });
      this.keySchemas.set(table, names);
    }
    return names;
  }

  /**
   * A DynamoDB request of the proxy's own, sent with the client's headers (moto takes the service,
   * region and account from the Authorization header; it does not check the signature).
   */
  private async call(
    headers: IncomingHttpHeaders,
    operation: string,
    payload: Json,
  ): Promise<{ status: number; json: Json }> {
    const body = Buffer.from(JSON.stringify(payload));
    const { status, body: answered } = await forward(
      this.upstream,
      this.agent,
      'POST',
      '/',
      {
        ...headers,
        'x-amz-target': `${PREFIX}${operation}`,
        'content-type': 'application/x-amz-json-1.0',
        'content-length': String(body.length),
      },
      body,
    );
    try {
      return { status, json: record(JSON.parse(answered.toString('utf8'))) };
    } catch {
      return { status, json: {} };
    }
  }
}
