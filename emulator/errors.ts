import { randomUUID } from 'node:crypto';

/**
 * The JSON body Toloka sends with every error (see `../shared/toloka-api.md`, "Errors": the
 * `shared` folder next to the repository, the path from the repository's root).
 */
export interface TolokaErrorBody {
  request_id: string;
  code: string;
  message: string;
  payload?: unknown;
}

interface ErrorDefault {
  readonly code: string;
  readonly message: string;
}

// Toloka documents no code for 405 and 408; these names follow its SCREAMING_SNAKE style.
const DEFAULTS: Readonly<Record<number, ErrorDefault>> = {
  400: { code: 'VALIDATION_ERROR', message: 'Validation failed' },
  401: { code: 'AUTHENTICATION_ERROR', message: 'Authentication failed' },
  403: { code: 'ACCESS_DENIED', message: 'Access denied' },
  404: { code: 'DOES_NOT_EXIST', message: 'Resource does not exist' },
  405: { code: 'METHOD_NOT_ALLOWED', message: 'Method not allowed' },
  408: { code: 'REQUEST_TIMEOUT', message: 'Request timed out' },
  409: { code: 'CONFLICT_STATE', message: 'Conflict' },
  429: { code: 'TOO_MANY_REQUESTS', message: 'Too many requests' },
  500: { code: 'INTERNAL_ERROR', message: 'Internal error' },
  502: { code: 'REMOTE_SERVICE_UNAVAILABLE', message: 'Remote service unavailable' },
  503: { code: 'REMOTE_SERVICE_UNAVAILABLE', message: 'Remote service unavailable' },
  504: { code: 'REMOTE_SERVICE_UNAVAILABLE', message: 'Remote service unavailable' },
};

export function defaultErrorFor(status: number): ErrorDefault {
  const known = DEFAULTS[status];
  if (known) return known;
  return status >= 500
    ? { code: 'INTERNAL_ERROR', message: 'Internal error' }
    : { code: 'VALIDATION_ERROR', message: `Request failed with status ${status}` };
}

export function errorBody(
  status: number,
  code?: string,
  message?: string,
  payload?: unknown,
): TolokaErrorBody {
  const fallback = defaultErrorFor(status);
  const body: TolokaErrorBody = {
    request_id: randomUUID(),
    code: code ?? fallback.code,
    message: message ?? fallback.message,
  };
  if (payload !== undefined) body.payload = payload;
  return body;
}

/** An API answer that is an error; thrown by the state model, rendered by the server. */
export class TolokaError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly payload?: unknown,
  ) {
    super(message);
    this.name = 'TolokaError';
  }

  toBody(): TolokaErrorBody {
    return errorBody(this.status, this.code, this.message, this.payload);
  }
}

/** Bad input to the `/_emulator` control endpoints or the constructor. */
export class EmulatorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmulatorConfigError';
  }
}
