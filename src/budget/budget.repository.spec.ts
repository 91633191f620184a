import { describe, expect, it } from 'vitest';
import { AppConfig } from '../platform/config/index.js';
import {
  BUDGET_FIELDS,
  budgetValues,
  BudgetRepository,
  NonFiniteValueError,
  parseBudgetHash,
  toFields,
  type BudgetRecord,
} from './budget.repository.js';

describe('budget serialisation', () => {
  it('rounds money to cents and ratios to 6 decimals', () => {
    expect(
      toFields({ symbol: 'X', budget_usd: 1668.0000000000002, stress_factor: 0.16600000000000004 }),
    ).toEqual(['symbol', 'X', 'budget_usd', '1668', 'stress_factor', '0.166']);
  });

  it('refuses to serialise NaN or Infinity', () => {
    expect(() => toFields({ budget_usd: NaN })).toThrow(NonFiniteValueError);
    expect(() => toFields({ utilization: Infinity })).toThrow(NonFiniteValueError);
  });

  const record: BudgetRecord = {
    symbol: 'BTCUSDT',
    budget_usd: 1668.0000000000002,
    stress_factor: 0.16600000000000004,
    equity_usd: 100000.004,
    portfolio_heat: 0.25,
    cluster_stress: 0,
    vol_regime: 0.33,
    mode: 'enforce',
    timestamp: 1700000000,
    base_risk_pct: 0.02,
    position_notional: 3000.005,
    utilization: 1.7985611510791366,
    price: 60000.5,
    policy_version: 3,
  };

  it('budgetValues serialises a budget exactly as toFields does, in BUDGET_FIELDS order', () => {
    const pairs = toFields(record);
    expect(BUDGET_FIELDS).toEqual(pairs.filter((_, i) => i % 2 === 0));
    expect(budgetValues(record)).toEqual(pairs.filter((_, i) => i % 2 === 1));
    expect(budgetValues(record).slice(0, 4)).toEqual(['BTCUSDT', '1668', '0.166', '100000']);
  });

  it('budgetValues refuses NaN or Infinity in any numeric field', () => {
    for (const field of BUDGET_FIELDS) {
      if (typeof record[field] !== 'number') continue;
      expect(() => budgetValues({ ...record, [field]: NaN })).toThrow(NonFiniteValueError);
      expect(() => budgetValues({ ...record, [field]: -Infinity })).toThrow(field);
    }
  });

  it('budgetCommands: HSET of every contract field, then EXPIRE BUDGET_HASH_TTL_SEC', () => {
    const [hset, expire] = new BudgetRepository(new AppConfig()).budgetCommands(record);
    expect(hset).toEqual(['hset', 'quantum:portfolio:budget:BTCUSDT', ...toFields(record)]);
    expect(expire).toEqual(['expire', 'quantum:portfolio:budget:BTCUSDT', 300]);
  });

  it('the violation json carries the contract shape with numbers as numbers', () => {
    const repo = new BudgetRepository(new AppConfig());
    const [xadd, hset, expire] = repo.violationCommands({
      event_type: 'budget.violation',
      symbol: 'BTCUSDT',
      position_notional: 2000,
      budget_usd: 1668,
      over_budget: 332,
      mode: 'shadow',
      timestamp: 1700000000,
    });
    expect(xadd.slice(0, 6)).toEqual(['xadd', 'quantum:stream:budget.violation', 'MAXLEN', '~', 10000, '*']);
    const json = JSON.parse(String(xadd[xadd.indexOf('json') + 1]));
    expect(json).toEqual({
      event_type: 'budget.violation',
      symbol: 'BTCUSDT',
      position_notional: 2000,
      budget_usd: 1668,
      over_budget: 332,
      mode: 'shadow',
      timestamp: 1700000000,
    });
    expect(xadd.slice(-2)).toEqual(['symbol', 'BTCUSDT']);
    expect(hset[1]).toBe('quantum:portfolio:violation:BTCUSDT');
    expect(expire).toEqual(['expire', 'quantum:portfolio:violation:BTCUSDT', 120]);
  });

  it('reads a budget hash back with numbers, dropping unparsable numeric fields', () => {
    expect(parseBudgetHash({ symbol: 'X', mode: 'shadow', budget_usd: '12.5', utilization: 'NaN' })).toEqual({
      symbol: 'X',
      mode: 'shadow',
      budget_usd: 12.5,
    });
  });
});
