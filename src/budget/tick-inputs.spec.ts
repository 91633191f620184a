import { describe, expect, it } from 'vitest';
import type { Position } from './inputs/position.reader.js';
import { StaleInputs } from './inputs/reading.js';
import type { Universe } from './inputs/universe.reader.js';
import type { MarketView } from './inputs/volatility.reader.js';
import { activeTargets, candidatesOf } from './tick-inputs.js';

const position = (symbol: string, notional: number, price: number): Position => ({
  symbol,
  amount: 1,
  side: 'LONG',
  price,
  notional,
  key: `k:${symbol}`,
});

const universe = (configured: string[], market: string[]): Universe => ({
  configured: new Set(configured),
  market: new Set(market),
});

describe('candidatesOf', () => {
  it('joins the position symbols, BUDGET_UNIVERSE and the market-state symbols, once each', () => {
    const bySymbol = new Map([
      ['BTCUSDT', ['a']],
      ['ETHUSDT', ['b', 'c']],
    ]);
    const c = candidatesOf(bySymbol, universe(['ETHUSDT', 'SOLUSDT'], ['XRPUSDT', 'BTCUSDT']));
    expect([...c].sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT']);
  });
});

describe('activeTargets (docs/contract.md §2 budgeted symbols)', () => {
  const read = (
    positions: Record<string, Position | 'flat' | 'garbage'>,
    markets: Record<string, MarketView>,
    u: Universe,
    flatPrices = new Map<string, number>(),
  ) => ({
    positionOf: (s: string) => positions[s] ?? 'flat',
    market: (s: string) => markets[s] ?? { age: 'none' as const },
    universe: u,
    flatPrices,
  });

  it('takes every active position as is, sorted by symbol', () => {
    const btc = position('BTCUSDT', 500, 50_000);
    const eth = position('ETHUSDT', 30, 3000);
    const stale = new StaleInputs();
    const active = activeTargets(
      ['ETHUSDT', 'BTCUSDT'],
      read({ BTCUSDT: btc, ETHUSDT: eth }, {}, universe([], [])),
      stale,
    );
    expect(active).toEqual([btc, eth]);
    expect(stale.empty).toBe(true);
  });

  it('leaves out garbage positions and flat symbols outside the universe', () => {
    const active = activeTargets(
      ['BADUSDT', 'FLATUSDT'],
      read({ BADUSDT: 'garbage' }, {}, universe([], [])),
      new StaleInputs(),
    );
    expect(active).toEqual([]);
  });

  it('budgets a flat symbol of the universe at notional 0: its flat key price first, else a live market price', () => {
    const markets: Record<string, MarketView> = {
      AUSDT: { age: 'fresh', price: 2 },
      BUSDT: { age: 'fresh', price: 3 },
      CUSDT: { age: 'absent', price: 4 },
      DUSDT: { age: 'stale', price: 5 },
    };
    const stale = new StaleInputs();
    const active = activeTargets(
      ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT', 'EUSDT'],
      read({}, markets, universe(['DUSDT', 'EUSDT'], ['AUSDT', 'BUSDT', 'CUSDT']), new Map([['AUSDT', 1]])),
      stale,
    );
    expect(active).toEqual([
      { symbol: 'AUSDT', notional: 0, price: 1 },
      { symbol: 'BUSDT', notional: 0, price: 3 },
      { symbol: 'CUSDT', notional: 0, price: 4 },
      { symbol: 'DUSDT', notional: 0, price: undefined },
      { symbol: 'EUSDT', notional: 0, price: undefined },
    ]);
    // a market state without ts_timestamp is taken, and counted
    expect(stale.toJSON().vol?.count).toBe(1);
  });

  it('leaves out a market-only symbol whose market state is not live, counting it', () => {
    const stale = new StaleInputs();
    const active = activeTargets(
      ['OLDUSDT', 'GONEUSDT'],
      read({}, { OLDUSDT: { age: 'stale', price: 9 } }, universe([], ['OLDUSDT', 'GONEUSDT'])),
      stale,
    );
    expect(active).toEqual([]);
    expect(stale.toJSON().vol).toEqual({
      count: 1,
      samples: ['OLDUSDT: market state stale, not in the universe'],
    });
  });
});
