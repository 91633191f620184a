import { describe, expect, it } from 'vitest';
import { streamField, streamFieldMap, streamPairs, streamRecord } from './stream-fields.js';

describe('stream-field codec', () => {
  it('pairs fields with values and drops a trailing field without one', () => {
    expect(streamPairs(['a', '1', 'b', '2', 'c'])).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(streamField(['a', '1', 'b', '2'], 'b')).toBe('2');
    expect(streamField(['a', '1', 'b'], 'b')).toBeUndefined();
  });

  it('keeps fields named after Object.prototype members as plain data', () => {
    const flat = ['__proto__', 'x', 'constructor', 'y', 'toString', 'z', 'plan_id', 'p1'];
    const rec = streamRecord(flat);
    expect(Object.getPrototypeOf(rec)).toBeNull();
    expect(rec['__proto__']).toBe('x');
    expect(rec.constructor).toBe('y');
    expect(rec.toString).toBe('z');
    expect(rec.plan_id).toBe('p1');
    expect(streamFieldMap(flat).get('__proto__')).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
