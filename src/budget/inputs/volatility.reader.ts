import { Injectable } from '@nestjs/common';
import { Keys } from '../../redis/keys.js';
import type { Batch, Reply } from '../batch.js';
import { parseNumber, type Reading, type StaleInputs } from './reading.js';

export const VOL_NORMAL = 0.33;

const MARKET_FIELDS: readonly string[] = ['sigma'];
const LEGACY_FIELDS: readonly string[] = ['vol_regime', 'sigma'];

/** `vol_regime` text → level (CONTRACT.md §1); undefined when it names none of them. */
export function volFromRegime(regime: string | null | undefined): number | undefined {
  if (!regime) return undefined;
  const r = regime.toUpperCase();
  if (r.includes('EXTREME')) return 1.0;
  if (r.includes('HIGH')) return 0.67;
  if (r.includes('LOW')) return 0.0;
  return undefined;
}

/** sigma → level (CONTRACT.md §1). */
export function volFromSigma(sigma: number): number {
  if (sigma > 0.03) return 1.0;
  if (sigma > 0.02) return 0.67;
  if (sigma < 0.005) return 0.0;
  return VOL_NORMAL;
}

/**
 * Volatility per symbol: the legacy `vol_regime` when it names a level, else `sigma` from
 * `quantum:marketstate:{SYMBOL}`, else the legacy `sigma`, else 0.33 (normal). A regime text
 * naming no level (e.g. NORMAL) with no sigma is taken as normal, not as missing.
 */
@Injectable()
export class VolatilityReader {
  plan(plan: Batch, symbols: Iterable<string>): (symbol: string, stale: StaleInputs) => Reading<number> {
    const replies = new Map<string, { market: () => Reply; legacy: () => Reply }>();
    for (const s of symbols) {
      replies.set(s, {
        market: plan.hmget(Keys.marketState(s), MARKET_FIELDS),
        legacy: plan.hmget(Keys.legacyMarketState(s), LEGACY_FIELDS),
      });
    }
    return (symbol, stale) => {
      const r = replies.get(symbol);
      const [mErr, market] = r ? r.market() : [null, null];
      const [lErr, legacy] = r ? r.legacy() : [null, null];
      const m = (mErr ? [] : ((market as Array<string | null>) ?? [])) as Array<string | null>;
      const l = (lErr ? [] : ((legacy as Array<string | null>) ?? [])) as Array<string | null>;
      return VolatilityReader.resolve(symbol, m[0], l[0], l[1], stale, Boolean(mErr || lErr));
    };
  }

  static resolve(
    symbol: string,
    marketSigma: string | null | undefined,
    regime: string | null | undefined,
    legacySigma: string | null | undefined,
    stale: StaleInputs,
    redisError = false,
  ): Reading<number> {
    let bad = redisError;
    const level = volFromRegime(regime);
    let out: Reading<number> | undefined =
      level !== undefined ? { value: level, status: 'fresh', source: 'vol_regime' } : undefined;
    const market = parseNumber(marketSigma, 'nonNegative');
    const legacy = parseNumber(legacySigma, 'nonNegative');
    if ((!market.ok && market.why === 'garbage') || (!legacy.ok && legacy.why === 'garbage')) bad = true;
    if (!out && market.ok) out = { value: volFromSigma(market.n), status: 'fresh', source: 'sigma' };
    if (!out && legacy.ok) out = { value: volFromSigma(legacy.n), status: 'fresh', source: 'legacy_sigma' };
    if (!out && regime && regime.trim() !== '')
      out = { value: VOL_NORMAL, status: 'fresh', source: 'vol_regime' };
    if (bad || !out) stale.add('vol', symbol);
    return out ?? { value: VOL_NORMAL, status: bad ? 'garbage' : 'missing' };
  }
}
