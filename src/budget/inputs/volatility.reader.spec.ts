import { describe, expect, it } from 'vitest';
import { StaleInputs } from './reading.js';
import { VolatilityReader, volFromRegime, volFromSigma } from './volatility.reader.js';

describe('volatility rules (docs/contract.md §1 Inputs)', () => {
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

  const NOW = 1_900_000_000;
  const ages = { nowSec: NOW, maxAgeSec: 300 };
  const resolve = (
    sigma: string | null,
    ts: string | null,
    regime: string | null,
    legacySigma: string | null,
    stale: StaleInputs,
  ) =>
    VolatilityReader.resolve(
      'X',
      { sigma, ts_timestamp: ts },
      { vol_regime: regime, sigma: legacySigma },
      stale,
      ages,
    );

  it('the live sigma first, even over a legacy regime; the legacy key only when the live one is absent', () => {
    const stale = new StaleInputs();
    expect(resolve('0.04', String(NOW - 10), 'LOW', '0.001', stale)).toMatchObject({
      value: 1,
      source: 'sigma',
    });
    expect(resolve('0.025', null, 'EXTREME', null, stale)).toMatchObject({ value: 0.67, source: 'sigma' });
    expect(resolve(null, null, 'HIGH_VOL', '0.001', stale)).toMatchObject({
      value: 0.67,
      source: 'vol_regime',
    });
    expect(resolve(null, null, null, '0.025', stale)).toMatchObject({ value: 0.67, source: 'legacy_sigma' });
    expect(stale.empty).toBe(true);
    expect(resolve(null, null, null, null, stale)).toEqual({ value: 0.33, status: 'missing' });
    expect(stale.counts.get('vol')).toBe(1);
  });

  it('a live state older than INPUT_MAX_AGE_SEC (s or ms) is stale: counted once, the legacy key answers', () => {
    const stale = new StaleInputs();
    expect(resolve('0.04', String(NOW - 301), 'LOW', null, stale)).toMatchObject({
      value: 0,
      source: 'vol_regime',
    });
    expect(resolve('0.04', String((NOW - 600) * 1000), null, null, stale)).toEqual({
      value: 0.33,
      status: 'garbage',
    });
    expect(resolve('0.04', String(NOW - 299), null, null, stale)).toMatchObject({
      value: 1,
      status: 'fresh',
    });
    expect(stale.counts.get('vol')).toBe(2);
  });

  it('a timestamp in the future or unreadable is not trusted', () => {
    const stale = new StaleInputs();
    expect(resolve('0.04', String(NOW + 3600), null, '0.001', stale)).toMatchObject({ value: 0 });
    expect(resolve('0.04', 'yesterday', null, '0.001', stale)).toMatchObject({ value: 0 });
    expect(stale.counts.get('vol')).toBe(2);
  });

  it('garbage sigma (-1, abc) is counted and skipped for the next source', () => {
    const stale = new StaleInputs();
    expect(resolve('-1', null, null, '0.01', stale)).toMatchObject({ value: 0.33, source: 'legacy_sigma' });
    expect(resolve('abc', null, null, null, stale)).toEqual({ value: 0.33, status: 'garbage' });
    expect(stale.counts.get('vol')).toBe(2);
  });

  it('a regime naming no level (NORMAL) with no sigma is normal, not missing', () => {
    const stale = new StaleInputs();
    expect(resolve(null, null, 'NORMAL', null, stale)).toMatchObject({ value: 0.33, status: 'fresh' });
    expect(stale.empty).toBe(true);
  });
});
