import { Injectable } from '@nestjs/common';
import { Keys } from '../../platform/redis/keys.js';
import type { Batch, Reply } from '../../platform/redis/batch.js';
import { judgeAge, type Ages, type Reading, type StaleInputs } from './reading.js';
import { parseNumber } from '../../core/numbers.js';

export const VOL_NORMAL = 0.33;

const MARKET_FIELDS: readonly string[] = ['sigma', 'ts_timestamp', 'price', 'mark_price', 'last_price'];
/** Price fields a market state may carry, first usable one wins (docs/contract.md §2 `price`). */
const MARKET_PRICE_AT = [2, 3, 4];

/** What the live market state says beyond volatility: its age and a price, when it carries one. */
export interface MarketView {
  /** `none`: no key (it vanished since SCAN); `unreadable`: not a hash, or Redis failed the read */
  age: 'fresh' | 'stale' | 'garbage' | 'absent' | 'none' | 'unreadable';
  price?: number;
}
const LEGACY_FIELDS: readonly string[] = ['vol_regime', 'sigma'];

/** `vol_regime` text → level (docs/contract.md §1 Inputs); undefined when it names none of them. */
export function volFromRegime(regime: string | null | undefined): number | undefined {
  if (!regime) return undefined;
  const r = regime.toUpperCase();
  if (r.includes('EXTREME')) return 1.0;
  if (r.includes('HIGH')) return 0.67;
  if (r.includes('LOW')) return 0.0;
  return undefined;
}

/** sigma → level (docs/contract.md §1 Inputs). */
export function volFromSigma(sigma: number): number {
  if (sigma > 0.03) return 1.0;
  if (sigma > 0.02) return 0.67;
  if (sigma < 0.005) return 0.0;
  return VOL_NORMAL;
}

/** The live market state as the market-state publisher writes it. */
export interface MarketState {
  sigma?: string | null;
  ts_timestamp?: string | null;
}
/** The legacy `quantum:state:market:{SYMBOL}` hash. */
export interface LegacyMarketState {
  vol_regime?: string | null;
  sigma?: string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Volatility per symbol (docs/contract.md §1 Inputs): the live `quantum:marketstate:{SYMBOL}` sigma, unless
 * its `ts_timestamp` is older than INPUT_MAX_AGE_SEC (stale, counted as vol); the legacy key only
 * when the live one is absent, stale or garbage: its `vol_regime` when it names a level, else its
 * `sigma`; else 0.33 (normal). A legacy regime naming no level (e.g. NORMAL) with no sigma is
 * normal, not missing.
 */
@Injectable()
export class VolatilityReader {
  plan(
    plan: Batch,
    symbols: Iterable<string>,
    ages: Ages,
  ): (symbol: string, stale: StaleInputs) => Reading<number> {
    return this.planWithMarket(plan, symbols, ages).vol;
  }

  /** As `plan`, plus each symbol's market view from the same read (one HMGET per key). */
  planWithMarket(
    plan: Batch,
    symbols: Iterable<string>,
    ages: Ages,
  ): {
    vol: (symbol: string, stale: StaleInputs) => Reading<number>;
    market: (symbol: string) => MarketView;
  } {
    const replies = new Map<string, { market: () => Reply; legacy: () => Reply }>();
    for (const s of symbols) {
      replies.set(s, {
        market: plan.hmget(Keys.marketState(s), MARKET_FIELDS),
        legacy: plan.hmget(Keys.legacyMarketState(s), LEGACY_FIELDS),
      });
    }
    const market = (symbol: string): MarketView => {
      const r = replies.get(symbol);
      if (!r) return { age: 'none' };
      const [err, value] = r.market();
      if (err || !Array.isArray(value)) return { age: 'unreadable' };
      if (value.every((v) => v === null)) return { age: 'none' };
      const age = judgeAge(text(value[1]), ages);
      for (const i of MARKET_PRICE_AT) {
        const p = parseNumber(text(value[i]), 'positive');
        if (p.ok) return { age, price: p.n };
      }
      return { age };
    };
    const vol = (symbol: string, stale: StaleInputs): Reading<number> => {
      const r = replies.get(symbol);
      const [mErr, market] = r ? r.market() : [null, null];
      const [lErr, legacy] = r ? r.legacy() : [null, null];
      const m = !mErr && Array.isArray(market) ? market : [];
      const l = !lErr && Array.isArray(legacy) ? legacy : [];
      return VolatilityReader.resolve(
        symbol,
        { sigma: text(m[0]), ts_timestamp: text(m[1]) },
        { vol_regime: text(l[0]), sigma: text(l[1]) },
        stale,
        ages,
        Boolean(mErr || lErr),
      );
    };
    return { vol, market };
  }

  static resolve(
    symbol: string,
    market: MarketState,
    legacy: LegacyMarketState,
    stale: StaleInputs,
    ages: Ages,
    redisError = false,
  ): Reading<number> {
    let bad = redisError;
    const live = parseNumber(market.sigma, 'nonNegative');
    if (!live.ok && live.why === 'garbage') bad = true;
    if (live.ok) {
      const age = judgeAge(market.ts_timestamp, ages);
      if (age === 'fresh' || age === 'absent') {
        if (bad) stale.add('vol', symbol);
        return { value: volFromSigma(live.n), status: 'fresh', source: 'sigma' };
      }
      bad = true; // stale or an unreadable timestamp: the legacy key may answer
    }
    const level = volFromRegime(legacy.vol_regime);
    const legacySigma = parseNumber(legacy.sigma, 'nonNegative');
    if (!legacySigma.ok && legacySigma.why === 'garbage') bad = true;
    let out: Reading<number> | undefined;
    if (level !== undefined) out = { value: level, status: 'fresh', source: 'vol_regime' };
    else if (legacySigma.ok)
      out = { value: volFromSigma(legacySigma.n), status: 'fresh', source: 'legacy_sigma' };
    else if (legacy.vol_regime && legacy.vol_regime.trim() !== '')
      out = { value: VOL_NORMAL, status: 'fresh', source: 'vol_regime' };
    if (bad || !out) stale.add('vol', symbol);
    return out ?? { value: VOL_NORMAL, status: bad ? 'garbage' : 'missing' };
  }
}
