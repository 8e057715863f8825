/**
 * The `Authorization` header for a stored Toloka credential, chosen as the official SDKs
 * choose: an API key has exactly two dots, the first at index 22 to 24; anything else is a
 * legacy OAuth token. A value that already names its scheme is sent as it is.
 */
export function authorizationHeader(credential: string): string {
  const value = credential.trim();
  if (/^(OAuth|ApiKey) \S+$/.test(value)) return value;
  return `${looksLikeApiKey(value) ? 'ApiKey' : 'OAuth'} ${value}`;
}

export function looksLikeApiKey(value: string): boolean {
  const firstDot = value.indexOf('.');
  return value.split('.').length === 3 && firstDot >= 22 && firstDot <= 24;
}
