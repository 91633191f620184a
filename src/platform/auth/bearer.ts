import type { Actor, TokenRegistry } from './token-registry.js';

/** Longer than any token `npm run token` makes; refuses absurd headers before hashing them. */
const MAX_TOKEN_LENGTH = 512;
const BEARER = /^Bearer[ \t]+([!-~]+)[ \t]*$/i;

export type BearerCheck =
  | { kind: 'missing' }
  | { kind: 'malformed' }
  /** well-formed, but no entry of OPS_API_TOKENS has its hash */
  | { kind: 'unknown' }
  | { kind: 'actor'; actor: Actor };

/** What an `Authorization` header says, for the guard and the gate alike. The token is never kept. */
export function checkBearer(header: unknown, tokens: TokenRegistry): BearerCheck {
  if (header === undefined) return { kind: 'missing' };
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (!match) return { kind: 'malformed' };
  const actor = match[1].length <= MAX_TOKEN_LENGTH ? tokens.authenticate(match[1]) : undefined;
  return actor ? { kind: 'actor', actor } : { kind: 'unknown' };
}
