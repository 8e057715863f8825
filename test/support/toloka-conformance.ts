/**
 * Toloka's own OpenAPI specification (../shared/toloka-openapi/fullApi.yaml, which nobody here
 * wrote) as a judge of HTTP exchanges: is this answer one the specification allows for this path
 * and status, and is this request one it describes?
 *
 * - json-schema-ref-parser loads the YAML and resolves its relative `$ref`s into `parts/`,
 *   `responses/` (the examples) and the Markdown of `info.description`, without validating the
 *   document itself (a `$ref` in `info.description` is Toloka's docs tooling, not OpenAPI).
 * - Ajv validates bodies against the schemas, read strictly: an object schema with `properties`
 *   admits no other property (the specification never says `additionalProperties`, and a lax
 *   reading would let the emulator invent fields), enums are closed, and `format: date-time`
 *   is Toloka's zone-less UTC `YYYY-MM-DDThh:mm:ss[.ssssss]`, as the same schemas describe it.
 * - What the schemas leave out but the specification states elsewhere is read from there: the
 *   204 of an open or close (the operation's description), the common error statuses (the table
 *   in `parts/api/info-description.md`) and the error body (the same page). What the
 *   specification does not say at all follows ../shared/toloka-api.md, listed in DIGEST_RULES.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import { Ajv, type ValidateFunction } from 'ajv';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** Toloka's specification where this project's team keeps it, next to the repository. */
export const SHARED_SPEC_DIR = path.resolve(ROOT, '../shared/toloka-openapi');
/**
 * An unchanged copy of it (Apache 2.0, its LICENSE included), for machines without the shared
 * folder, such as a fresh CI runner; test/integration/conformance.test.ts fails if the two differ.
 */
export const VENDORED_SPEC_DIR = path.resolve(ROOT, 'vendor/toloka-openapi');
export const SPEC_DIR = existsSync(path.join(SHARED_SPEC_DIR, 'fullApi.yaml'))
  ? SHARED_SPEC_DIR
  : VENDORED_SPEC_DIR;
export const SPEC_FILE = path.join(SPEC_DIR, 'fullApi.yaml');
const INFO_DESCRIPTION = path.join(SPEC_DIR, 'parts/api/info-description.md');

/**
 * Where the specification is silent and ../shared/toloka-api.md decides (each is also said where
 * it is used):
 * - 401 for a missing or bad token: the table of common statuses lists 403 only, and whether a bad
 *   token gets 401 or 403 is not stated; the emulator answers 401 by default, 403 with a switch.
 * - `parameters` and `details` of an operation: not in `OperationViewV1`, but in the
 *   specification's own examples of `POST /pools/{id}/open`, `/trainings/{id}/open` and
 *   `GET /operations/{id}` (responses/api/*.yaml); both are objects.
 */
export const DIGEST_RULES = {
  extraErrorStatuses: [401],
  /**
   * `GET /operations/{id}/log`, which the app does not use, is declared as one `OperationLog`
   * object; Toloka sends a list of them, which is what toloka-kit parses (`List[OperationLogItem]`)
   * and what the emulator answers for it. Read as a list of `OperationLog`.
   */
  listBodies: ['GET /operations/{id}/log'],
  operationExtras: {
    parameters: { type: 'object' },
    details: { type: 'object' },
  },
} as const;

/** Toloka's reading of `format: date-time`: UTC without a zone, 0 to 6 fraction digits. */
const TOLOKA_DATE_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$/;

/** The common error body of `parts/api/info-description.md`: `payload` is optional. */
const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['request_id', 'code', 'message'],
  additionalProperties: false,
  properties: {
    request_id: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
    payload: {},
  },
};

/** Headers an HTTP client sends on its own; anything else must be one the specification names. */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'accept',
  'accept-encoding',
  'user-agent',
  'content-length',
  'content-type',
]);

type Json = Record<string, unknown>;

interface SpecOperation {
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly operation: Json;
}

/** One request and its answer, as the conformance checks read them. */
export interface HttpExchange {
  readonly method: string;
  /** After `/api/v1`, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  readonly status: number;
  readonly body: string | undefined;
}

export class TolokaConformance {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly errorValidator: ValidateFunction;

  private constructor(
    private readonly ajv: Ajv,
    private readonly operations: readonly SpecOperation[],
    /** Statuses every request may get, from the table of `parts/api/info-description.md`. */
    readonly commonErrorStatuses: readonly number[],
    readonly spec: Json,
  ) {
    this.errorValidator = ajv.compile(ERROR_BODY_SCHEMA);
  }

  static async load(): Promise<TolokaConformance> {
    const spec = (await $RefParser.dereference(SPEC_FILE)) as Json;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('date-time', TOLOKA_DATE_TIME);
    // OpenAPI's number formats: the `type` already says integer or number.
    for (const format of ['int32', 'int64', 'float', 'double']) ajv.addFormat(format, () => true);
    const operations: SpecOperation[] = [];
    for (const [template, item] of Object.entries(spec.paths as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
        operations.push({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          operation: operation as Json,
        });
      }
    }
    const table = readFileSync(INFO_DESCRIPTION, 'utf8');
    const statuses = [...table.matchAll(/<span class="param-name">([0-9]{3})<\/span>/g)]
      .map((m) => Number(m[1]))
      .filter((status) => status >= 400);
    return new TolokaConformance(ajv, operations, statuses, spec);
  }

  /** The specification's operation for a request, if it describes one. */
  find(method: string, requestPath: string): SpecOperation | undefined {
    // A literal path (`/operations`) wins over a template that also matches it.
    const matches = this.operations.filter((o) => o.method === method && o.pattern.test(requestPath));
    return matches.find((o) => !o.template.includes('{')) ?? matches[0];
  }

  /** The statuses the specification allows for this operation, and where each comes from. */
  allowedStatuses(operation: SpecOperation): Map<number, string> {
    const allowed = new Map<number, string>();
    for (const status of Object.keys((operation.operation.responses as Json | undefined) ?? {})) {
      allowed.set(Number(status), 'declared in its responses');
    }
    const description = String(operation.operation.description ?? '');
    for (const match of description.matchAll(/status <code>([0-9]{3})<\/code>/g)) {
      if (!allowed.has(Number(match[1]))) allowed.set(Number(match[1]), 'in its description');
    }
    for (const status of this.commonErrorStatuses) {
      if (!allowed.has(status)) allowed.set(status, 'a common status (info-description.md)');
    }
    for (const status of DIGEST_RULES.extraErrorStatuses) {
      if (!allowed.has(status)) allowed.set(status, 'not in the specification; ../shared/toloka-api.md');
    }
    return allowed;
  }

  /** What is wrong with this answer, by the specification: empty when it conforms. */
  checkResponse(exchange: HttpExchange): string[] {
    const where = `${exchange.method} ${exchange.path} → ${exchange.status}`;
    const operation = this.find(exchange.method, exchange.path);
    if (operation === undefined) {
      // An answer to a request the specification does not describe can only be an error.
      if (exchange.status === 404 || exchange.status === 405) return this.checkErrorBody(exchange, where);
      return [`${where}: the specification describes no ${exchange.method} ${exchange.path}`];
    }
    if (!this.allowedStatuses(operation).has(exchange.status)) {
      return [
        `${where}: status ${exchange.status} is not one the specification allows for ${operation.template}`,
      ];
    }
    if (exchange.status >= 400) return this.checkErrorBody(exchange, where);
    const response = (operation.operation.responses as Record<string, Json> | undefined)?.[
      String(exchange.status)
    ];
    const schema = (response?.content as Record<string, Json> | undefined)?.['application/json']?.schema;
    if (schema === undefined) {
      return exchange.body === undefined || exchange.body === ''
        ? []
        : [
            `${where}: a ${exchange.status} has no body in the specification, got ${JSON.stringify(exchange.body.slice(0, 80))}`,
          ];
    }
    const listed = (DIGEST_RULES.listBodies as readonly string[]).includes(
      `${operation.method} ${operation.template}`,
    );
    const bodySchema = listed ? { type: 'array', items: schema } : (schema as Json);
    return this.checkJson(
      exchange.body,
      this.validatorFor(operation, String(exchange.status), bodySchema),
      where,
    );
  }

  /** What is wrong with this request, by the specification: method, path, parameters, headers. */
  checkRequest(exchange: HttpExchange): string[] {
    const where = `${exchange.method} ${exchange.path}${exchange.query.size > 0 ? `?${exchange.query}` : ''}`;
    const operation = this.find(exchange.method, exchange.path);
    if (operation === undefined) return [`${where}: the specification describes no such request`];
    const problems: string[] = [];
    const parameters = (operation.operation.parameters as Json[] | undefined) ?? [];
    for (const [name, value] of exchange.query) {
      const declared = parameters.find((p) => p.in === 'query' && p.name === name);
      if (declared === undefined) {
        problems.push(`${where}: query parameter ${name} is not one of ${operation.template}'s`);
        continue;
      }
      const schema = declared.schema as Json | undefined;
      if (schema?.type === 'integer' && !/^-?[0-9]+$/.test(value)) {
        problems.push(`${where}: query parameter ${name}=${value} must be an integer`);
      }
    }
    for (const name of Object.keys(exchange.requestHeaders)) {
      const lower = name.toLowerCase();
      if (lower === 'authorization' || TRANSPORT_HEADERS.has(lower)) continue;
      const declared = parameters.some((p) => p.in === 'header' && String(p.name).toLowerCase() === lower);
      if (!declared) problems.push(`${where}: header ${name} is not one the specification names`);
    }
    // The security scheme: an API key in the Authorization header (OAuth or ApiKey, by the digest).
    const authorization = exchange.requestHeaders.authorization;
    if (typeof authorization !== 'string' || !/^(OAuth|ApiKey)( \S+)?$/.test(authorization)) {
      problems.push(`${where}: no Authorization header with the OAuth or ApiKey scheme`);
    }
    const body = (operation.operation as { requestBody?: unknown }).requestBody;
    if (
      body === undefined &&
      exchange.requestHeaders['content-length'] !== undefined &&
      exchange.requestHeaders['content-length'] !== '0'
    ) {
      problems.push(`${where}: sends a body, which ${operation.template} does not take`);
    }
    return problems;
  }

  private checkErrorBody(exchange: HttpExchange, where: string): string[] {
    return this.checkJson(exchange.body, this.errorValidator, where);
  }

  private checkJson(body: string | undefined, validate: ValidateFunction, where: string): string[] {
    let value: unknown;
    try {
      value = JSON.parse(body ?? '');
    } catch {
      return [`${where}: the body is not JSON: ${JSON.stringify((body ?? '').slice(0, 80))}`];
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => {
      const extra = (error.params as { additionalProperty?: string }).additionalProperty;
      const detail = extra === undefined ? '' : ` (${extra})`;
      return `${where}: ${error.instancePath || '(body)'} ${error.message ?? 'is invalid'}${detail}`;
    });
  }

  private validatorFor(operation: SpecOperation, status: string, schema: Json): ValidateFunction {
    const key = `${operation.method} ${operation.template} ${status}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(strictSchema(schema));
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** The schema a response of this operation and status is validated with (for the tests of this module). */
  schemaOf(method: string, template: string, status: number): Json | undefined {
    const operation = this.operations.find((o) => o.method === method && o.template === template);
    const response = (operation?.operation.responses as Record<string, Json> | undefined)?.[String(status)];
    const schema = (response?.content as Record<string, Json> | undefined)?.['application/json']?.schema;
    return schema === undefined ? undefined : strictSchema(schema as Json);
  }
}

/**
 * The strict reading of a schema (a copy): object schemas with `properties` take no others
 * (except inside `allOf`/`oneOf`/`anyOf`, whose branches share an object), and an operation
 * (`OperationViewV1`, recognised by its properties) also takes the `parameters` and `details`
 * the specification's own examples show.
 */
export function strictSchema(schema: Json, insideCombination = false): Json {
  const copy: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'example' || key === 'examples' || key.startsWith('x-')) continue;
    if (key === 'properties' && isJsonObject(value)) {
      copy.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, isJsonObject(sub) ? strictSchema(sub) : sub]),
      );
    } else if ((key === 'allOf' || key === 'oneOf' || key === 'anyOf') && Array.isArray(value)) {
      copy[key] = value.map((sub) => (isJsonObject(sub) ? strictSchema(sub, true) : sub));
    } else if ((key === 'items' || key === 'additionalProperties' || key === 'not') && isJsonObject(value)) {
      copy[key] = strictSchema(value);
    } else if (key === 'enum' && Array.isArray(value)) {
      // An enum is a set; Ajv refuses one that lists a value twice, as the specification's
      // `localization_config.default_language` (of tasks) does: the same set, once each.
      copy.enum = [...new Set(value)];
    } else {
      copy[key] = value;
    }
  }
  const properties = copy.properties as Json | undefined;
  if (properties !== undefined && isOperationView(properties)) {
    copy.properties = { ...properties, ...DIGEST_RULES.operationExtras };
  }
  const combined = 'allOf' in copy || 'oneOf' in copy || 'anyOf' in copy;
  if (properties !== undefined && !insideCombination && !combined && !('additionalProperties' in copy)) {
    copy.additionalProperties = false;
  }
  return copy;
}

function isOperationView(properties: Json): boolean {
  return ['id', 'type', 'status', 'submitted', 'started', 'finished', 'progress'].every(
    (k) => k in properties,
  );
}

function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
