import { Injectable } from '@nestjs/common';
import { Keys } from '../../redis/keys.js';
import type { ReadPlan, Reply } from '../batch.js';
import { parseNumber, type Reading, type StaleInputs } from './reading.js';

export const VOL_NORMAL = 0.33;

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
  plan(plan: ReadPlan, symbols: Iterable<string>): (symbol: string, stale: StaleInputs) => Reading<number> {
    const replies = new Map<string, { market: () => Reply; legacy: () => Reply }>();
    for (const s of symbols) {
      replies.set(s, {
        market: plan.add(['hmget', Keys.marketState(s), 'sigma']),
        legacy: plan.add(['hmget', Keys.legacyMarketState(s), 'vol_regime', 'sigma']),
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
    for (const [source, raw] of [
      ['sigma', marketSigma],
      ['legacy_sigma', legacySigma],
    ] as const) {
      const p = parseNumber(raw, 'nonNegative');
      if (!p.ok && p.why === 'garbage') bad = true;
      if (!out && p.ok) out = { value: volFromSigma(p.n), status: 'fresh', source };
    }
    if (!out && regime && regime.trim() !== '')
      out = { value: VOL_NORMAL, status: 'fresh', source: 'vol_regime' };
    if (bad || !out) stale.add('vol', symbol);
    return out ?? { value: VOL_NORMAL, status: bad ? 'garbage' : 'missing' };
  }
}
