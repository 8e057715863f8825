/**
 * One Lambda invocation in a process of its own, so that a test can kill it with SIGKILL as a
 * Lambda time-out does (test/support/lambda-process.ts starts it). It reads
 * `{"fn": "open-pool" | "check-operation", "event": …, "remainingMs": …, "awsRequestId": …,
 * "killAt": "outcome-record" | null, "reportLeaseMs": … | null}` from stdin, runs the real handler
 * (the module's `handler`, or the same wiring with a shorter report lease) in an environment
 * taken from its own `process.env`, and talks to its parent on file descriptor 3, one JSON line
 * each: `{"started": true}` when the handler is called, `{"point": "outcome-record"}` when it is
 * about to write an outcome record (it then waits there, doing nothing, to be killed), and
 * `{"result": …}` or `{"error": …}` at the end. stdout is the function's log stream.
 */
import { writeSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { leasedRuntime } from './leased-runtime.ts';

interface ChildInvocation {
  readonly fn: 'open-pool' | 'check-operation';
  readonly event: unknown;
  readonly remainingMs: number;
  readonly awsRequestId: string;
  readonly killAt: 'outcome-record' | null;
  readonly reportLeaseMs: number | null;
}

const tell = (message: Record<string, unknown>) => writeSync(3, `${JSON.stringify(message)}\n`);

const input = await new Promise<string>((resolve, reject) => {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
  process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  process.stdin.on('error', reject);
});
const invocation = JSON.parse(input) as ChildInvocation;

if (invocation.killAt === 'outcome-record') {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (isOutcomeRecord(text)) {
      tell({ point: 'outcome-record' });
      // Stopped here until the parent's SIGKILL: nothing after this point runs.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    return write(chunk, ...(rest as []));
  }) as typeof process.stdout.write;
}

const endsAt = Date.now() + invocation.remainingMs;
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: invocation.fn,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${invocation.fn}`,
  memoryLimitInMB: '256',
  awsRequestId: invocation.awsRequestId,
  logGroupName: `/aws/lambda/${invocation.fn}`,
  logStreamName: '2026/01/01/[$LATEST]child',
  getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} satisfies Context;

const handler = await loadHandler(invocation);
tell({ started: true });
try {
  tell({ result: (await handler(invocation.event, context)) ?? null });
} catch (error) {
  tell({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}
// Lambda freezes the environment after the answer; here the process ends (open keep-alive sockets would hold it).
process.exit(0);

async function loadHandler(
  run: ChildInvocation,
): Promise<(event: unknown, context: Context) => Promise<unknown>> {
  if (run.fn === 'open-pool') {
    const module = await import('../../lambda/open-pool.ts');
    return run.reportLeaseMs === null
      ? module.handler
      : module.createOpenPoolHandler(leasedRuntime(run.reportLeaseMs));
  }
  const module = await import('../../lambda/check-operation.ts');
  const handler =
    run.reportLeaseMs === null
      ? module.handler
      : module.createCheckOperationHandler(leasedRuntime(run.reportLeaseMs));
  return (event, context) => handler(event as Parameters<typeof handler>[0], context);
}

function isOutcomeRecord(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    const line = JSON.parse(text) as Record<string, unknown>;
    // Outcome records are the only lines with an `outcome` (test/support/capture-output.ts reads them so too).
    return typeof line.outcome === 'string';
  } catch {
    return false;
  }
}
