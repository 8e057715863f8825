/**
 * Runs before every test file: every answer any emulator gives under `/api/v1`, and every request
 * this app's client sends it, is checked against Toloka's own OpenAPI specification
 * (test/support/toloka-conformance.ts). A test during which one did not conform fails, naming
 * the exchange and the problem. Two kinds of exchange are left out, on purpose:
 * - answers made by an injected fault (a 502, an HTML page, a truncated body): they stand for
 *   what the real service and its proxies do outside the specification (../shared/toloka-api.md);
 * - the operation status of the `unknownStatus` switch, which stands for a status Toloka may add.
 * Requests are checked when they come from this app (user-agent `toloka-pool-opener`); the tests
 * and toloka-kit send others (bad paths, on purpose), whose answers are still checked.
 */
import { afterEach } from 'vitest';
import { observeExchanges } from '../../emulator/toloka-emulator.ts';
import { TolokaConformance } from '../support/toloka-conformance.ts';

const conformance = await TolokaConformance.load();
let problems: string[] = [];

observeExchanges((exchange) => {
  if (exchange.fault !== undefined) return;
  let found = conformance.checkResponse(exchange);
  if (exchange.switches.unknownStatus !== null) {
    found = found.filter((problem) => !/\/status must be equal to one of the allowed values/.test(problem));
  }
  if (exchange.requestHeaders['user-agent'] === 'toloka-pool-opener') {
    found = [...found, ...conformance.checkRequest(exchange)];
  }
  problems.push(...found);
});

afterEach(() => {
  const found = problems;
  problems = [];
  if (found.length > 0) {
    throw new Error(
      `Toloka's specification does not allow what was exchanged with the emulator:\n - ${[...new Set(found)].join('\n - ')}`,
    );
  }
});
