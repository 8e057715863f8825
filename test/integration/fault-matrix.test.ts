/**
 * The fault matrix: every fault on every path, through the real handlers and the emulator, with
 * the openings ledger on DynamoDB (moto) behind the fault proxy, which answers as DynamoDB does
 * where moto does not (contention between transactions, idempotent transaction tokens, the 400 KB
 * item limit). One table per run: every run opens (or, the second time round, closes) pool 4242.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbOpeningsLedger } from '../../lambda/adapters/dynamodb-openings-ledger.ts';
import { DynamoDbFaultProxy } from '../support/dynamodb-fault-proxy.ts';
import { expectOneEnd, type FaultPath, runScenario, SCENARIOS } from '../support/fault-scenarios.ts';
import { createOpeningsTable, useMoto } from '../support/moto.ts';

let moto: ReturnType<typeof useMoto>;
let proxy: DynamoDbFaultProxy;

beforeAll(async () => {
  moto = useMoto(inject('motoEndpoint'));
  proxy = new DynamoDbFaultProxy(inject('motoEndpoint'), { transactionHoldMs: 2 });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = await proxy.start();
});

afterAll(async () => {
  // The runs' ledgers went through the proxy, not around it.
  expect(proxy.count('forwarded', 'TransactWriteItems')).toBeGreaterThan(100);
  await proxy.stop();
  moto.restore();
});

const dynamoDbLedger = async () => new DynamoDbOpeningsLedger(await createOpeningsTable('matrix'));

const cases = (['open', 'close'] as const).flatMap((action) =>
  SCENARIOS.flatMap((scenario) => scenario.paths.map((path) => ({ scenario, path, action }))),
);
const describePath: Record<FaultPath, string> = {
  sqs: 'SQS trigger',
  direct: 'direct invocation',
  fast: 'fast-path check',
  checker: 'queued status check',
};

describe.concurrent('the fault matrix: every trigger ends in exactly one outcome record or one dead letter', () => {
  it.each(
    cases.map(
      ({ scenario, path, action }) => [action, scenario.name, describePath[path], scenario, path] as const,
    ),
  )('%s: %s on the %s path', async (action, _, __, scenario, path) => {
    const result = await runScenario(scenario, path, '4242', { ledger: dynamoDbLedger, action });

    expectOneEnd(result, scenario, path, action);
  });
});
