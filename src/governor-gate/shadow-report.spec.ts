import { describe, expect, it } from 'vitest';
import { summariseShadow } from './shadow-report.js';

describe('summariseShadow', () => {
  it('summarises count, largest overshoot and last time per symbol, plus totals', () => {
    const r = summariseShadow(
      [
        { symbol: 'BTCUSDT', notional: 2000, budget: 1500, time: 100 },
        { symbol: 'BTCUSDT', notional: 1800, budget: 1000, time: 90 },
        { symbol: 'ETHUSDT', budget: 700, time: 95 },
        { symbol: 'BTCUSDT', notional: 1000, budget: 1500, time: 80 },
      ],
      50,
    );
    expect(r).toEqual({
      since: 50,
      totals: { count: 4, symbols: 2, max_over_budget: 800 },
      symbols: {
        BTCUSDT: { count: 3, max_over_budget: 800, last_seen: 100 },
        ETHUSDT: { count: 1, max_over_budget: null, last_seen: 95 },
      },
      truncated: false,
    });
  });

  it('reports an empty window with zero counts and nulls, never NaN', () => {
    const r = summariseShadow([], 10);
    expect(r.totals).toEqual({ count: 0, symbols: 0, max_over_budget: null });
    expect(JSON.stringify(r)).not.toMatch(/NaN/);
  });
});
