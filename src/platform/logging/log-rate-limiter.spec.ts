import { describe, expect, it } from 'vitest';
import { LogRateLimiter } from './log-rate-limiter.js';

describe('LogRateLimiter', () => {
  it('lets one line per key per interval through and reports how many were held back', () => {
    let now = 0;
    const limiter = new LogRateLimiter(10_000, () => now);
    expect(limiter.take('timeout')).toBe(0);
    expect(limiter.take('timeout')).toBeUndefined();
    expect(limiter.take('timeout')).toBeUndefined();
    // another key is independent
    expect(limiter.take('no_budget')).toBe(0);
    now = 9_999;
    expect(limiter.take('timeout')).toBeUndefined();
    now = 10_000;
    expect(limiter.take('timeout')).toBe(3);
    expect(limiter.take('timeout')).toBeUndefined();
    now = 20_000;
    expect(limiter.take('timeout')).toBe(1);
  });

  it('reports every held-back line to onSuppressed, by key', () => {
    let now = 0;
    const held: string[] = [];
    const limiter = new LogRateLimiter(
      1000,
      () => now,
      (k) => held.push(k),
    );
    limiter.take('a');
    limiter.take('a');
    limiter.take('b');
    limiter.take('a');
    now = 1000;
    limiter.take('a');
    expect(held).toEqual(['a', 'a']);
  });
});
