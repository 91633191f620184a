import { SYMBOL_PATTERN } from '../../core/symbol.js';
import { symbolFromKey } from '../../platform/redis/keys.js';
import type { StaleInputs } from './reading.js';

/** How much of a refused key a log sample keeps: another service's junk must not fill the log. */
const SAMPLE_CHARS = 64;

export const isSymbol = (s: unknown): s is string => typeof s === 'string' && SYMBOL_PATTERN.test(s);

/**
 * The symbol part of a key found under `pattern`, when it obeys the symbol rule (docs/contract.md §1 Inputs).
 * A key whose symbol part breaks it (`constructor`, `__proto__`, lower case, control characters)
 * is counted as `symbol` and never budgeted.
 */
export function symbolOfKey(key: string, pattern: string, stale: StaleInputs): string | undefined {
  const symbol = symbolFromKey(key, pattern);
  if (symbol === undefined) return undefined;
  if (isSymbol(symbol)) return symbol;
  stale.add('symbol', JSON.stringify(key.slice(0, SAMPLE_CHARS)));
  return undefined;
}
