import { Injectable } from '@nestjs/common';
import { Keys } from '../../platform/redis/keys.js';
import type { Batch } from '../../platform/redis/batch.js';
import type { PortfolioState } from '../lkg.js';
import { type Reading, type StaleInputs } from './reading.js';
import { parseNumber } from '../../core/numbers.js';

/** Epoch values above this are milliseconds (1e11 s is the year 5138): some producers write ms. */
const MS_THRESHOLD = 1e11;

/**
 * `quantum:state:portfolio`: equity_usd (> 0), drawdown, timestamp. A state without a usable
 * equity or timestamp is garbage and treated as missing (the LKG rule then decides); a Redis
 * error on the key (e.g. WRONGTYPE) likewise.
 */
@Injectable()
export class PortfolioStateReader {
  plan(plan: Batch): (stale: StaleInputs) => Reading<PortfolioState | undefined> {
    const reply = plan.add(['hmget', Keys.portfolioState, 'equity_usd', 'drawdown', 'timestamp']);
    return (stale) => {
      const [err, value] = reply();
      if (err) {
        stale.add('portfolio', `redis error: ${err.message}`);
        return { value: undefined, status: 'error', source: err.message };
      }
      return PortfolioStateReader.parse(value as Array<string | null>, stale);
    };
  }

  static parse(fields: Array<string | null>, stale: StaleInputs): Reading<PortfolioState | undefined> {
    const [equityRaw, drawdownRaw, tsRaw] = fields;
    if (fields.every((f) => f === null)) {
      stale.add('portfolio', 'absent');
      return { value: undefined, status: 'missing' };
    }
    const equity = parseNumber(equityRaw, 'positive');
    const ts = parseNumber(tsRaw, 'positive');
    if (!equity.ok || !ts.ok) {
      const bad = !equity.ok ? `equity_usd=${String(equityRaw)}` : `timestamp=${String(tsRaw)}`;
      stale.add('portfolio', bad);
      return { value: undefined, status: 'garbage', source: bad };
    }
    const drawdown = parseNumber(drawdownRaw);
    const timestamp = ts.n > MS_THRESHOLD ? ts.n / 1000 : ts.n;
    return {
      value: { equityUsd: equity.n, timestamp, ...(drawdown.ok ? { drawdown: drawdown.n } : {}) },
      status: 'fresh',
    };
  }
}
