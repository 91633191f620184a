import { describe, expect, it } from 'vitest';
import { effectiveMode, globalModeAt, isExpired } from './mode.js';

describe('effectiveMode (docs/contract.md §4 Modes and the audit trail)', () => {
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

describe('modes and expiry with reduce_only (docs/contract.md §4 Modes and the audit trail)', () => {
  it('one vocabulary: shadow, enforce, reduce_only', async () => {
    const { MODES, isMode } = await import('./mode.js');
    expect([...MODES]).toEqual(['shadow', 'enforce', 'reduce_only']);
    expect(isMode('reduce_only')).toBe(true);
    for (const bad of ['constructor', '__proto__', 'toString', '', 'REDUCE_ONLY', null, 1]) {
      expect(isMode(bad)).toBe(false);
    }
  });

  it('an expiring reduce_only reverts to the mode it replaced', () => {
    const s = { mode: 'reduce_only', expires_at: 100, revert_to: 'enforce', overrides: new Map() };
    expect(effectiveMode(s, 'ETHUSDT', 99)).toBe('reduce_only');
    expect(isExpired(s, 100)).toBe(true);
    expect(effectiveMode(s, 'ETHUSDT', 100)).toBe('enforce');
  });

  it('an enforce set on top of reduce_only with an expiry returns to reduce_only', () => {
    const s = { mode: 'enforce', expires_at: 100, revert_to: 'reduce_only', overrides: new Map() };
    expect(globalModeAt(s, 100)).toBe('reduce_only');
  });
});
