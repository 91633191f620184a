import { describe, expect, it } from 'vitest';
import { KnownSymbols } from './known-symbols.js';
import { LoopHeartbeat } from './loop-heartbeat.js';

describe('LoopHeartbeat: ran vs enforced (docs/contract.md §5 HTTP API)', () => {
  it('a loop that runs without a successful write is fresh but not enforcing', () => {
    const hb = new LoopHeartbeat();
    hb.register(10_000);
    hb.role(true);
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
    hb.leaderSuccess(2000);
    hb.leaderSuccess(1000);
    expect(hb.lastSuccessMs).toBe(2000);
  });

  it("a leader is judged by its own writes, a follower by the leader's; a role change drops the leader's view", () => {
    const hb = new LoopHeartbeat();
    hb.register(10_000);
    hb.leaderSuccess(1_000_000);
    expect(hb.isEnforcing(1_010_000)).toBe(true);
    hb.role(true);
    expect(hb.lastSuccessMs).toBeUndefined();
    expect(hb.isEnforcing(1_010_000)).toBe(false);
    hb.success(1_020_000);
    hb.role(false);
    expect(hb.lastSuccessMs).toBeUndefined();
  });

  it('the window is the shorter of 3 intervals and the one given (the gate max age)', () => {
    const hb = new LoopHeartbeat();
    hb.register(60_000, 60_000);
    hb.role(true);
    hb.success(0);
    expect(hb.isEnforcing(60_000)).toBe(true);
    expect(hb.isEnforcing(60_001)).toBe(false);
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
