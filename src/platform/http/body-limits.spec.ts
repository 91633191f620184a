import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depthExceeds, routeBodyLimit, SMALL_BODY_LIMIT_BYTES, unknownKeys } from './body-limits.js';

/** The definition, written recursively: the deepest object or array level, the top one being 0. */
function depth(v: unknown): number {
  if (v === null || typeof v !== 'object') return -1;
  const children = Object.values(v as object).map(depth);
  return 1 + Math.max(-1, ...children);
}

describe('depthExceeds', () => {
  it('counts the top-level object as level 0', () => {
    expect(depthExceeds({ a: 1 }, 1)).toBe(false);
    expect(depthExceeds({ a: {} }, 1)).toBe(true);
    expect(depthExceeds({ a: { b: [1] } }, 2)).toBe(true);
    expect(depthExceeds({ a: { b: [1] } }, 3)).toBe(false);
    expect(depthExceeds({}, 0)).toBe(true);
    expect(depthExceeds('text', 0)).toBe(false);
    expect(depthExceeds(null, 0)).toBe(false);
  });

  it('sees depth inside arrays as well as objects', () => {
    expect(depthExceeds([[[]]], 2)).toBe(true);
    expect(depthExceeds([1, 'a', null, [2]], 2)).toBe(false);
  });

  it('handles a nesting far deeper than the stack would allow recursively', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(depthExceeds(deep, 8)).toBe(true);
  });

  it('agrees with the recursive definition on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 8 }), (v, max) => {
        expect(depthExceeds(v, max)).toBe(depth(v) >= max);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('routeBodyLimit and unknownKeys', () => {
  it('gives the gate, simulate, ops and test routes the small limit, others the app-wide one', () => {
    for (const url of ['/governor/evaluate', '/budgets/simulate', '/ops/mode', '/ops/rollback', '/test/x']) {
      expect(routeBodyLimit(url), url).toBe(SMALL_BODY_LIMIT_BYTES);
    }
    expect(routeBodyLimit('/health')).toBeUndefined();
    expect(routeBodyLimit('/opsx')).toBeUndefined();
  });

  it('stops at the first unknown keys and ignores prototype names it does not own', () => {
    const known = new Set(['a']);
    expect(unknownKeys({ a: 1, b: 2, c: 3, d: 4 }, known, 2)).toEqual(['b', 'c']);
    expect(unknownKeys(JSON.parse('{"a":1,"constructor":1}') as object, known, 5)).toEqual(['constructor']);
    expect(unknownKeys({ a: 1 }, known, 5)).toEqual([]);
  });
});
