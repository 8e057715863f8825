/**
 * The bench's own infrastructure: moto_server on a free port, a counting proxy in front of it (so the
 * report can say how many SQS and SSM calls the app made), a Toloka emulator in a separate process,
 * and the machine description. Every process started here is stopped by its own handle.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from '../test/support/child-run.ts';

export const ROOT = new URL('../', import.meta.url).pathname;
/** The Node.js the project brings (npm package `node`): the Lambda runtime's major version. */
export const NODE_BIN = `${ROOT}node_modules/.bin/node`;
export const REGION = 'us-east-1';
export const MOTO_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
  sessionToken: 'testing',
};

export function setupPythonTools(): void {
  execFileSync('bash', ['scripts/setup-python-tools.sh'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export interface Started {
  readonly url: string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** moto_server on a free localhost port, as test/setup/global-setup.ts starts it. */
export async function startMoto(): Promise<Started> {
  const port = await freePort();
  const child = spawn(
    `${ROOT}.venv/bin/python`,
    [`${ROOT}scripts/moto-server.py`, '-H', '127.0.0.1', '-p', String(port)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const giveUpAt = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const response = await fetch(`${url}/moto-api/`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > giveUpAt) {
      await stopChild(child);
      throw new Error(`moto_server did not start within 30 s: ${stderr}`);
    }
    await sleep(200);
  }
  return { url, stop: () => stopChild(child) };
}

/** One AWS API call that went through the proxy. */
export interface AwsCall {
  readonly at: number;
  /** `AmazonSQS.SendMessage` → `SendMessage`. */
  readonly action: string;
  /** `AmazonSQS.SendMessage` → `AmazonSQS`, `DynamoDB_20120810.GetItem` → `DynamoDB_20120810`. */
  readonly service: string;
  /** The HTTP status moto answered with, once it has (400 for a failed condition). */
  status?: number;
  /** True for the bench's own event-source driver, false for the app's code. */
  readonly driver: boolean;
  /** The JSON request body, when it is JSON. */
  readonly body: Record<string, unknown> | undefined;
}

/** Requests carrying this header come from the bench's event-source driver, not from the app. */
export const DRIVER_HEADER = 'x-bench-driver';

/**
 * A pass-through HTTP proxy in front of moto that records every AWS call (action, body, sender),
 * optionally after a delay. The app reaches it through the SDK's standard `AWS_ENDPOINT_URL`; its
 * code is unchanged.
 */
export class CountingProxy {
  readonly calls: AwsCall[] = [];
  /** Every request waits this long before it is forwarded: a stand-in for the distance to AWS. */
  delayMs = 0;
  private readonly agent = new Agent({ keepAlive: true });

  async start(upstream: string): Promise<Started> {
    const target = new URL(upstream);
    const server = createServer((req, res) => {
      readAll(req).then(
        (body) => {
          const call = this.record(req.headers, body);
          const send = () =>
            forward(target, this.agent, req, res, body, (status) => {
              call.status = status;
            });
          if (this.delayMs > 0) setTimeout(send, this.delayMs);
          else send();
        },
        () => res.writeHead(400).end(),
      );
    });
    return listening(server, 'http', () => this.agent.destroy());
  }

  count(action: string, filter: (call: AwsCall) => boolean = () => true): number {
    return this.calls.filter((call) => call.action === action && filter(call)).length;
  }

  private record(headers: IncomingHttpHeaders, body: Buffer): AwsCall {
    const target = headers['x-amz-target'];
    let action = typeof target === 'string' ? (target.split('.').pop() ?? target) : '';
    const service = typeof target === 'string' ? (target.split('.')[0] ?? '') : 'query';
    let parsed: Record<string, unknown> | undefined;
    const text = body.toString('utf8');
    if (action !== '') {
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
    } else {
      // The query protocol: Action=SendMessage&...
      action = new URLSearchParams(text).get('Action') ?? 'unknown';
    }
    const call: AwsCall = {
      at: Date.now(),
      action,
      service,
      driver: headers[DRIVER_HEADER] === '1',
      body: parsed,
    };
    this.calls.push(call);
    return call;
  }
}

/**
 * HTTPS in front of `upstream`, with a self-signed certificate (openssl) written to `dir`: the
 * handlers reach AWS over TLS, as in Lambda, trusting the certificate through NODE_EXTRA_CA_CERTS.
 */
export async function startTlsProxy(upstream: string, dir: string): Promise<Started & { caFile: string }> {
  const caFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile],
    ],
    { stdio: 'ignore' },
  );
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const server = createTlsServer({ cert: readFileSync(caFile), key: readFileSync(keyFile) }, (req, res) => {
    readAll(req).then(
      (body) => forward(target, agent, req, res, body),
      () => res.writeHead(400).end(),
    );
  });
  return { ...(await listening(server, 'https', () => agent.destroy())), caFile };
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Sends a request on to `target` (its method, path, headers and body) and pipes the answer back. */
function forward(
  target: URL,
  agent: Agent,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  onStatus?: (status: number | undefined) => void,
): void {
  const upstream = request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (answer) => {
      onStatus?.(answer.statusCode);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (error) => res.writeHead(502).end(String(error)));
  upstream.end(body);
}

/** A proxy listening on a free port of 127.0.0.1, and how to stop it (its connections too). */
async function listening(server: Server, scheme: 'http' | 'https', release: () => void): Promise<Started> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');
  return {
    url: `${scheme}://127.0.0.1:${address.port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      release();
    },
  };
}

/**
 * Deletes every item of a DynamoDB table in moto, outside the timings: moto's transactions take
 * longer the more items a table holds (13 ms empty, 85 ms with 3,000 items), DynamoDB's do not.
 */
export async function emptyTable(endpoint: string, tableName: string): Promise<void> {
  const dynamodb = new DynamoDBClient({ endpoint, region: REGION, credentials: MOTO_CREDENTIALS });
  try {
    for (;;) {
      const { Items = [] } = await dynamodb.send(
        new ScanCommand({ TableName: tableName, ProjectionExpression: 'id' }),
      );
      if (Items.length === 0) return;
      for (const { id } of Items) {
        if (id !== undefined)
          await dynamodb.send(new DeleteItemCommand({ TableName: tableName, Key: { id } }));
      }
    }
  } finally {
    dynamodb.destroy();
  }
}

/** The environment that points the AWS SDK at `endpoint`, as test/support/moto.ts does. */
export function awsEnvironment(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
  };
}

/** The Toloka emulator in a process of its own (bench/emulator-server.ts), configured over its control API. */
export async function startEmulatorProcess(token: string, rateLimitPerSecond?: number): Promise<Started> {
  const args = ['--import', 'tsx', 'bench/emulator-server.ts', token];
  if (rateLimitPerSecond !== undefined) args.push(String(rateLimitPerSecond));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withoutNodeOptions(process.env),
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (http:\/\/[^\s]+)/);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code}: ${output}`));
    });
  });
  return { url, stop: () => stopChild(child) };
}

/** Replaces a pool of an emulator running in another process (`POST /_emulator/pools/{id}`). */
export async function setRemotePool(origin: string, poolId: string, behaviour: Record<string, unknown>) {
  const response = await fetch(`${origin}/_emulator/pools/${poolId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });
  if (!response.ok)
    throw new Error(`emulator refused pool ${poolId}: ${response.status} ${await response.text()}`);
}

/** Makes every API answer of an emulator in another process `delayMs` late (0 removes the delay). */
export async function setRemoteDelay(origin: string, delayMs: number): Promise<void> {
  await fetch(`${origin}/_emulator/faults`, { method: 'DELETE' });
  if (delayMs === 0) return;
  const response = await fetch(`${origin}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'delay', delayMs, times: 'Infinity' }),
  });
  if (!response.ok)
    throw new Error(`emulator refused the delay: ${response.status} ${await response.text()}`);
}

/** The request log of an emulator running in another process. */
export async function remoteRequests(
  origin: string,
): Promise<Array<{ method: string; path: string; status: number }>> {
  const response = await fetch(`${origin}/_emulator/requests`);
  return (await response.json()) as Array<{ method: string; path: string; status: number }>;
}

export function withoutNodeOptions(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.NODE_OPTIONS;
  return copy;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly kernel: string;
  readonly python: string;
  /** /proc/loadavg when the bench started: other work on the machine skews the times. */
  readonly loadAverage: string;
}

/** The commit measured, and whether the app's sources had uncommitted changes. */
export function describeCode(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    const commit = git('log', '-1', '--format=%h %s').replace(/\|/g, '/');
    const dirty = git('status', '--porcelain', '--', 'lambda', 'lib', 'emulator', 'package-lock.json');
    const changed = dirty === '' ? 0 : dirty.split('\n').length;
    return `git ${commit.length > 90 ? `${commit.slice(0, 90)}…` : commit}${changed > 0 ? ` (plus ${changed} uncommitted file${changed === 1 ? '' : 's'} in lambda/, lib/, emulator/)` : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const osRelease = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1];
  const node = execFileSync(NODE_BIN, ['--version'], { encoding: 'utf8' }).trim();
  const python = execFileSync(`${ROOT}.venv/bin/python`, ['--version'], { encoding: 'utf8' }).trim();
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    node,
    os: osRelease ?? process.platform,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    python,
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}
