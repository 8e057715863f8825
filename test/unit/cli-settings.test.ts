import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  parseApiOrigin,
  parseOperationId,
  parseTarget,
  parseTimeoutSeconds,
} from '../../cli/settings.ts';
import { readRuntimeConfig } from '../../lambda/runtime/config.ts';
import { ConfigError } from '../../lambda/runtime/errors.ts';

const lambdaEnv = {
  TOLOKA_TOKEN_PARAMETER: '/toloka/token',
  CHECK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/checks',
  OPENINGS_TABLE: 'toloka-openings',
};

/** What the Lambdas make of TOLOKA_API_URL: the origin, or undefined when they refuse it. */
function lambdaOrigin(value: string): string | undefined {
  try {
    return readRuntimeConfig({ ...lambdaEnv, TOLOKA_API_URL: value }).apiOrigin;
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

function cliOrigin(value: string): string | undefined {
  try {
    return parseApiOrigin(value);
  } catch (error) {
    if (error instanceof BadInputError) return undefined;
    throw error;
  }
}

describe('--api-url follows the rule of TOLOKA_API_URL', () => {
  it.each([
    'https://toloka.dev',
    'https://toloka.dev/',
    'https://proxy.example.com/toloka/api/v1',
    'https://proxy.example.com:8443/prefix/',
    'http://127.0.0.1:8080',
    'http://127.0.0.1:8080/api/v1',
    'http://localhost:9000',
    'http://[::1]:9000',
    'http://toloka.example.com',
    'http://10.0.0.1:8080',
    'ftp://example.com',
    'https://user:secret@toloka.dev',
    'https://toloka.dev/?a=1',
    'https://toloka.dev/#x',
    'not a url',
    '127.0.0.1:8080',
  ])('%s', (value) => {
    expect(cliOrigin(value)).toBe(lambdaOrigin(value));
  });

  it('names --api-url and the reason when it refuses', () => {
    expect(() => parseApiOrigin('http://toloka.example.com')).toThrow(
      '--api-url: must use https (http only for localhost',
    );
  });
});

describe('arguments', () => {
  it('takes pool and training IDs as the trigger messages do', () => {
    expect(parseTarget('123', false)).toEqual({ kind: 'pool', id: '123' });
    expect(parseTarget('456', true)).toEqual({ kind: 'training', id: '456' });
    expect(() => parseTarget('0123', false)).toThrow('<poolId>: must not start with 0');
    expect(() => parseTarget('-1', true)).toThrow(
      '<poolId> (a training ID, with --training): must be a positive',
    );
    expect(() => parseTarget('99999999999999999999', false)).toThrow('larger than any Toloka ID');
  });

  it('takes --timeout as whole seconds from 1 to 43200', () => {
    expect(parseTimeoutSeconds('1')).toBe(1);
    expect(parseTimeoutSeconds('43200')).toBe(43_200);
    for (const bad of ['0', '43201', '1.5', '-3', 'soon', '', '1e3']) {
      expect(() => parseTimeoutSeconds(bad), bad).toThrow(/^--timeout: must be/);
    }
  });

  it('takes operation IDs as the check messages do', () => {
    expect(parseOperationId('0bd6adad-1c5e-4c35-9d8e-0d6a4f0f2b1c')).toBe(
      '0bd6adad-1c5e-4c35-9d8e-0d6a4f0f2b1c',
    );
    for (const bad of ['', '../pools/1', 'a b', 'x'.repeat(129)]) {
      expect(() => parseOperationId(bad)).toThrow(/^<operationId>: must be a Toloka operation ID/);
    }
  });
});
