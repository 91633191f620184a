import { describe, expect, it } from 'vitest';
import { PositionReader } from './position.reader.js';

// position_amt, side, mark_price, current_price, entry_price (quantity and qty absent)
const parse = (
  amt: string | null,
  side: string | null,
  mark: string | null,
  cur: string | null,
  entry: string | null,
) => PositionReader.parse('BTCUSDT', 'k', [amt, null, null, side, mark, cur, entry]);
// in POSITION_FIELDS order: position_amt, quantity, qty, side, mark_price, current_price, entry_price
const parseAll = (...f: Array<string | null>) => PositionReader.parse('BTCUSDT', 'k', f);

describe('PositionReader.parse (docs/contract.md §1 Inputs positions)', () => {
  it('notional = |amount| × mark_price', () => {
    expect(parse('-0.5', 'SHORT', '60000', '1', '1')).toMatchObject({
      kind: 'active',
      position: { notional: 30000, price: 60000, amount: -0.5 },
    });
  });

  it('falls back to current_price, then entry_price, skipping missing or bad prices', () => {
    expect(parse('2', 'LONG', null, '10', '1')).toMatchObject({ position: { price: 10 } });
    expect(parse('2', 'LONG', 'NaN', '', '7')).toMatchObject({ position: { price: 7, notional: 14 } });
  });

  it('zero amount or side FLAT is not active', () => {
    expect(parse('0', 'LONG', '10', null, null)).toEqual({ kind: 'inactive', price: 10 });
    expect(parse('3', 'flat', '10', null, null)).toEqual({ kind: 'inactive', price: 10 });
  });

  it('a key that vanished between SCAN and read is gone, not garbage', () => {
    expect(parse(null, null, null, null, null)).toEqual({ kind: 'gone' });
  });

  it('an entry position (quantity or qty, side, entry_price) is active, signed by side', () => {
    expect(parseAll(null, '2', null, 'BUY', null, null, '3000')).toMatchObject({
      kind: 'active',
      position: { amount: 2, price: 3000, notional: 6000 },
    });
    expect(parseAll(null, null, '3', 'SHORT', null, null, '10')).toMatchObject({
      kind: 'active',
      position: { amount: -3, notional: 30 },
    });
  });

  it('garbage amount or no usable price is garbage', () => {
    expect(parse('abc', 'LONG', '10', null, null)).toMatchObject({ kind: 'garbage' });
    expect(parse('1', 'LONG', 'NaN', null, null)).toMatchObject({ kind: 'garbage' });
    expect(parse('1', 'LONG', '-5', '0', null)).toMatchObject({ kind: 'garbage' });
    expect(parse(null, 'LONG', '10', null, null)).toMatchObject({ kind: 'garbage' });
  });
});
