/**
 * The openings ledger's DynamoDB calls made raw: what the handler sent (recorded at the counting
 * proxy), sent again with the SDK's own `DynamoDBClient` and nothing of the app around it, so that
 * the handler can be compared with the round trips it cannot avoid. DynamoDB's JSON wire format is
 * the low-level client's input, so a recorded body is a command's input as it stands.
 */
import {
  BatchGetItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { AWS_CLIENT_TIMEOUTS } from '../lambda/runtime/config.ts';
import type { AwsCall } from './infra.ts';
import { REGION } from './infra.ts';
import { DYNAMODB_SERVICE } from './ledger-cost.ts';

export interface RecordedCall {
  readonly action: string;
  readonly input: Record<string, unknown>;
  /** Whether DynamoDB refused it (a failed condition): the replay expects the same refusal. */
  readonly refused: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: each command takes its own input type; the recorded body is that input.
const COMMANDS: Record<string, new (input: any) => any> = {
  GetItem: GetItemCommand,
  BatchGetItem: BatchGetItemCommand,
  PutItem: PutItemCommand,
  UpdateItem: UpdateItemCommand,
  TransactWriteItems: TransactWriteItemsCommand,
};

/** The app's DynamoDB calls among `calls`, in the order it made them. */
export function recordedLedgerCalls(calls: readonly AwsCall[]): RecordedCall[] {
  return calls
    .filter((call) => call.service === DYNAMODB_SERVICE && !call.driver)
    .map((call) => {
      if (COMMANDS[call.action] === undefined) throw new Error(`no raw command for ${call.action}`);
      return { action: call.action, input: call.body ?? {}, refused: call.status === 400 };
    });
}

export function rawDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: REGION, ...AWS_CLIENT_TIMEOUTS });
}

/** Sends the calls one after another, as the handler does (each of its calls waits for the one before). */
export async function replay(client: DynamoDBClient, calls: readonly RecordedCall[]): Promise<void> {
  for (const call of calls) {
    const Command = COMMANDS[call.action];
    if (Command === undefined) throw new Error(`no raw command for ${call.action}`);
    try {
      await client.send(new Command(call.input));
      if (call.refused) throw new Error(`${call.action} went through where the handler's was refused`);
    } catch (error) {
      const name = (error as { name?: string }).name;
      const refusal = name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
      if (!(refusal && call.refused)) throw error;
    }
  }
}
