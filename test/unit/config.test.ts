import { describe, expect, it } from 'vitest';
import { readRuntimeConfig } from '../../lambda/runtime/config.ts';
import { ConfigError } from '../../lambda/runtime/errors.ts';

const minimal = {
  TOLOKA_ENVIRONMENT: 'sandbox',
  TOLOKA_TOKEN_PARAMETER: '/toloka/token',
  CHECK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/checks',
  OPENINGS_TABLE: 'toloka-openings',
};

describe('readRuntimeConfig', () => {
  it('uses the sandbox host for TOLOKA_ENVIRONMENT=sandbox', () => {
    const config = readRuntimeConfig(minimal);
    expect(config.apiOrigin).toBe('https://sandbox.toloka.dev');
    expect(config.apiOriginOverridden).toBe(false);
    expect(config.poll).toEqual({
      deadlineSeconds: 3600,
      fastPathSeconds: 20,
      minDelaySeconds: 1,
      maxDelaySeconds: 900,
      backoffFactor: 1.2,
    });
  });

  it('uses the production host for TOLOKA_ENVIRONMENT=production', () => {
    expect(readRuntimeConfig({ ...minimal, TOLOKA_ENVIRONMENT: 'production' }).apiOrigin).toBe(
      'https://toloka.dev',
    );
  });

  it('lets TOLOKA_API_URL replace the host, keeping only the origin', () => {
    const config = readRuntimeConfig({ ...minimal, TOLOKA_API_URL: 'http://127.0.0.1:8080/' });
    expect(config.apiOrigin).toBe('http://127.0.0.1:8080');
    expect(config.apiOriginOverridden).toBe(true);
  });

  it('does not double /api/v1 when the override already ends with it', () => {
    expect(readRuntimeConfig({ ...minimal, TOLOKA_API_URL: 'http://127.0.0.1:8080/api/v1' }).apiOrigin).toBe(
      'http://127.0.0.1:8080',
    );
  });

  it('refuses plain http to anything but this machine, since the token travels in every request', () => {
    expect(() => readRuntimeConfig({ ...minimal, TOLOKA_API_URL: 'http://toloka.example.com' })).toThrow(
      'TOLOKA_API_URL: must use https (http only for localhost)',
    );
    for (const local of ['http://localhost:8080', 'http://127.0.0.1:9', 'http://[::1]:8080']) {
      expect(readRuntimeConfig({ ...minimal, TOLOKA_API_URL: local }).apiOriginOverridden).toBe(true);
    }
  });

  it('lists every problem at once, each naming its variable', () => {
    let caught: unknown;
    try {
      readRuntimeConfig({
        TOLOKA_ENVIRONMENT: 'staging',
        TOLOKA_API_URL: 'ftp://example.com',
        CHECK_DEADLINE_SECONDS: 'soon',
        CHECK_MAX_DELAY_SECONDS: '1200',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    for (const name of [
      'TOLOKA_ENVIRONMENT',
      'TOLOKA_API_URL',
      'TOLOKA_TOKEN_PARAMETER',
      'CHECK_QUEUE_URL',
      'OPENINGS_TABLE',
      'CHECK_DEADLINE_SECONDS',
      'CHECK_MAX_DELAY_SECONDS',
    ]) {
      expect(problems).toContain(`${name}:`);
    }
  });

  it('reads the openings table and refuses a name DynamoDB would refuse', () => {
    expect(readRuntimeConfig(minimal).openingsTable).toBe('toloka-openings');
    expect(() => readRuntimeConfig({ ...minimal, OPENINGS_TABLE: 'no spaces allowed' })).toThrow(
      /OPENINGS_TABLE: "no spaces allowed" is not a DynamoDB table name/,
    );
  });
});
