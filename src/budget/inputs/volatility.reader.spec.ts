import { describe, expect, it } from 'vitest';
import { StaleInputs } from './reading.js';
import { VolatilityReader, volFromRegime, volFromSigma } from './volatility.reader.js';

describe('volatility rules (CONTRACT.md §1)', () => {
  it('maps vol_regime text containing EXTREME / HIGH / LOW', () => {
    expect(volFromRegime('EXTREME_VOL')).toBe(1);
    expect(volFromRegime('high')).toBe(0.67);
    expect(volFromRegime('LOW_VOL')).toBe(0);
    expect(volFromRegime('NORMAL')).toBeUndefined();
    expect(volFromRegime(null)).toBeUndefined();
  });

  it('maps sigma at its thresholds', () => {
    expect(volFromSigma(0.031)).toBe(1);
    expect(volFromSigma(0.03)).toBe(0.67);
    expect(volFromSigma(0.021)).toBe(0.67);
    expect(volFromSigma(0.02)).toBe(0.33);
    expect(volFromSigma(0.005)).toBe(0.33);
    expect(volFromSigma(0.0049)).toBe(0);
    expect(volFromSigma(0)).toBe(0);
  });

  it('prefers vol_regime, then marketstate sigma, then legacy sigma, then 0.33 counted stale', () => {
    const stale = new StaleInputs();
    expect(VolatilityReader.resolve('A', '0.04', 'LOW', '0.001', stale)).toMatchObject({
      value: 0,
      source: 'vol_regime',
    });
    expect(VolatilityReader.resolve('B', '0.04', null, '0.001', stale)).toMatchObject({
      value: 1,
      source: 'sigma',
    });
    expect(VolatilityReader.resolve('C', null, null, '0.025', stale)).toMatchObject({
      value: 0.67,
      source: 'legacy_sigma',
    });
    expect(stale.empty).toBe(true);
    expect(VolatilityReader.resolve('D', null, null, null, stale)).toEqual({
      value: 0.33,
      status: 'missing',
    });
    expect(stale.toJSON()).toEqual({ vol: { count: 1, samples: ['D'] } });
  });

  it('garbage sigma (-1, abc) is counted and skipped for the next source', () => {
    const stale = new StaleInputs();
    expect(VolatilityReader.resolve('A', '-1', null, '0.01', stale)).toMatchObject({
      value: 0.33,
      source: 'legacy_sigma',
    });
    expect(VolatilityReader.resolve('B', 'abc', null, null, stale)).toEqual({
      value: 0.33,
      status: 'garbage',
    });
    expect(stale.counts.get('vol')).toBe(2);
  });

  it('a regime naming no level (NORMAL) with no sigma is normal, not missing', () => {
    const stale = new StaleInputs();
    expect(VolatilityReader.resolve('A', null, 'NORMAL', null, stale)).toMatchObject({
      value: 0.33,
      status: 'fresh',
    });
    expect(stale.empty).toBe(true);
  });
});
