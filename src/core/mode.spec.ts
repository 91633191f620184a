import { describe, expect, it } from 'vitest';
import { effectiveMode, globalModeAt, isExpired } from './mode.js';

describe('effectiveMode (CONTRACT §4)', () => {
  const state = (over: Partial<{ mode: string; expires_at: number }> = {}) => ({
    mode: 'enforce',
    overrides: new Map([
      ['BTCUSDT', 'shadow'],
      ['constructor', 'enforce'],
    ]),
    ...over,
  });

  it('an override wins over the global mode, expired or not', () => {
    expect(effectiveMode(state(), 'BTCUSDT', 0)).toBe('shadow');
    expect(effectiveMode(state({ expires_at: 10 }), 'constructor', 100)).toBe('enforce');
  });

  it('an enforce reads as shadow from its expires_at on, not a second earlier', () => {
    const s = state({ expires_at: 100 });
    expect(effectiveMode(s, 'ETHUSDT', 99)).toBe('enforce');
    expect(effectiveMode(s, 'ETHUSDT', 100)).toBe('shadow');
    expect(isExpired(s, 100)).toBe(true);
    expect(globalModeAt({ mode: 'shadow', expires_at: 1 }, 100)).toBe('shadow');
  });

  it('names of Object.prototype members are just symbols', () => {
    const s = state({ mode: 'shadow' });
    for (const sym of ['toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(effectiveMode(s, sym, 0)).toBe('shadow');
    }
  });
});
