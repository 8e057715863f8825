/**
 * One emulator on a real port for an emulator test file, on a clock of its own that starts at
 * START before every test, and the HTTP calls the tests make to it. Importing this registers the
 * hooks that start, reset and stop it for the importing file.
 */
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { type OperationJson, TolokaEmulator } from '../../emulator/toloka-emulator.ts';

export const TOKEN = 'local-dev-token';
const DAY_MS = 86_400_000;
/** The clock's start: 21:40:00.123 UTC five days before today, so no test holds a fixed date. */
export const START = Math.floor(Date.now() / DAY_MS) * DAY_MS - 5 * DAY_MS + (21 * 60 + 40) * 60_000 + 123;
/** The Toloka date (UTC, no zone, milliseconds) `ms` after START, as the emulator writes it. */
export function tolokaDateAt(ms: number): string {
  return new Date(START + ms).toISOString().slice(0, 23);
}
export const TOLOKA_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The emulator's own type: the tests read what the HTTP answer carries.
export type Operation = OperationJson;

export interface ErrorBody {
  request_id: string;
  code: string;
  message: string;
  payload?: unknown;
}

let clock = START;
// Unknown pools are 404, so the pools and trainings these tests use without configuring them
// are created here.
export const emulator = new TolokaEmulator({
  now: () => clock,
  pools: Object.fromEntries(
    ['1', '2', '3', '5', '6', '10', '23', '24', '31', '41', '50', '60', '62', '64'].map((id) => [id, {}]),
  ),
  trainings: { '61': {} },
});
export let origin = '';

beforeAll(async () => {
  origin = await emulator.start();
});

afterAll(async () => {
  await emulator.stop();
});

beforeEach(() => {
  clock = START;
  emulator.reset();
});

export function advance(ms: number): void {
  clock += ms;
}

export function call(
  method: string,
  path: string,
  options: { authorization?: string | null; base?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const authorization = options.authorization === undefined ? `OAuth ${TOKEN}` : options.authorization;
  const init: RequestInit = { method, headers: authorization === null ? {} : { authorization } };
  if (options.signal) init.signal = options.signal;
  return fetch(`${options.base ?? origin}/api/v1${path}`, init);
}

export async function json<T>(method: string, path: string): Promise<{ status: number; body: T }> {
  const response = await call(method, path);
  return { status: response.status, body: (await response.json()) as T };
}

export async function openPool(id: string): Promise<Operation> {
  const { status, body } = await json<Operation>('POST', `/pools/${id}/open`);
  expect(status).toBe(202);
  return body;
}

export function getOperation(id: string): Promise<Operation> {
  return json<Operation>('GET', `/operations/${id}`).then(({ body }) => body);
}

export function control(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  return fetch(`${origin}/_emulator${path}`, init);
}
