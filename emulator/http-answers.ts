/**
 * The emulator's HTTP plumbing: answers as status, body and headers, how they are written, and
 * the pieces of a request read on the way in (its body, its auth scheme, its path segments).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmulatorConfigError, errorBody, TolokaError } from './errors.ts';
import type { Fault } from './faults.ts';
import type { OperationJson } from './model.ts';

export type AuthScheme = 'OAuth' | 'ApiKey';

export interface Answer {
  status: number;
  /** A string is sent as is; anything else but undefined is sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Where Toloka's API lives on the emulator, as on Toloka. */
export const API_PREFIX = '/api/v1';
const MAX_BODY_BYTES = 1024 * 1024;
// Cut mid-string on purpose: a client must treat this as a protocol error, not as an operation.
const MALFORMED_BODY = '{"id": "trunc';

/** Path segments and methods come from the client: `constructor` must not find Object's. */
export function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function noRoute(path: string): Answer {
  return { status: 404, body: errorBody(404, 'DOES_NOT_EXIST', `No route for ${API_PREFIX}${path}`) };
}

export function ok(body: unknown): Answer {
  return { status: 200, body };
}

export function transition(result: { status: 202; operation: OperationJson } | { status: 204 }): Answer {
  return result.status === 204 ? { status: 204 } : { status: 202, body: result.operation };
}

export function operationMissing(id: string): never {
  throw new TolokaError(404, 'DOES_NOT_EXIST', `Operation ${id} does not exist`);
}

export function notAllowed(method: string, allow: string): Answer {
  return {
    status: 405,
    body: errorBody(405, undefined, `${method} is not allowed here`),
    headers: { allow },
  };
}

export function faultAnswer(fault: Extract<Fault, { kind: 'status' | 'malformed' }>): Answer {
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

export function schemeOf(authorization: string | undefined): AuthScheme | null {
  if (authorization?.startsWith('OAuth ')) return 'OAuth';
  if (authorization?.startsWith('ApiKey ')) return 'ApiKey';
  return null;
}

export function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new EmulatorConfigError('the body is not valid JSON');
  }
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading but stop storing: the body is drained so the keep-alive connection stays usable.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The headers and body an answer goes out with. */
export function rendered(answer: Answer): { headers: Record<string, string>; payload: string | undefined } {
  const headers: Record<string, string> = { ...answer.headers };
  let payload: string | undefined;
  if (answer.body !== undefined && answer.status !== 204) {
    payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    if (!hasType) headers['content-type'] = 'application/json';
  }
  return { headers, payload };
}

export function send(res: ServerResponse, answer: Answer): void {
  if (res.destroyed) return;
  const { headers, payload } = rendered(answer);
  res.writeHead(answer.status, headers);
  res.end(payload);
}
