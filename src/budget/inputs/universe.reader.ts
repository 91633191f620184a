import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../platform/config/index.js';
import { Keys } from '../../platform/redis/keys.js';
import type { RedisSession } from '../../platform/redis/batch.js';
import type { StaleInputs } from './reading.js';
import { isSymbol, symbolOfKey } from './symbols.js';
import type { MarketView } from './volatility.reader.js';

/** BUDGET_UNIVERSE, and the symbols of the market-state keys found (not yet judged live). */
export interface Universe {
  configured: Set<string>;
  market: Set<string>;
}

/**
 * The tradable universe beyond active positions (docs/contract.md §2): every symbol with a live
 * `quantum:marketstate:{SYMBOL}` key (found with SCAN) and the symbols of BUDGET_UNIVERSE. These
 * are budgeted even when flat, so the gate can judge a first entry. Names that break the symbol
 * rule are counted as `symbol` and left out.
 */
@Injectable()
export class UniverseReader {
  constructor(private readonly config: AppConfig) {}

  async discover(session: RedisSession, stale: StaleInputs): Promise<Universe> {
    const configured = new Set<string>();
    for (const s of this.config.BUDGET_UNIVERSE) {
      if (isSymbol(s)) configured.add(s);
      else stale.add('symbol', `BUDGET_UNIVERSE ${JSON.stringify(String(s).slice(0, 64))}`);
    }
    const market = new Set<string>();
    for (const key of await session.scan(Keys.marketStatePattern)) {
      const symbol = symbolOfKey(key, Keys.marketStatePattern, stale);
      if (symbol) market.add(symbol);
    }
    return { configured, market };
  }

  /**
   * Whether a flat symbol belongs to the universe. A market state counts only while live: one older
   * than INPUT_MAX_AGE_SEC, or with an unreadable or future ts_timestamp, adds nothing (counted as
   * `vol`). One without any timestamp is taken, as its sigma is (§1), and counted, so a publisher
   * that stopped stamping is visible.
   */
  static includes(u: Universe, symbol: string, market: MarketView, stale: StaleInputs): boolean {
    if (u.configured.has(symbol)) return true;
    if (!u.market.has(symbol)) return false;
    switch (market.age) {
      case 'fresh':
        return true;
      case 'absent':
        stale.add('vol', `${symbol}: market state without ts_timestamp`);
        return true;
      case 'none':
        return false;
      default:
        stale.add('vol', `${symbol}: market state ${market.age}, not in the universe`);
        return false;
    }
  }
}
