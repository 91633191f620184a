import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECISION_FIELDS, decisionPrefilter, parseDecision } from './decision-entry.js';

const entry = (planId: string, symbol: string, rest: string[]): string[] => [
  'd',
  // every entry the gate writes holds all the values
  JSON.stringify([planId, symbol, ...DECISION_FIELDS.slice(2).map((_, i) => rest[i] ?? '')]),
];

describe('decisionPrefilter', () => {
  it('never drops an entry that matches, and passes no entry whose plan id differs (property)', () => {
    // quotes, backslashes, commas, brackets and non-ASCII are what the JSON encoding must get right
    const text = fc.string({
      unit: fc.constantFrom('a', 'B', '"', '\\', ',', '[', ']', 'é', '\u2028', '1'),
      maxLength: 6,
    });
    // a query is never empty (the route refuses it)
    const query = text.filter((t) => t.length > 0);
    fc.assert(
      fc.property(
        text,
        text,
        query,
        query,
        fc.array(text, { maxLength: 25 }),
        (pid, sym, qPid, qSym, rest) => {
          const fields = entry(pid, sym, rest);
          const d = parseDecision(fields);
          const queries: Array<{ plan_id?: string; symbol?: string }> = [
            { plan_id: qPid },
            { symbol: qSym },
            { plan_id: qPid, symbol: qSym },
          ];
          if (pid && sym) queries.push({ plan_id: pid, symbol: sym }, { symbol: sym }, { plan_id: pid });
          for (const q of queries) {
            const matches =
              (q.plan_id === undefined || d.plan_id === q.plan_id) &&
              (q.symbol === undefined || d.symbol === q.symbol);
            const pre = decisionPrefilter(q)!;
            if (matches) expect(pre(fields)).toBe(true);
            if (q.plan_id !== undefined && q.plan_id !== pid) expect(pre(fields)).toBe(false);
            // a symbol that another value of the entry holds (BUY, ALLOW, 0…) does not let it through
            if (q.symbol !== undefined && q.symbol !== sym) expect(pre(fields)).toBe(false);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is undefined without a filter, and false for an entry with no values field', () => {
    expect(decisionPrefilter({})).toBeUndefined();
    expect(decisionPrefilter({ plan_id: 'p' })!(['x', '["p"]'])).toBe(false);
  });
});

describe('parseDecision', () => {
  it('gives every field of §7, in order, and nulls for an entry it cannot read', () => {
    const values = DECISION_FIELDS.map((f) => (f === 'reduce_only' || f === 'enforced' ? 'true' : '7'));
    const d = parseDecision(['d', JSON.stringify(values)]);
    expect(Object.keys(d)).toEqual([...DECISION_FIELDS]);
    expect(d.plan_id).toBe('7');
    expect(d.qty).toBe(7);
    expect(d.enforced).toBe(true);
    for (const garbage of [['d', '{oops'], ['d', '{"a":1}'], ['x', '[]'], []]) {
      const g = parseDecision(garbage);
      expect(Object.keys(g)).toEqual([...DECISION_FIELDS]);
      expect(Object.values(g).every((v) => v === null)).toBe(true);
    }
  });

  it('reads a value of the wrong type as null, not as a string or a number', () => {
    const values: unknown[] = DECISION_FIELDS.map(() => 5);
    values[1] = '';
    const d = parseDecision(['d', JSON.stringify(values)]);
    expect(d.plan_id).toBeNull();
    expect(d.symbol).toBeNull();
    expect(d.qty).toBeNull();
    expect(d.enforced).toBeNull();
  });
});
