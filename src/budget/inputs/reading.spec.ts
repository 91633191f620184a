import { describe, expect, it } from 'vitest';
import { StaleInputs } from './reading.js';
import { parseNumber } from '../../core/numbers.js';

describe('parseNumber', () => {
  it.each([
    [null, 'any', { ok: false, why: 'missing' }],
    [undefined, 'any', { ok: false, why: 'missing' }],
    ['', 'any', { ok: false, why: 'missing' }],
    ['  ', 'any', { ok: false, why: 'missing' }],
    ['abc', 'any', { ok: false, why: 'garbage' }],
    ['NaN', 'any', { ok: false, why: 'garbage' }],
    ['Infinity', 'any', { ok: false, why: 'garbage' }],
    ['-1', 'nonNegative', { ok: false, why: 'garbage' }],
    ['0', 'positive', { ok: false, why: 'garbage' }],
    ['0', 'nonNegative', { ok: true, n: 0 }],
    [' 12.5 ', 'positive', { ok: true, n: 12.5 }],
    ['-3', 'any', { ok: true, n: -3 }],
    ['1e3', 'positive', { ok: true, n: 1000 }],
  ] as const)('%j (%s) → %j', (raw, rule, expected) => {
    expect(parseNumber(raw, rule)).toEqual(expected);
  });
});

describe('StaleInputs', () => {
  it('counts every item but keeps only a few samples per input type', () => {
    const s = new StaleInputs();
    for (let i = 0; i < 12; i++) s.add('vol', `S${i}`);
    s.add('heat', 'timeout');
    expect(s.toJSON()).toEqual({
      vol: { count: 12, samples: ['S0', 'S1', 'S2', 'S3', 'S4'] },
      heat: { count: 1, samples: ['timeout'] },
    });
  });
});
