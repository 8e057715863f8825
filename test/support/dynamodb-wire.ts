/**
 * DynamoDB's wire format, for the DynamoDB fault proxy: item sizes as DynamoDB counts them (its 400 KB
 * limit), canonical JSON, answers shaped as DynamoDB's (which the AWS SDK parses as such), and the
 * plain HTTP forwarding to moto. Free of Vitest.
 */
import { randomBytes } from 'node:crypto';
import { type Agent, type IncomingHttpHeaders, request, type ServerResponse } from 'node:http';

export type Json = Record<string, unknown>;

/** An answer from upstream, read whole. */
export interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a request to `upstream` (an origin) as it is, and reads the answer whole. */
export function forward(
  upstream: string,
  agent: Agent,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const outgoing = request(new URL(path, upstream), { method, headers, agent }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', reject);
      answer.on('end', () =>
        resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Passes an upstream answer on (with its length, since it was read whole). */
export function relay(res: ServerResponse, upstream: Upstream): void {
  const { 'transfer-encoding': _chunked, connection: _connection, ...headers } = upstream.headers;
  res.writeHead(upstream.status, { ...headers, 'content-length': upstream.body.length });
  res.end(upstream.body);
}

/** `value` if it is a JSON object, else an empty one. */
export const record = (value: unknown): Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};

/** JSON with object keys sorted, so that equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Answers as DynamoDB does: JSON 1.0, with a request id. */
export function answer(res: ServerResponse, status: number, payload: Json): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomBytes(20).toString('hex').toUpperCase(),
  });
  res.end(body);
}

/** A DynamoDB error: `{"__type":"com.amazonaws.dynamodb.v20120810#<type>","message":…}`. */
export function failure(res: ServerResponse, status: number, type: string, message: string): void {
  answer(res, status, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
}

/**
 * Refuses a write with 400: a plain one with the error `type`; a TransactWriteItems (`transaction`)
 * with TransactionCanceledException, whose CancellationReasons give, item by item in order, `code`
 * and `message` for the items `flagged` and `None` for the others.
 */
export function refuse(
  res: ServerResponse,
  refusal: { transaction: boolean; flagged: boolean[]; type: string; code: string; message: string },
): void {
  if (!refusal.transaction) {
    failure(res, 400, refusal.type, refusal.message);
    return;
  }
  const reasons = refusal.flagged.map((hit) =>
    hit ? { Code: refusal.code, Message: refusal.message } : { Code: 'None' },
  );
  const codes = reasons.map((reason) => reason.Code).join(', ');
  answer(res, 400, {
    __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
    CancellationReasons: reasons,
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
  });
}

/** DynamoDB's limit on one item: 400 KB, counted as 409,600 bytes. */
export const MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: unknown): number => Buffer.byteLength(String(text), 'utf8');
const base64 = (data: unknown): number => Buffer.from(String(data), 'base64').length;
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const sum = (values: unknown[], size: (value: unknown) => number): number =>
  values.reduce<number>((total, value) => total + size(value), 0);

/** A number takes about one byte per two significant digits, plus one. */
function numberSize(number: unknown): number {
  const digits = String(number)
    .replace(/[eE].*$/, '')
    .replace(/[^0-9]/g, '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.floor((Math.max(digits.length, 1) + 1) / 2) + 1;
}

/**
 * The size of one attribute value: S by its UTF-8 length, N by its significant digits, B by its
 * bytes, BOOL and NULL one byte, sets the sum of their members, L and M three bytes plus one per
 * element plus the elements (and, for M, the names).
 */
export function attributeValueSize(value: unknown): number {
  const [entry] = Object.entries(record(value));
  if (entry === undefined) return 0;
  const [type, content] = entry;
  switch (type) {
    case 'S':
      return utf8(content);
    case 'N':
      return numberSize(content);
    case 'B':
      return base64(content);
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return sum(list(content), utf8);
    case 'NS':
      return sum(list(content), numberSize);
    case 'BS':
      return sum(list(content), base64);
    case 'L':
      return 3 + sum(list(content), (element) => 1 + attributeValueSize(element));
    case 'M':
      return 3 + Object.keys(record(content)).length + itemSize(content);
    default:
      return 0;
  }
}

/** The size of an item: for each attribute, the UTF-8 length of its name plus its value's size. */
export function itemSize(item: unknown): number {
  return Object.entries(record(item)).reduce(
    (total, [name, value]) => total + utf8(name) + attributeValueSize(value),
    0,
  );
}

/** How many times `placeholder` (`:v`, `#n`) appears in `expression` as a whole token. */
function uses(expression: string, placeholder: string): number {
  const escaped = placeholder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return expression.match(new RegExp(`${escaped}(?![A-Za-z0-9_])`, 'g'))?.length ?? 0;
}

/**
 * How much an UpdateItem (or the Update of a transaction) can grow an item, at most: every use of a
 * value placeholder in the UpdateExpression counted as a new attribute of that value (plus one byte,
 * in case it becomes a list or map element), plus every attribute name it could create (the
 * expression's own text, and each use of a name placeholder). This is an upper bound, not DynamoDB's
 * exact arithmetic: it ignores what a SET replaces or a REMOVE frees, so an update that swaps a big
 * attribute for one of similar size near the limit is refused here and not by DynamoDB. The one case
 * it does not bound is copying an existing attribute (`SET a = b`, `list_append(a, a)`).
 */
export function updateGrowthBound(update: Json): number {
  const expression = typeof update.UpdateExpression === 'string' ? update.UpdateExpression : '';
  let bound = utf8(expression);
  for (const [placeholder, name] of Object.entries(record(update.ExpressionAttributeNames))) {
    bound += uses(expression, placeholder) * utf8(name);
  }
  for (const [placeholder, value] of Object.entries(record(update.ExpressionAttributeValues))) {
    bound += uses(expression, placeholder) * (1 + attributeValueSize(value));
  }
  for (const [name, change] of Object.entries(record(update.AttributeUpdates))) {
    bound += utf8(name) + attributeValueSize(record(change).Value);
  }
  return bound;
}
