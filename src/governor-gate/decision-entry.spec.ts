import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECISION_FIELDS, decisionLine, decisionPrefilter, parseDecision } from './decision-entry.js';
import type { GateDecision, GateSnapshot, PlanInput } from './gate.types.js';

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

describe('decisionLine', () => {
  // any character an id or a symbol could bring: quotes, backslashes, newlines, separators, non-BMP
  const text = fc.string({
    unit: fc.constantFrom('a', '"', '\\', '\n', '\r', '\u0000', '\u2028', 'é', '😀', ',', ']'),
    maxLength: 8,
  });
  const number = fc.oneof(fc.double(), fc.integer(), fc.constant(Number.NaN), fc.constant(undefined));
  const redisValue = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    text,
    fc.double({ noNaN: true }).map(String),
    fc.constant(' 12\n'),
  );

  it('is the JSON of 21 strings in §7 order, on one line, whatever the inputs (property)', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.constantFrom(undefined, 'BUY', 'SELL'),
        number,
        number,
        fc.constantFrom(undefined, true, false),
        fc.boolean(),
        fc.option(
          fc.record({
            budgetUsd: redisValue,
            budgetTimestamp: redisValue,
            violationTimestamp: redisValue,
            budgetEquity: redisValue,
            budgetHeat: redisValue,
            budgetCluster: redisValue,
            budgetVol: redisValue,
            budgetPolicyVersion: redisValue,
          }),
          { nil: undefined },
        ),
        (planId, symbol, side, qty, projected, reduceOnly, block, inputs) => {
          const plan: PlanInput = { plan_id: planId, symbol, side, qty, projected_notional: projected };
          if (reduceOnly !== undefined) plan.reduce_only = reduceOnly;
          const d: GateDecision = block
            ? { decision: 'BLOCK', reason: 'p28_budget_violation', mode: 'enforce', enforced: true }
            : {
                decision: 'ALLOW',
                reason: 'no_budget',
                mode: 'shadow',
                enforced: false,
                fail_open: 'no_budget',
              };
          const snapshot =
            inputs && ({ ...inputs, position: null, legacyPosition: null } as unknown as GateSnapshot);
          const line = decisionLine(plan, d, snapshot, 1_764_000_000_123, {
            amount: -0.5,
            price: Number.NaN,
          });
          expect(line).not.toContain('\n');
          const values = JSON.parse(line) as unknown[];
          expect(values).toHaveLength(DECISION_FIELDS.length);
          expect(values.every((v) => typeof v === 'string')).toBe(true);
          // the same text JSON.stringify gives for those values
          expect(JSON.stringify(values)).toBe(line);
          const got = parseDecision(['d', line]);
          expect(got.plan_id).toBe(planId === '' ? null : planId);
          expect(got.symbol).toBe(symbol === '' ? null : symbol);
          expect(got.side).toBe(side ?? null);
          // String(n): -0 is logged as 0
          expect(got.qty).toBe(qty !== undefined && Number.isFinite(qty) ? Number(String(qty)) : null);
          expect(got.reduce_only).toBe(reduceOnly ?? null);
          expect(got.decision).toBe(d.decision);
          expect(got.reason).toBe(d.reason);
          expect(got.enforced).toBe(d.enforced);
          expect(got.position_amt).toBe(-0.5);
          expect(got.price).toBeNull();
          expect(got.timestamp_ms).toBe(1_764_000_000_123);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
