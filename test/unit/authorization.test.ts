import { describe, expect, it } from 'vitest';
import { authorizationHeader } from '../../lambda/runtime/authorization.ts';
import { isTransient, UnsendableTokenError } from '../../lambda/runtime/errors.ts';

// Shaped like Toloka API keys: two dots, the first at index 22-24.
const apiKey22 = `${'a'.repeat(22)}.${'b'.repeat(10)}.${'c'.repeat(40)}`;
const apiKey24 = `${'a'.repeat(24)}.${'b'.repeat(10)}.${'c'.repeat(40)}`;

describe('authorizationHeader', () => {
  it('sends an API key with the ApiKey scheme', () => {
    expect(authorizationHeader(apiKey22)).toBe(`ApiKey ${apiKey22}`);
    expect(authorizationHeader(apiKey24)).toBe(`ApiKey ${apiKey24}`);
  });

  it('sends an OAuth token with the OAuth scheme', () => {
    expect(authorizationHeader('AQAAAAAAbcdefghijklmnop1234567')).toBe(
      'OAuth AQAAAAAAbcdefghijklmnop1234567',
    );
  });

  it('treats a value whose first dot is outside 22-24 as OAuth', () => {
    const near = `${'a'.repeat(21)}.${'b'.repeat(10)}.c`;
    const far = `${'a'.repeat(25)}.${'b'.repeat(10)}.c`;
    expect(authorizationHeader(near)).toBe(`OAuth ${near}`);
    expect(authorizationHeader(far)).toBe(`OAuth ${far}`);
  });

  it('treats a value with three dots as OAuth', () => {
    const threeDots = `${'a'.repeat(22)}.b.c.d`;
    expect(authorizationHeader(threeDots)).toBe(`OAuth ${threeDots}`);
  });

  it('sends a value that already carries its scheme as it is', () => {
    expect(authorizationHeader('ApiKey secret')).toBe('ApiKey secret');
    expect(authorizationHeader('OAuth secret')).toBe('OAuth secret');
  });

  it('trims the stored value', () => {
    expect(authorizationHeader('  token-with-newline\n')).toBe('OAuth token-with-newline');
  });
});

describe('a token that cannot be sent as an HTTP header', () => {
  it.each([
    ['a line break', 'abc\ndef', 'it contains a line break'],
    ['a carriage return', 'abc\rdef', 'it contains a line break'],
    ['a control character', 'abc\u0000def', 'it contains a control character'],
    ['a character outside Latin-1', 'abc€def', 'it contains a character outside Latin-1'],
  ])(
    'is a permanent TOKEN_NOT_SENDABLE error naming the source for %s, never the token',
    (_what, token, reason) => {
      let error: unknown;
      try {
        authorizationHeader(token, 'SSM parameter /t');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UnsendableTokenError);
      expect(isTransient(error)).toBe(false);
      expect(error).toMatchObject({ code: 'TOKEN_NOT_SENDABLE', source: 'SSM parameter /t', reason });
      expect((error as Error).message).not.toContain('abc');
    },
  );

  it('accepts Latin-1 and a trailing newline, which it trims', () => {
    expect(authorizationHeader('caf\u00e9-token')).toBe('OAuth caf\u00e9-token');
    expect(authorizationHeader('token\n')).toBe('OAuth token');
  });
});
