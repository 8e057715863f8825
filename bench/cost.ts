/**
 * Section 2: the cost of 1,000 openings, from the counts section 1 measured, at list prices.
 * Nothing here is measured; every count comes from a ConfirmationResult (the ledger's request
 * units from bench/ledger-cost.ts).
 */
import type { AppOpening, ConfirmationResult, KitOpening } from './confirmation.ts';
import { mean, median, sum } from './stats.ts';

/** us-east-1 list prices, no free tier. Where each comes from: PRICE_SOURCES. */
export const PRICES = {
  /** Lambda on Arm (Graviton), first 7.5 billion GB-s a month. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  /** SQS standard queue, 1 million to 100 billion requests a month. */
  sqsPerRequest: 0.4 / 1_000_000,
  /** Step Functions Standard. */
  sfnPerTransition: 0.025 / 1_000,
  /** Systems Manager Parameter Store, standard parameters at standard throughput. */
  ssmPerGetParameter: 0,
  /** DynamoDB on-demand, Standard table class. */
  dynamodbPerWriteUnit: 0.625 / 1_000_000,
  dynamodbPerReadUnit: 0.125 / 1_000_000,
} as const;

/** The functions' memory, 256 MB, in GB as Lambda bills it. */
export const FUNCTION_MEMORY_GB = 0.25;

export const PRICE_SOURCES: ReadonlyArray<{
  item: string;
  price: string;
  source: string;
  confirmed: string;
}> = [
  {
    item: 'Lambda, Arm, duration',
    price: '$0.0000133334 per GB-second (first 7.5 billion GB-s a month)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    confirmed:
      'as listed by AWS in 2025: the search tool reached the AWS page but not its price table; 2025–2026 third-party summaries of that page give this figure',
  },
  {
    item: 'Lambda, requests',
    price: '$0.20 per 1 million requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
    confirmed: 'as listed by AWS in 2025 (same as above)',
  },
  {
    item: 'SQS, standard queue',
    price:
      '$0.40 per 1 million requests (1 million to 100 billion a month); each 64 KB chunk of a payload is one request',
    source: 'https://aws.amazon.com/sqs/pricing/',
    confirmed:
      'as listed by AWS in 2025; a March 2026 third-party summary of the AWS page gives the same figure',
  },
  {
    item: 'Step Functions, Standard workflows',
    price: '$0.025 per 1,000 state transitions (US East, N. Virginia)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    confirmed: "confirmed on AWS's pricing page",
  },
  {
    item: 'DynamoDB, on-demand (Standard table class)',
    price: '$0.625 per million write request units, $0.125 per million read request units',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    confirmed:
      'as listed by AWS since its November 2024 on-demand price cut; 2025 third-party summaries of the AWS page give these figures',
  },
  {
    item: 'Systems Manager Parameter Store',
    price: 'standard parameters: no additional charge; standard throughput: no additional charge',
    source:
      'https://aws.amazon.com/systems-manager/pricing/, https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html',
    confirmed: "confirmed in AWS's Systems Manager user guide",
  },
];

export interface CostRow {
  readonly durationMs: number;
  readonly openings: number;
  readonly lambdaInvocations: number;
  /** Sum of the handler durations of one opening, each rounded up to the next ms as Lambda bills. */
  readonly billedSeconds: number;
  readonly gbSeconds: number;
  readonly checkMessages: number;
  readonly sqsRequests: number;
  readonly tolokaCalls: number;
  /** The openings ledger, per opening: DynamoDB calls, refused ones among them, request units. */
  readonly ledgerCalls: number;
  readonly ledgerRefused: number;
  readonly ledgerReadUnits: number;
  readonly ledgerWriteUnits: number;
  readonly ledgerDollars: number;
  readonly lambdaRequestDollars: number;
  readonly lambdaDurationDollars: number;
  readonly sqsDollars: number;
  readonly appDollars: number;
  /** Step Functions Standard, checking on this app's schedule (its measured GET count). */
  readonly sfnSameSchedule: SfnCost;
  /** Step Functions Standard, checking every second (toloka-kit's measured GET count). */
  readonly sfnEverySecond: SfnCost;
}

export interface SfnCost {
  readonly checks: number;
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly dollars: number;
}

/** Per opening, averaged over the runs of each operation length; `per` scales (1,000 openings). */
export function costRows(result: ConfirmationResult, per = 1_000): CostRow[] {
  const lengths = [...new Set(result.app.map((opening) => opening.durationMs))].sort((a, b) => a - b);
  const oneCallSeconds = oneCallInvocationSeconds(result.app);
  return lengths.map((durationMs) => {
    const app = result.app.filter(
      (opening) => opening.durationMs === durationMs && opening.outcome !== undefined,
    );
    const kit = result.kit.filter((opening) => opening.durationMs === durationMs && opening.ok);
    const invocations = mean(app.map((opening) => opening.openerInvocations + opening.checkerInvocations));
    const billedSeconds = mean(
      app.map((opening) => sum(opening.handlerMs.map((ms) => Math.ceil(ms))) / 1000),
    );
    const gbSeconds = billedSeconds * FUNCTION_MEMORY_GB;
    const checkMessages = mean(app.map((opening) => opening.checkMessages));
    // The trigger: SendMessage (the pipeline), ReceiveMessage and DeleteMessage (the event source);
    // each check message the same three.
    const sqsRequests = 3 + 3 * checkMessages;
    const tolokaCalls = mean(app.map((opening) => opening.postCalls + opening.getCalls));
    const lambdaRequestDollars = per * invocations * PRICES.lambdaPerRequest;
    const lambdaDurationDollars = per * gbSeconds * PRICES.lambdaArmPerGbSecond;
    const sqsDollars = per * sqsRequests * PRICES.sqsPerRequest;
    const ledgerReadUnits = mean(app.map((opening) => opening.ledger.readUnits));
    const ledgerWriteUnits = mean(app.map((opening) => opening.ledger.writeUnits));
    const ledgerDollars =
      per * (ledgerReadUnits * PRICES.dynamodbPerReadUnit + ledgerWriteUnits * PRICES.dynamodbPerWriteUnit);
    return {
      durationMs,
      openings: app.length,
      lambdaInvocations: invocations,
      billedSeconds,
      gbSeconds,
      checkMessages,
      sqsRequests,
      tolokaCalls,
      ledgerCalls: mean(app.map((opening) => sum(Object.values(opening.ledger.calls)))),
      ledgerRefused: mean(app.map((opening) => opening.ledger.refused)),
      ledgerReadUnits,
      ledgerWriteUnits,
      ledgerDollars,
      lambdaRequestDollars,
      lambdaDurationDollars,
      sqsDollars,
      appDollars: lambdaRequestDollars + lambdaDurationDollars + sqsDollars + ledgerDollars,
      sfnSameSchedule: sfnCost(mean(app.map((opening) => opening.getCalls)), oneCallSeconds, per),
      sfnEverySecond: sfnCost(mean(kit.map((opening: KitOpening) => opening.getCalls)), oneCallSeconds, per),
    };
  });
}

/**
 * A Step Functions Standard wait loop: open task → Choice, then per check Wait → Lambda task →
 * Choice (3 transitions), so 3 × checks + 2; one Lambda invocation for the open and one per check,
 * each as long as a measured invocation that makes one Toloka call.
 */
function sfnCost(checks: number, oneCallSeconds: number, per: number): SfnCost {
  const transitions = 3 * checks + 2;
  const lambdaInvocations = 1 + checks;
  const dollars =
    per *
    (transitions * PRICES.sfnPerTransition +
      lambdaInvocations * PRICES.lambdaPerRequest +
      lambdaInvocations * oneCallSeconds * FUNCTION_MEMORY_GB * PRICES.lambdaArmPerGbSecond);
  return { checks, transitions, lambdaInvocations, dollars };
}

/** The measured length of an invocation that makes exactly one Toloka call: the 0 s openings' opener. */
export function oneCallInvocationSeconds(app: readonly AppOpening[]): number {
  const durations = app
    .filter((opening) => opening.durationMs === 0 && opening.handlerMs.length === 1)
    .map((opening) => Math.ceil(opening.handlerMs[0] ?? Number.NaN));
  return median(durations) / 1000;
}
