/**
 * A Lambda function run as a child process, one invocation per process (a fresh execution
 * environment each time), so that a test can kill it with SIGKILL as a Lambda time-out does:
 * after a delay from the handler's start, or at a chosen point (`outcome-record`: after the
 * outcome was decided, as the record is about to be written). The child is
 * test/support/lambda-child.ts, under tsx, with the parent's environment (moto's endpoints, the
 * function's variables).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';

export type LambdaFunction = 'open-pool' | 'check-operation';
export type KillPoint = 'outcome-record';

export interface LambdaProcessOptions {
  /** The environment of the function. @default process.env at each invocation */
  readonly env?: () => NodeJS.ProcessEnv;
  /** A report lease other than the domain's 2-minute default. */
  readonly reportLeaseMs?: number;
}

export interface InvokeOptions {
  /** The Lambda time-out the context counts down from. @default 60 s */
  readonly remainingMs?: number;
  readonly awsRequestId?: string;
  /** SIGKILL this long after the handler was called. */
  readonly killAfterMs?: number;
  /** SIGKILL when the handler reaches this point. */
  readonly killAt?: KillPoint;
}

export interface LambdaProcessRun {
  /** Whether the process was killed (at a point, or after the delay) before the handler returned. */
  readonly killed: boolean;
  readonly killedBy?: KillPoint | 'delay';
  /** What the handler returned, when it returned. */
  readonly result?: unknown;
  /** What the handler threw, when it threw. */
  readonly error?: string;
  /** Everything the invocation wrote to stdout: the function's log stream. */
  readonly logs: string;
  /** The outcome records among those lines. */
  readonly outcomes: Array<Record<string, unknown>>;
  readonly stderr: string;
}

const CHILD = new URL('./lambda-child.ts', import.meta.url).pathname;
/** A child that neither ends nor is killed within this is a broken test: it is killed anyway. */
const HARD_LIMIT_MS = 25_000;

export class LambdaProcess {
  constructor(
    readonly fn: LambdaFunction,
    private readonly options: LambdaProcessOptions = {},
  ) {}

  invoke(event: unknown, options: InvokeOptions = {}): Promise<LambdaProcessRun> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...(this.options.env?.() ?? process.env), NODE_OPTIONS: '' },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let killedBy: LambdaProcessRun['killedBy'];
    let answer: { result?: unknown; error?: string } = {};
    const kill = (by: NonNullable<LambdaProcessRun['killedBy']>) => {
      if (killedBy !== undefined || child.exitCode !== null) return;
      killedBy = by;
      child.kill('SIGKILL');
    };
    const timers: NodeJS.Timeout[] = [setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS)];
    readLines(child.stdio[3] as Readable, (line) => {
      const message = JSON.parse(line) as {
        started?: boolean;
        point?: KillPoint;
        result?: unknown;
        error?: string;
      };
      if (message.started === true && options.killAfterMs !== undefined) {
        timers.push(setTimeout(() => kill('delay'), options.killAfterMs));
      }
      if (message.point !== undefined && message.point === options.killAt) kill(message.point);
      if ('result' in message) answer = { result: message.result };
      if (message.error !== undefined) answer = { error: message.error };
    });
    child.stdin?.end(
      JSON.stringify({
        fn: this.fn,
        event,
        remainingMs: options.remainingMs ?? 60_000,
        awsRequestId: options.awsRequestId ?? randomUUID(),
        killAt: options.killAt ?? null,
        reportLeaseMs: this.options.reportLeaseMs ?? null,
      }),
    );
    return exited(child).then(() => {
      for (const timer of timers) clearTimeout(timer);
      const logs = Buffer.concat(stdout).toString('utf8');
      const errors = Buffer.concat(stderr).toString('utf8');
      if (killedBy === undefined && !('result' in answer) && answer.error === undefined) {
        throw new Error(`the ${this.fn} child ended without an answer: ${errors.slice(-2_000)}`);
      }
      return {
        killed: killedBy !== undefined,
        ...(killedBy === undefined ? {} : { killedBy }),
        ...answer,
        logs,
        outcomes: outcomeRecords(logs),
        stderr: errors,
      };
    });
  }
}

export function outcomeRecords(logs: string): Array<Record<string, unknown>> {
  return logs
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => 'outcome' in line);
}

function readLines(stream: Readable, onLine: (line: string) => void): void {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.trim() !== '') onLine(line);
    }
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve());
  });
}
