import { describe, expect, it } from 'vitest';
import { ReadBreaker } from './read-breaker.js';

describe('ReadBreaker', () => {
  it('stays closed below the threshold and any success resets the count', () => {
    const b = new ReadBreaker(3, 250);
    expect(b.failure(0, 'timeout')).toBe(false);
    expect(b.failure(1, 'timeout')).toBe(false);
    expect(b.shouldSkip(2)).toBe(false);
    b.success();
    expect(b.failure(3, 'timeout')).toBe(false);
    expect(b.failure(4, 'timeout')).toBe(false);
    expect(b.isOpen).toBe(false);
  });

  it('opens on the threshold-th consecutive failure and skips reads until openMs has passed', () => {
    const b = new ReadBreaker(3, 250);
    b.failure(0, 'timeout');
    b.failure(0, 'timeout');
    expect(b.failure(10, 'timeout')).toBe(true);
    expect(b.lastReason).toBe('timeout');
    expect(b.shouldSkip(11)).toBe(true);
    expect(b.shouldSkip(259)).toBe(true);
  });

  it('lets exactly one probe through when half-open; a failed probe re-opens, a good one closes', () => {
    const b = new ReadBreaker(3, 250);
    for (let i = 0; i < 3; i++) b.failure(0, 'redis_unavailable');
    expect(b.shouldSkip(250)).toBe(false); // the probe
    expect(b.shouldSkip(251)).toBe(true); // others wait for the probe's outcome
    expect(b.failure(300, 'timeout')).toBe(false); // still open, re-armed
    expect(b.lastReason).toBe('timeout');
    expect(b.shouldSkip(549)).toBe(true);
    expect(b.shouldSkip(550)).toBe(false); // next probe
    expect(b.success()).toBe(true);
    expect(b.isOpen).toBe(false);
    expect(b.shouldSkip(551)).toBe(false);
  });
});
