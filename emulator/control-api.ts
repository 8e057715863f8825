/**
 * `/_emulator`: how other processes (the bench, `npm start`, a test in another process) set
 * pools, switches and faults, read the request log and reset the emulator (emulator/README.md).
 */
import { EmulatorConfigError, errorBody } from './errors.ts';
import { type Fault, parseFault } from './faults.ts';
import { type Answer, decodePathSegment, notAllowed, ok, parseJson } from './http-answers.ts';
import type { ResourceState } from './model.ts';
import { type PoolBehaviour, parsePoolBehaviour } from './pool-behaviour.ts';
import { type EmulatorSwitches, parseSwitches } from './switches.ts';

/** What the control API does to an emulator (TolokaEmulator, which hands itself in). */
export interface ControlledEmulator {
  setPool(id: string, behaviour: PoolBehaviour): ResourceState;
  setTraining(id: string, behaviour: PoolBehaviour): ResourceState;
  readonly switches: EmulatorSwitches;
  setSwitches(switches: Partial<EmulatorSwitches>): EmulatorSwitches;
  injectFault(fault: Fault): void;
  clearFaults(): void;
  /** The request log, as `GET /_emulator/requests` returns it. */
  readonly requests: readonly unknown[];
  resetLog(): void;
  reset(): void;
}

export const CONTROL_PREFIX = '/_emulator';

export function controlAnswer(
  emulator: ControlledEmulator,
  method: string,
  path: string,
  body: string,
): Answer {
  try {
    return controlRoute(emulator, method, path, body);
  } catch (error) {
    if (error instanceof EmulatorConfigError) {
      return { status: 400, body: errorBody(400, 'VALIDATION_ERROR', error.message) };
    }
    throw error;
  }
}

function controlRoute(emulator: ControlledEmulator, method: string, path: string, body: string): Answer {
  const resource = path.match(/^\/(pools|trainings)\/([^/]+)$/);
  if (resource) {
    if (method !== 'POST') return notAllowed(method, 'POST');
    const id = decodePathSegment(resource[2] ?? '');
    if (id === undefined) throw new EmulatorConfigError('the ID is not valid percent-encoding');
    const behaviour = parsePoolBehaviour(parseJson(body));
    return ok(
      resource[1] === 'pools' ? emulator.setPool(id, behaviour) : emulator.setTraining(id, behaviour),
    );
  }
  switch (path) {
    case '/switches':
      if (method === 'GET') return ok(emulator.switches);
      if (method === 'POST') return ok(emulator.setSwitches(parseSwitches(parseJson(body))));
      return notAllowed(method, 'GET, POST');
    case '/faults':
      if (method === 'POST') {
        emulator.injectFault(parseFault(parseJson(body)));
        return { status: 204 };
      }
      if (method === 'DELETE') {
        emulator.clearFaults();
        return { status: 204 };
      }
      return notAllowed(method, 'POST, DELETE');
    case '/requests':
      if (method === 'GET') return ok(emulator.requests);
      if (method === 'DELETE') {
        emulator.resetLog();
        return { status: 204 };
      }
      return notAllowed(method, 'GET, DELETE');
    case '/reset':
      if (method !== 'POST') return notAllowed(method, 'POST');
      emulator.reset();
      return { status: 204 };
    default:
      return {
        status: 404,
        body: errorBody(404, 'DOES_NOT_EXIST', `No control endpoint ${CONTROL_PREFIX}${path}`),
      };
  }
}
