import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/index.js';
import { Keys } from '../../redis/keys.js';
import type { RedisSession } from '../batch.js';
import type { StaleInputs } from './reading.js';
import { isSymbol, symbolOfKey } from './symbols.js';

/**
 * The tradable universe beyond active positions (CONTRACT.md §2): every symbol with a live
 * `quantum:marketstate:{SYMBOL}` key (found with SCAN) and the symbols of BUDGET_UNIVERSE. These
 * are budgeted even when flat, so the gate can judge a first entry. Names that break the symbol
 * rule are counted as `symbol` and left out.
 */
@Injectable()
export class UniverseReader {
  constructor(private readonly config: AppConfig) {}

  async discover(session: RedisSession, stale: StaleInputs): Promise<Set<string>> {
    const out = new Set<string>();
    for (const s of this.config.BUDGET_UNIVERSE) {
      if (isSymbol(s)) out.add(s);
      else stale.add('symbol', `BUDGET_UNIVERSE ${JSON.stringify(String(s).slice(0, 64))}`);
    }
    for (const key of await session.scan(Keys.marketStatePattern)) {
      const symbol = symbolOfKey(key, Keys.marketStatePattern, stale);
      if (symbol) out.add(symbol);
    }
    return out;
  }
}
