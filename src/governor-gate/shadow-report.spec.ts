import { describe, expect, it } from 'vitest';
import { summariseShadow } from './shadow-report.js';

describe('summariseShadow', () => {
  it('summarises count, largest overshoot and last time per symbol, plus totals', () => {
    const r = summariseShadow(
      [
        { symbol: 'BTCUSDT', plan_id: 'a', notional: 2000, budget: 1500, time: 100 },
        { symbol: 'BTCUSDT', plan_id: 'b', notional: 1800, budget: 1000, time: 90 },
        { symbol: 'ETHUSDT', plan_id: 'c', budget: 700, time: 95 },
        { symbol: 'BTCUSDT', plan_id: 'd', notional: 1000, budget: 1500, time: 80 },
      ],
      50,
      110,
    );
    expect({ ...r, symbols: { ...r.symbols } }).toEqual({
      since: 50,
      totals: { count: 4, records: 4, symbols: 2, max_over_budget: 800 },
      symbols: {
        BTCUSDT: { count: 3, records: 3, max_over_budget: 800, last_seen: 100 },
        ETHUSDT: { count: 1, records: 1, max_over_budget: null, last_seen: 95 },
      },
      oldest_age_sec: 30,
      truncated: false,
    });
  });

  it('reports an empty window with zero counts and nulls, never NaN', () => {
    const r = summariseShadow([], 10, 20);
    expect(r.totals).toEqual({ count: 0, records: 0, symbols: 0, max_over_budget: null });
    expect(r.oldest_age_sec).toBeNull();
    expect(JSON.stringify(r)).not.toMatch(/NaN/);
  });

  it('counts a plan id once however often it was recorded, and ignores values beyond any real plan', () => {
    const same = Array.from({ length: 10_000 }, () => ({
      symbol: 'BTCUSDT',
      plan_id: 'p1',
      notional: 2000,
      budget: 1500,
      time: 100,
    }));
    const forged = { symbol: 'BTCUSDT', plan_id: 'p2', notional: 1.7e308, budget: 1, time: 100 };
    const r = summariseShadow([...same, forged], 0, 100);
    expect(r.totals).toEqual({ count: 2, records: 10_001, symbols: 1, max_over_budget: 500 });
    expect(r.symbols.BTCUSDT.count).toBe(2);
  });

  it('takes any symbol name as a key, prototype names included', () => {
    const r = summariseShadow(
      ['__proto__', 'constructor', 'toString'].map((symbol) => ({ symbol, plan_id: 'x', time: 1 })),
      0,
      1,
    );
    expect(Object.keys(r.symbols)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(r.totals.symbols).toBe(3);
    expect(JSON.parse(JSON.stringify(r)).symbols.__proto__).toMatchObject({ count: 1 });
  });
});
