import { resetLambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';

/** Settings a test may leave to the handlers' defaults: unset before each test unless given. */
const OPTIONAL = [
  'CHECK_MAX_DELAY_SECONDS',
  'CHECK_DEADLINE_SECONDS',
  'TOKEN_CACHE_SECONDS',
  'OUTCOME_EVENT_BUS',
  'TOLOKA_REQUESTS_PER_SECOND',
] as const;

/**
 * The real handlers' environment for a test against moto and the emulator: short checks and
 * time-outs, no fast path, a step lease within the test queues' visibility time-out (as the
 * stack's 120 s are within its 360 s), and a redelivery window just past it (as the stack's 420 s). `more` adds or overrides settings; the handlers' runtime
 * is built again from it on their next call.
 */
export function useHandlerEnvironment(
  required: { tolokaApiUrl: string; tokenParameter: string; checkQueueUrl: string; openingsTable: string },
  more: Record<string, string> = {},
): void {
  for (const name of OPTIONAL) delete process.env[name];
  Object.assign(process.env, {
    TOLOKA_ENVIRONMENT: 'sandbox',
    TOLOKA_API_URL: required.tolokaApiUrl,
    TOLOKA_TOKEN_PARAMETER: required.tokenParameter,
    CHECK_QUEUE_URL: required.checkQueueUrl,
    OPENINGS_TABLE: required.openingsTable,
    FAST_PATH_SECONDS: '0',
    CHECK_MIN_DELAY_SECONDS: '1',
    CHECK_BACKOFF_FACTOR: '1.5',
    TOLOKA_REQUEST_TIMEOUT_MS: '2000',
    TOLOKA_MAX_ATTEMPTS: '2',
    STEP_LEASE_SECONDS: '1',
    // A failed step's message is back within the test queues' visibility time-out (1-2 s): an
    // opening nothing carries on is taken over seconds later, not the stack's 7 minutes.
    REDELIVERY_SECONDS: '3',
    ...more,
  });
  resetLambdaRuntime();
}
