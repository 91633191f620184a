import { describe, expect, it } from 'vitest';
import { AppConfig } from '../config/index.js';
import { BudgetRepository, NonFiniteValueError, parseBudgetHash, toFields } from './budget.repository.js';

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
