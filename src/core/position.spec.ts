import { describe, expect, it } from 'vitest';
import { parsePosition, positionHashFromList, POSITION_FIELDS } from './position.js';

describe('parsePosition (docs/contract.md §1 Inputs)', () => {
  it('takes position_amt as signed and mark_price first', () => {
    expect(parsePosition({ position_amt: '-2', mark_price: '100', entry_price: '90' })).toEqual({
      kind: 'active',
      amount: -2,
      side: '',
      price: 100,
    });
  });

  it('falls back to quantity then qty, signed by side, priced by entry_price (the apply layer at entry)', () => {
    expect(parsePosition({ quantity: '3', side: 'SELL', entry_price: '10' })).toMatchObject({
      kind: 'active',
      amount: -3,
      price: 10,
    });
    expect(parsePosition({ qty: ' 4 ', side: 'long', entry_price: '10' })).toMatchObject({
      kind: 'active',
      amount: 4,
    });
  });

  it('FLAT, zero and whitespace-padded values are read the same way everywhere', () => {
    expect(parsePosition({ position_amt: '5', side: ' flat ' }).kind).toBe('inactive');
    expect(parsePosition({ position_amt: ' 0 ', mark_price: '1' }).kind).toBe('inactive');
    expect(parsePosition({ position_amt: '  ', quantity: '2', mark_price: '1' })).toMatchObject({
      amount: 2,
    });
  });

  it('garbage and vanished keys are told apart', () => {
    expect(parsePosition({ position_amt: 'abc', mark_price: '1' }).kind).toBe('garbage');
    expect(parsePosition({ side: 'LONG', mark_price: '1' }).kind).toBe('garbage');
    expect(parsePosition(positionHashFromList(POSITION_FIELDS.map(() => null))).kind).toBe('gone');
    expect(parsePosition(null).kind).toBe('gone');
  });

  it('an active position without a usable price has price undefined', () => {
    expect(parsePosition({ position_amt: '1', mark_price: '-5', current_price: 'x' })).toEqual({
      kind: 'active',
      amount: 1,
      side: '',
      price: undefined,
    });
  });
});
