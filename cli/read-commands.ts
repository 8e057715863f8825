import { type TolokaTarget, targetFields } from '../lambda/runtime/model.ts';
import type { Log } from '../lambda/runtime/ports.ts';
import { type Connection, type ConnectionOptions, connect, readWithRetries } from './connection.ts';
import { failureFromError, type Subject } from './exit-codes.ts';
import type { CliIo, CommandResult } from './io.ts';
import { progressBar } from './progress.ts';
import { targetLabel } from './settings.ts';
import { describeWarning } from './trouble.ts';

/** `toloka-pool status <operationId>`: one `GET /operations/{id}`, with the app's retries. */
export async function statusCommand(
  id: string,
  options: ConnectionOptions,
  io: CliIo,
): Promise<CommandResult> {
  return withConnection(options, io, 'operation', async (connection, log) => {
    const operation = await readWithRetries(connection, log, `reading operation ${id}`, (authorization) =>
      connection.toloka.getOperation(id, authorization),
    );
    const json = {
      operationId: operation.id,
      ...(operation.type !== undefined ? { type: operation.type } : {}),
      status: operation.status,
      ...(operation.progress !== undefined ? { progress: operation.progress } : {}),
      ...(operation.submitted !== undefined ? { submitted: operation.submitted } : {}),
      ...(operation.started !== undefined ? { started: operation.started } : {}),
      ...(operation.finished !== undefined ? { finished: operation.finished } : {}),
      ...(operation.details !== undefined ? { details: operation.details } : {}),
    };
    return {
      kind: 'success',
      json,
      text: table([
        ['operation', operation.id],
        ['type', operation.type],
        ['status', operation.status],
        ['progress', operation.progress === undefined ? undefined : progressBar(operation.progress)],
        ['submitted', operation.submitted],
        ['started', operation.started],
        [
          'finished',
          operation.finished ??
            (operation.status === 'SUCCESS' || operation.status === 'FAIL' ? undefined : '(not yet)'),
        ],
      ]),
    };
  });
}

/** `toloka-pool pool <poolId>`: one `GET /pools/{id}` (or `/trainings/{id}`), with the app's retries. */
export async function poolCommand(
  target: TolokaTarget,
  options: ConnectionOptions,
  io: CliIo,
): Promise<CommandResult> {
  return withConnection(options, io, 'pool', async (connection, log) => {
    const state = await readWithRetries(connection, log, `reading ${targetLabel(target)}`, (authorization) =>
      connection.toloka.getTarget(target, authorization),
    );
    const json = {
      ...targetFields(target),
      status: state.status,
      ...(state.privateName !== undefined ? { privateName: state.privateName } : {}),
      ...(state.lastCloseReason !== undefined ? { lastCloseReason: state.lastCloseReason } : {}),
      ...(state.lastStarted !== undefined ? { lastStarted: state.lastStarted } : {}),
      ...(state.lastStopped !== undefined ? { lastStopped: state.lastStopped } : {}),
    };
    return {
      kind: 'success',
      json,
      text: table([
        [target.kind, target.id],
        ['name', state.privateName],
        ['status', state.status],
        ['last close reason', state.lastCloseReason ?? (state.status === 'OPEN' ? undefined : '(none)')],
        ['last started', state.lastStarted],
        ['last stopped', state.lastStopped],
      ]),
    };
  });
}

async function withConnection(
  options: ConnectionOptions,
  io: CliIo,
  subject: Subject,
  read: (connection: Connection, log: Log) => Promise<CommandResult>,
): Promise<CommandResult> {
  let connection: Connection;
  try {
    connection = connect(options, io);
  } catch (error) {
    return { kind: 'failure', failure: failureFromError(error, subject) };
  }
  const log: Log = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, attributes) => io.stderr.write(`toloka-pool: ${describeWarning(message, attributes)}\n`),
  };
  try {
    return await read(connection, log);
  } catch (error) {
    return { kind: 'failure', failure: failureFromError(error, subject) };
  } finally {
    await connection.close();
  }
}

/** Aligned `name  value` lines; rows without a value are left out. */
function table(rows: ReadonlyArray<readonly [string, string | undefined]>): string {
  const shown = rows.filter((row): row is readonly [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([name]) => name.length));
  return shown.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}
