import { UnsendableTokenError } from './errors.ts';

/**
 * The `Authorization` header for a stored Toloka credential, chosen as the official SDKs
 * choose: an API key has exactly two dots, the first at index 22 to 24; anything else is a
 * legacy OAuth token. A value that already names its scheme is sent as it is.
 */
export function authorizationHeader(credential: string, source = 'the token source'): string {
  const value = credential.trim();
  const problem = unsendable(value);
  if (problem !== undefined) throw new UnsendableTokenError(source, problem);
  if (/^(OAuth|ApiKey) \S+$/.test(value)) return value;
  return `${looksLikeApiKey(value) ? 'ApiKey' : 'OAuth'} ${value}`;
}

export function looksLikeApiKey(value: string): boolean {
  const firstDot = value.indexOf('.');
  return value.split('.').length === 3 && firstDot >= 22 && firstDot <= 24;
}

/**
 * Why a value cannot be an HTTP header value (RFC 9110 field-value: visible ASCII, space, tab and
 * obs-text 0x80-0xFF; what undici and Node accept), or undefined. Says which kind of character,
 * never which character: it is part of a secret.
 */
function unsendable(value: string): string | undefined {
  let problem: string | undefined;
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code === 0x0a || code === 0x0d) return 'it contains a line break';
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) problem ??= 'it contains a control character';
    else if (code > 0xff) problem ??= 'it contains a character outside Latin-1';
  }
  return problem;
}
