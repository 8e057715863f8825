/**
 * A recording proxy in front of moto: every AWS call that passes through it is forwarded as it is
 * and noted with the access key that signed it (one per function in the tests, so each call is
 * known by its caller), then read as the IAM requests AWS authorises it as: the action, the
 * resource's ARN and the request context that conditions read (`events:source`, …). A DynamoDB
 * transaction is one request per item, as AWS authorises it.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call as it went over the wire. */
export interface RecordedCall {
  readonly accessKeyId: string;
  /** `DynamoDB_20120810.UpdateItem`, `AmazonSQS.SendMessage`, `AmazonSSM.GetParameter`, `AWSEvents.PutEvents`. */
  readonly target: string;
  readonly body: Record<string, unknown>;
  readonly status: number;
}

/** One request as IAM authorises it. */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: Record<string, string | string[]>;
}

export class AwsCallRecorder {
  readonly calls: RecordedCall[] = [];
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly upstream: string) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.forward(req, body).then(
          ({ status, headers, answer }) => {
            this.note(req, body, status);
            res.writeHead(status, headers);
            res.end(answer);
          },
          (error: unknown) => {
            res.writeHead(502);
            res.end(String(error));
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.origin;
  }

  get url(): string {
    return this.origin;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The calls signed with `accessKeyId`, as IAM requests. */
  requestsOf(accessKeyId: string, where: { region: string; account: string }): IamRequest[] {
    return this.calls
      .filter((call) => call.accessKeyId === accessKeyId)
      .flatMap((call) => iamRequestsOf(call, where));
  }

  private note(req: IncomingMessage, body: Buffer, status: number): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target === '') return;
    const accessKeyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      // Not JSON: recorded with an empty body.
    }
    this.calls.push({ accessKeyId, target, body: parsed, status });
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; answer: Buffer }> {
    const upstream = new URL(this.upstream);
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          // The recorder's own host, so that the queue URLs moto hands out point at the recorder.
          headers: req.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              if (value !== undefined && name !== 'transfer-encoding') headers[name] = value;
            }
            resolve({ status: answer.statusCode ?? 502, headers, answer: Buffer.concat(chunks) });
          });
          answer.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }
}

/** The IAM requests one call is authorised as. */
export function iamRequestsOf(call: RecordedCall, where: { region: string; account: string }): IamRequest[] {
  const [service, operation = ''] = call.target.split('.');
  const body = call.body;
  const table = (name: unknown) => `arn:aws:dynamodb:${where.region}:${where.account}:table/${String(name)}`;
  switch (service) {
    case 'DynamoDB_20120810': {
      if (operation === 'TransactWriteItems') {
        const items = (body.TransactItems ?? []) as Array<Record<string, { TableName?: string }>>;
        const actions: Record<string, string> = {
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          ConditionCheck: 'ConditionCheckItem',
        };
        return items.flatMap((item) =>
          Object.entries(item).map(([kind, detail]) => ({
            action: `dynamodb:${actions[kind] ?? kind}`,
            resource: table(detail.TableName),
            context: {},
          })),
        );
      }
      if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
        return Object.keys((body.RequestItems ?? {}) as object).map((name) => ({
          action: `dynamodb:${operation}`,
          resource: table(name),
          context: {},
        }));
      }
      return [{ action: `dynamodb:${operation}`, resource: table(body.TableName), context: {} }];
    }
    case 'AmazonSQS': {
      const name =
        String(body.QueueUrl ?? '')
          .split('/')
          .at(-1) ?? '';
      return [
        {
          action: `sqs:${operation}`,
          resource: `arn:aws:sqs:${where.region}:${where.account}:${name}`,
          context: {},
        },
      ];
    }
    case 'AmazonSSM': {
      const name = String(body.Name ?? '').replace(/^\//, '');
      return [
        {
          action: `ssm:${operation}`,
          resource: `arn:aws:ssm:${where.region}:${where.account}:parameter/${name}`,
          context: {},
        },
      ];
    }
    case 'AWSEvents': {
      const entries = (body.Entries ?? []) as Array<{
        EventBusName?: string;
        Source?: string;
        DetailType?: string;
      }>;
      return entries.map((entry) => {
        const bus = entry.EventBusName ?? 'default';
        return {
          action: `events:${operation}`,
          resource: bus.startsWith('arn:')
            ? bus
            : `arn:aws:events:${where.region}:${where.account}:event-bus/${bus}`,
          context: { 'events:source': [entry.Source ?? ''], 'events:detail-type': entry.DetailType ?? '' },
        };
      });
    }
    default:
      return [{ action: `${String(service).toLowerCase()}:${operation}`, resource: '*', context: {} }];
  }
}
