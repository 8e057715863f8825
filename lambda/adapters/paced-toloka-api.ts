import type { Action, TolokaTarget } from '../runtime/model.ts';
import type { TolokaApi } from '../runtime/ports.ts';
import type { RequestPacer } from '../runtime/request-pacer.ts';

/**
 * The Toloka port with each request waiting for its slot of the instance's share of the request
 * budget (lambda/runtime/request-pacer.ts). Every attempt goes through it, retries after a 429
 * included, so a retry is paced like any request; what a 429 means is still decided where it was.
 */
export class PacedTolokaApi implements TolokaApi {
  constructor(
    private readonly inner: TolokaApi,
    private readonly pacer: RequestPacer,
  ) {}

  async act(target: TolokaTarget, action: Action, authorization: string) {
    await this.pacer.take();
    return this.inner.act(target, action, authorization);
  }

  async getOperation(operationId: string, authorization: string) {
    await this.pacer.take();
    return this.inner.getOperation(operationId, authorization);
  }

  async getTarget(target: TolokaTarget, authorization: string) {
    await this.pacer.take();
    return this.inner.getTarget(target, authorization);
  }

  async findRunningOperation(target: TolokaTarget, action: Action, authorization: string) {
    await this.pacer.take();
    return this.inner.findRunningOperation(target, action, authorization);
  }
}
