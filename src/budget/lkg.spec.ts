import { describe, expect, it } from 'vitest';
import { decidePortfolio, LkgCache, type PortfolioState } from './lkg.js';

const LIMITS = { staleSec: 30, maxLkgAgeSec: 900 };
const NOW = 1_700_000_000;
const at = (ageSec: number, equityUsd = 100000): PortfolioState => ({ equityUsd, timestamp: NOW - ageSec });

describe('decidePortfolio (docs/contract.md §2 Budget engine last-known-good)', () => {
  it('uses a state younger than STALE_SEC as fresh', () => {
    expect(decidePortfolio(at(29), undefined, NOW, LIMITS)).toMatchObject({ outcome: 'fresh', ageSec: 29 });
  });

  it('a state stamped more than a minute in the future is refused: it would never age', () => {
    expect(decidePortfolio(at(-60), undefined, NOW, LIMITS).outcome).toBe('fresh'); // clock skew within a minute
    expect(decidePortfolio(at(-61), undefined, NOW, LIMITS).outcome).toBe('missing');
    // with a cache, the cache is used instead of the future-stamped state
    expect(decidePortfolio(at(-1e9), at(100), NOW, LIMITS)).toMatchObject({ outcome: 'lkg', ageSec: 100 });
  });

  it('a state exactly STALE_SEC old is no longer fresh', () => {
    expect(decidePortfolio(at(30), undefined, NOW, LIMITS).outcome).toBe('lkg');
  });

  it('falls back to the cached state when the state is missing, while the cache is younger than MAX_LKG_AGE_SEC', () => {
    const cached = at(300, 90000);
    expect(decidePortfolio(undefined, cached, NOW, LIMITS)).toEqual({
      outcome: 'lkg',
      state: cached,
      ageSec: 300,
    });
  });

  it("cache age is the age of the cached state's own timestamp: 899 s usable, 900 s too old", () => {
    expect(decidePortfolio(undefined, at(899), NOW, LIMITS).outcome).toBe('lkg');
    expect(decidePortfolio(undefined, at(900), NOW, LIMITS)).toEqual({ outcome: 'too_old', ageSec: 900 });
  });

  it('an old state in Redis with no cache is itself the last known good (a replica that just started)', () => {
    const old = at(300);
    expect(decidePortfolio(old, undefined, NOW, LIMITS)).toEqual({ outcome: 'lkg', state: old, ageSec: 300 });
    expect(decidePortfolio(at(16 * 60), undefined, NOW, LIMITS).outcome).toBe('too_old');
  });

  it('between a stale state read and the cache, the newer wins', () => {
    const read = at(100, 1);
    const cached = at(200, 2);
    expect(decidePortfolio(read, cached, NOW, LIMITS)).toMatchObject({ outcome: 'lkg', state: read });
    expect(decidePortfolio(at(400, 1), cached, NOW, LIMITS)).toMatchObject({ outcome: 'lkg', state: cached });
  });

  it('no state and no cache is missing', () => {
    expect(decidePortfolio(undefined, undefined, NOW, LIMITS)).toEqual({ outcome: 'missing' });
  });

  it('a state stamped slightly in the future (clock skew) counts as age 0', () => {
    expect(decidePortfolio(at(-5), undefined, NOW, LIMITS)).toMatchObject({ outcome: 'fresh', ageSec: 0 });
  });
});

describe('LkgCache', () => {
  it('caches a fresh state and serves it once the state disappears, until it is MAX_LKG_AGE_SEC old', () => {
    const cache = new LkgCache(LIMITS);
    const s = at(0);
    expect(cache.resolve(s, NOW).outcome).toBe('fresh');
    expect(cache.resolve(undefined, NOW + 300)).toEqual({ outcome: 'lkg', state: s, ageSec: 300 });
    expect(cache.resolve(undefined, NOW + 899).outcome).toBe('lkg');
    expect(cache.resolve(undefined, NOW + 900)).toEqual({ outcome: 'too_old', ageSec: 900 });
  });

  it('re-serving the cache does not make it younger', () => {
    const cache = new LkgCache(LIMITS);
    cache.resolve(at(0), NOW);
    for (let t = 60; t < 900; t += 60) cache.resolve(undefined, NOW + t);
    expect(cache.resolve(undefined, NOW + 900).outcome).toBe('too_old');
  });

  it('a newer state replaces the cache', () => {
    const cache = new LkgCache(LIMITS);
    cache.resolve(at(0, 1), NOW);
    const newer = { equityUsd: 2, timestamp: NOW + 100 };
    cache.resolve(newer, NOW + 110);
    expect(cache.current).toEqual(newer);
    expect(cache.resolve(undefined, NOW + 950)).toMatchObject({ outcome: 'lkg', state: newer });
  });
});
