/**
 * The Lambda wiring (`lambdaRuntime`, built from the environment as in Lambda) with a shorter
 * report lease than its 2-minute default, so that a test can see a redelivery take over the
 * record of an opening whose decider died, without waiting two minutes.
 */
import { type HandlerRuntime, lambdaRuntime } from '../../lambda/wiring/lambda-dependencies.ts';

export function leasedRuntime(reportLeaseMs: number): () => HandlerRuntime {
  return () => {
    const runtime = lambdaRuntime();
    return { ...runtime, deps: { ...runtime.deps, reportLeaseMs } };
  };
}
