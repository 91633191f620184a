import { describe, expect, it } from 'vitest';
import { KnownSymbols } from './known-symbols.js';
import { LoopHeartbeat } from './loop-heartbeat.js';

describe('LoopHeartbeat: ran vs enforced (CONTRACT.md §5)', () => {
  it('a loop that runs without a successful write is fresh but not enforcing', () => {
    const hb = new LoopHeartbeat();
    hb.register(10_000);
    hb.beat(1_000_000);
    expect(hb.isFresh(1_000_000)).toBe(true);
    expect(hb.isEnforcing(1_000_000)).toBe(false);
    hb.success(1_000_000);
    expect(hb.isEnforcing(1_030_000)).toBe(true);
    expect(hb.isEnforcing(1_030_001)).toBe(false);
    expect(hb.successAgeMs(1_030_001)).toBe(30_001);
  });

  it("the success time never moves backwards (a follower may read an older leader's write)", () => {
    const hb = new LoopHeartbeat();
    hb.success(2000);
    hb.success(1000);
    expect(hb.lastSuccessMs).toBe(2000);
  });
});

describe('KnownSymbols', () => {
  it('labels only known symbols, answers the ones that left, and is not fooled by prototype names', () => {
    const known = new KnownSymbols();
    expect(known.replace(['BTCUSDT', 'ETHUSDT'])).toEqual([]);
    expect(known.label('BTCUSDT')).toBe('BTCUSDT');
    for (const s of ['SOLUSDT', 'constructor', '__proto__', 'toString'])
      expect(known.label(s)).toBe('_other');
    expect(known.replace(['ETHUSDT'])).toEqual(['BTCUSDT']);
    expect(known.has('BTCUSDT')).toBe(false);
  });
});
