/**
 * Section 3: what a cold start costs, and what each technique bought. The deployed bundles come
 * from `cdk synth` (what Lambda runs, started with the template's NODE_OPTIONS); the other rows
 * are the same esbuild build with one technique less (the steps) or one more (the tries). Each
 * is started in fresh `node` processes, alternating with bare `node -e ""` starts.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { sqsEvent } from '../test/support/events.ts';
import { createOpeningsTable } from '../test/support/moto.ts';
import {
  BEFORE,
  type BundleSize,
  bundle,
  DEPLOYED,
  SOURCE_MAPS_FLAG,
  STEPS,
  synthDeployed,
  type Techniques,
  TRIES,
} from './cold-start-builds.ts';
import { MOTO_CREDENTIALS, NODE_BIN, REGION, ROOT, setRemotePool, withoutNodeOptions } from './infra.ts';
import { progress } from './output.ts';

/** What remains, measured alone: an entry exporting `run()`, timed as import, then first call. */
const PIECES: ReadonlyArray<{ name: string; code: string }> = [
  {
    name: "undici's Agent and request modules, first request to the emulator",
    code: `import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';
export async function run() {
  const url = new URL(process.env.TOLOKA_API_URL);
  const answer = await request.call(new Agent(), { origin: url.origin, path: '/api/v1/pools/3001/open', method: 'POST', headers: { authorization: 'OAuth ' + process.env.BENCH_TOKEN } });
  await answer.body.text();
  return answer.statusCode === 204;
}`,
  },
  {
    name: 'the openings ledger with the DynamoDB client, first claim of a new trigger (over TLS)',
    code: `import { DynamoDbOpeningsLedger } from ${JSON.stringify(`${ROOT}lambda/adapters/dynamodb-openings-ledger.ts`)};
export async function run() {
  const now = Date.now();
  const claim = await new DynamoDbOpeningsLedger(process.env.OPENINGS_TABLE).claim({
    triggerId: crypto.randomUUID(), target: { kind: 'pool', id: String(900000 + Math.floor(Math.random() * 99999)) },
    nowMs: now, deadlineMs: now + 3600000, leaseMs: 60000,
  });
  return claim.kind === 'started';
}`,
  },
  {
    name: 'Powertools Parameters with the SSM client, first `GetParameter` (over TLS)',
    code: `export async function run() {
  const { SSMProvider } = await import('@aws-lambda-powertools/parameters/ssm');
  return (await new SSMProvider().get(process.env.TOLOKA_TOKEN_PARAMETER, { decrypt: true })) === process.env.BENCH_TOKEN;
}`,
  },
];

export interface Sample {
  /** From the spawn until the child said its first invocation (or import) was done, timed by the parent. */
  readonly wallMs: number[];
  /** Measured inside the child: around `import()`, and around the first call. */
  readonly importMs: number[];
  readonly invokeMs: number[];
  /** A second invocation in the same process, warm: what any invocation takes, the network included. */
  readonly againMs: number[];
  readonly failures: string[];
}

/** A bundle, its module initialisation, and its initialisation plus first invocation. */
export interface Measured {
  readonly size: BundleSize;
  readonly init: Sample;
  readonly first: Sample;
}

export interface Row extends Measured {
  readonly name: string;
  readonly tried: boolean;
  readonly nodeOptions: string;
}

export interface HandlerResult {
  readonly handler: 'open-pool' | 'check-operation';
  readonly before: Measured;
  readonly deployed: Measured;
  /** What the first invocation of the deployed bundle loads from it. */
  readonly loadedByFirst: { readonly files: number; readonly bytes: number };
}

export interface ColdStartResult {
  readonly rounds: number;
  readonly bareMs: number[];
  readonly deployedNodeOptions: string;
  /** The bench's own build of the deployed techniques gives the bytes `cdk synth` gives. */
  readonly mirrorMatches: boolean;
  /** The opener: the steps, then the tries. */
  readonly rows: Row[];
  readonly handlers: HandlerResult[];
  /** The deployed opener's first invocation with outcome events on (the construct's default). */
  readonly withEvents: Sample;
  readonly pieces: Array<{ name: string; sample: Sample; bytes: number }>;
}

interface Variant {
  readonly dir: string;
  readonly nodeOptions: string;
  readonly kind: 'init' | 'open' | 'check' | 'piece' | 'handover';
  readonly env?: Record<string, string>;
  /** More environment for each run (the checker's fresh check message). */
  readonly perRun?: () => Record<string, string>;
  /** A fresh, empty openings table for each run (moto's transactions slow down as tables fill). */
  readonly freshTable?: boolean;
  readonly sample: Sample;
}

const newSample = (): Sample => ({ wallMs: [], importMs: [], invokeMs: [], againMs: [], failures: [] });

export async function runColdStart(options: {
  dir: string;
  rounds: number;
  /** The handlers' environment: the emulator, SSM over TLS (NODE_EXTRA_CA_CERTS), the queue. */
  env: Record<string, string>;
  emulatorUrl: string;
  /** moto itself, for the bench's own SQS calls. */
  motoUrl: string;
  token: string;
}): Promise<ColdStartResult> {
  const { dir, env } = options;
  progress('cold start: cdk synth');
  const deployed = await synthDeployed(join(dir, 'cdk.out'));
  progress('cold start: bundling');
  const entry = (handler: string) => join(ROOT, 'lambda', `${handler}.ts`);
  const built = new Map<string, { dir: string; size: BundleSize }>();
  const buildOnce = async (handler: string, techniques: Techniques) => {
    const key = `${handler} ${JSON.stringify(techniques)}`;
    const found = built.get(key);
    if (found !== undefined) return found;
    const out = join(dir, `build-${built.size}`);
    const result = { dir: out, size: await bundle(entry(handler), out, techniques) };
    built.set(key, result);
    return result;
  };
  const mirror = await buildOnce('open-pool', DEPLOYED);
  // Chunk names hash the chunks' source maps too, whose paths depend on the output folder.
  const code = (folder: string) =>
    readFileSync(join(folder, 'index.mjs'), 'utf8').replace(/-[A-Z0-9]{8}\.mjs"/g, '.mjs"');
  const mirrorMatches = code(mirror.dir) === code(deployed['open-pool'].dir);

  // The opener's pool answers 204. The checker acts on a check message only while it carries its
  // opening's live token, so each checker run gets a fresh one: check messages the deployed opener
  // itself enqueued, handing openings of 300 ms over at once; the operations are done by the checks.
  await setRemotePool(options.emulatorUrl, '3001', { status: 'OPEN' });
  const pools = Array.from({ length: 4 * (options.rounds + 1) + 2 }, (_, index) => String(4000 + index));
  for (const pool of pools) await setRemotePool(options.emulatorUrl, pool, { openDurationMs: 300 });
  const sqs = new SQSClient({ endpoint: options.motoUrl, region: REGION, credentials: MOTO_CREDENTIALS });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench-cold-start-checks' }));
  const handOver = newSample();
  const checkTable = await createOpeningsTable('bench-cold-start-checks');
  const handOverEnv = {
    FAST_PATH_SECONDS: '0',
    CHECK_QUEUE_URL: QueueUrl ?? '',
    OPENINGS_TABLE: checkTable,
    BENCH_POOLS: pools.join(','),
  };
  const opener = {
    dir: deployed['open-pool'].dir,
    nodeOptions: '',
    kind: 'handover' as const,
    sample: handOver,
  };
  await runVariant({ ...opener, env: { ...env, ...handOverEnv } }, true);
  const checkMessages: string[] = [];
  while (checkMessages.length < pools.length) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) throw new Error(`too few check messages enqueued: ${handOver.failures[0]}`);
    checkMessages.push(...Messages.map((message) => message.Body ?? ''));
  }
  const nextCheck = () => ({
    OPENINGS_TABLE: checkTable,
    BENCH_CHECK_EVENT_1: JSON.stringify(sqsEvent([checkMessages.pop() ?? ''])),
    BENCH_CHECK_EVENT_2: JSON.stringify(sqsEvent([checkMessages.pop() ?? ''])),
  });
  const childEnv = { ...env, BENCH_TOKEN: options.token };

  const variants: Variant[] = [];
  const measure = (
    target: { dir: string },
    kind: Variant['kind'],
    nodeOptions: string,
    extraEnv: Record<string, string> = {},
  ): Sample => {
    const sample = newSample();
    const perRun = kind === 'check' ? nextCheck : undefined;
    // The checker's openings live in the table the hand-over wrote them to.
    const freshTable = kind === 'open';
    variants.push({
      dir: target.dir,
      nodeOptions,
      kind,
      env: { ...childEnv, ...extraEnv },
      perRun,
      freshTable,
      sample,
    });
    return sample;
  };
  const nodeOptions = deployed['open-pool'].nodeOptions;
  const optionsOf = (techniques: Techniques) => (techniques.lazyMaps ? nodeOptions : SOURCE_MAPS_FLAG);
  const both = (target: { dir: string; size: BundleSize }, kind: 'open' | 'check', options: string) => ({
    size: target.size,
    init: measure(target, 'init', options),
    first: measure(target, kind, options),
  });
  const rows: Row[] = [];
  for (const { name, techniques } of STEPS) {
    const isDeployed = techniques === DEPLOYED;
    const target = isDeployed ? deployed['open-pool'] : await buildOnce('open-pool', techniques);
    // What is in the deployed bundle comes from the bench's identical build, which has a metafile.
    const size = isDeployed && mirrorMatches ? { ...mirror.size, ...target.size } : target.size;
    const options = optionsOf(techniques);
    rows.push({ name, tried: false, nodeOptions: options, ...both({ ...target, size }, 'open', options) });
  }
  for (const { name, techniques } of TRIES) {
    const options = optionsOf(techniques);
    rows.push({
      name,
      tried: true,
      nodeOptions: options,
      ...both(await buildOnce('open-pool', techniques), 'open', options),
    });
  }
  const [before, last] = [rows[0], rows[STEPS.length - 1]];
  if (before === undefined || last === undefined) throw new Error('no steps');
  const handlers: HandlerResult[] = [
    {
      handler: 'open-pool',
      before,
      deployed: last,
      loadedByFirst: await filesLoaded(deployed['open-pool'].dir, 'open', nodeOptions, childEnv),
    },
    {
      handler: 'check-operation',
      before: both(await buildOnce('check-operation', BEFORE), 'check', SOURCE_MAPS_FLAG),
      deployed: both(deployed['check-operation'], 'check', nodeOptions),
      loadedByFirst: await filesLoaded(deployed['check-operation'].dir, 'check', nodeOptions, {
        ...childEnv,
        ...nextCheck(),
      }),
    },
  ];
  const withEvents = measure(deployed['open-pool'], 'open', nodeOptions, { OUTCOME_EVENT_BUS: 'default' });
  const pieces: ColdStartResult['pieces'] = [];
  for (const [index, piece] of PIECES.entries()) {
    const source = join(dir, `piece-${index}.ts`);
    writeFileSync(source, piece.code);
    const out = join(dir, `piece-${index}`);
    const size = await bundle(source, out, DEPLOYED);
    pieces.push({ name: piece.name, bytes: size.bytes, sample: measure({ dir: out }, 'piece', nodeOptions) });
  }

  const bareMs: number[] = [];
  // One unrecorded run of each first, so that the file cache is as warm for the first round as for the last.
  await runChild(BARE_START, withoutNodeOptions(process.env));
  for (const variant of variants) await runVariant(variant, false);
  for (let round = 0; round < options.rounds; round++) {
    progress(`cold start: round ${round + 1}/${options.rounds} (${variants.length} variants)`);
    for (const variant of variants) {
      bareMs.push((await runChild(BARE_START, withoutNodeOptions(process.env))).firstDoneMs);
      await runVariant(variant, true);
    }
  }
  return {
    rounds: options.rounds,
    bareMs,
    deployedNodeOptions: nodeOptions,
    mirrorMatches,
    rows,
    handlers,
    withEvents,
    pieces,
  };
}

/** The child's code: import the bundle, then (but for `init`) one call; timings on stderr. */
function childCode(variant: Pick<Variant, 'dir' | 'kind'>, extra = ''): string {
  const url = JSON.stringify(pathToFileURL(join(variant.dir, 'index.mjs')).href);
  const call = (n: number) =>
    ({
      init: 'true',
      open: "(await m.handler({ poolId: '3001' })).outcome === 'ALREADY_OPEN'",
      check: `(await m.handler(JSON.parse(process.env.BENCH_CHECK_EVENT_${n}))).batchItemFailures.length === 0`,
      handover:
        "(await (async () => { const pending = []; for (const poolId of process.env.BENCH_POOLS.split(',')) pending.push((await m.handler({ poolId })).outcome === 'PENDING'); return pending.every(Boolean); })())",
      piece: 'await m.run()',
    })[variant.kind];
  // Invocations are timed twice: the first of a cold start, then a second, warm one.
  const again = variant.kind === 'open' || variant.kind === 'check';
  return (
    `const t0 = performance.now(); const m = await import(${url}); const t1 = performance.now();` +
    ` const ok = ${call(1)}; const t2 = performance.now(); process.stderr.write(${JSON.stringify(FIRST_DONE)});` +
    ` const ok2 = ${again ? call(2) : 'true'};` +
    ` const t3 = performance.now(); ${extra}` +
    " process.stderr.write('BENCH ' + JSON.stringify({ importMs: t1 - t0, invokeMs: t2 - t1," +
    ` againMs: ${again ? 't3 - t2' : 'undefined'}, ok: ok && ok2 }) + '\\n');` +
    ' process.exit(0);'
  );
}

async function runVariant(variant: Variant, record: boolean): Promise<void> {
  const env = { ...withoutNodeOptions(process.env), ...variant.env, ...variant.perRun?.() };
  if (variant.freshTable === true) env.OPENINGS_TABLE = await createOpeningsTable('bench-cold-start');
  if (variant.nodeOptions !== '') env.NODE_OPTIONS = variant.nodeOptions;
  const result = await runChild(['--input-type=module', '-e', childCode(variant)], env);
  if (!record) return;
  const line = result.stderr.split('\n').find((candidate) => candidate.startsWith('BENCH '));
  const measured =
    line === undefined
      ? undefined
      : (JSON.parse(line.slice(6)) as { importMs: number; invokeMs: number; againMs?: number; ok: boolean });
  if (result.code !== 0 || measured?.ok !== true || Number.isNaN(result.firstDoneMs)) {
    variant.sample.failures.push(`exit ${result.code}: ${result.stderr.slice(-300)}`);
    return;
  }
  variant.sample.wallMs.push(result.firstDoneMs);
  variant.sample.importMs.push(measured.importMs);
  variant.sample.invokeMs.push(measured.invokeMs);
  if (measured.againMs !== undefined) variant.sample.againMs.push(measured.againMs);
}

/**
 * What a child writes on stderr when its first invocation (or its import, or its script) is done.
 * The parent times a cold start from the spawn to that line: what a Lambda cold start is (init and
 * the first invocation), without the second, warm invocation that follows it in the child nor the
 * process's exit, which Lambda never pays per invocation and which took the checker's child 30 ms
 * longer than the opener's on this machine.
 */
const FIRST_DONE = 'BENCH_FIRST_DONE\n';

/** `node` with `args`, to its end; `firstDoneMs`: from the spawn until FIRST_DONE came (NaN if it never did). */
function runChild(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ firstDoneMs: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE_BIN, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let firstDoneMs = Number.NaN;
    child.stderr?.on('data', (chunk: Buffer) => {
      const now = performance.now();
      stderr += chunk.toString();
      if (Number.isNaN(firstDoneMs) && stderr.includes(FIRST_DONE)) firstDoneMs = now - started;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ firstDoneMs, code, stderr }));
  });
}

/** A bare start, timed the same way: Node.js starting, running a script that writes that line. */
const BARE_START = ['-e', `process.stderr.write(${JSON.stringify(FIRST_DONE)})`];

/** The files of the bundle a first invocation loads, seen by a module hook (a run of its own, not timed). */
async function filesLoaded(
  dir: string,
  kind: 'open' | 'check',
  nodeOptions: string,
  env: Record<string, string>,
): Promise<{ files: number; bytes: number }> {
  const hook =
    "import { registerHooks } from 'node:module'; globalThis.benchLoaded = [];" +
    ' registerHooks({ load(url, context, next) { globalThis.benchLoaded.push(url); return next(url, context); } });';
  const report =
    `const files = globalThis.benchLoaded.filter((u) => u.startsWith(${JSON.stringify(`${pathToFileURL(dir).href}/`)}));` +
    " process.stderr.write('LOADED ' + JSON.stringify(files) + '\\n');";
  const result = await runChild(
    [
      '--import',
      `data:text/javascript,${encodeURIComponent(hook)}`,
      '--input-type=module',
      '-e',
      childCode({ dir, kind }, report),
    ],
    {
      ...withoutNodeOptions(process.env),
      ...env,
      ...(nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions }),
    },
  );
  const line = result.stderr.split('\n').find((candidate) => candidate.startsWith('LOADED '));
  const urls = line === undefined ? [] : (JSON.parse(line.slice(7)) as string[]);
  const names = urls.map((url) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)));
  return { files: names.length, bytes: names.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0) };
}
