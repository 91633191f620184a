import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  REASON_BUDGET_VIOLATION,
  REASON_NO_BUDGET,
  REASON_PROJECTED_OVER_BUDGET,
  REASON_REDUCES_RISK,
  REASON_SHADOW_MODE,
  REASON_STALE_BUDGET,
  REASON_WITHIN_BUDGET,
} from '../core/reasons.js';
import { currentPosition, GateEvaluator, projectedNotional, reducesRisk } from './gate-evaluator.js';
import type { GateSnapshot, PlanInput } from './gate.types.js';
import type { PositionHash } from '../core/position.js';

const NOW = 1_700_000_000;
const gate = new GateEvaluator({ defaultMode: 'shadow', budgetMaxAgeSec: 60, violationWindowSec: 30 });
const enforceByDefault = new GateEvaluator({
  defaultMode: 'enforce',
  budgetMaxAgeSec: 60,
  violationWindowSec: 30,
});

const position = (amt: string, price = '1000', side: string | null = null): PositionHash => ({
  position_amt: amt,
  side,
  mark_price: price,
  current_price: null,
  entry_price: null,
});

/** Enforce, a fresh 1500 USD budget, no violation, no position. */
function snap(over: Partial<GateSnapshot> = {}): GateSnapshot {
  return {
    mode: 'enforce',
    modeExpiresAt: null,
    modeRevertTo: null,
    override: null,
    budgetUsd: '1500',
    budgetPrice: null,
    budgetTimestamp: String(NOW - 5),
    budgetPositionNotional: null,
    violationTimestamp: null,
    position: null,
    legacyPosition: null,
    ...over,
  };
}
const plan = (over: Partial<PlanInput> = {}): PlanInput => ({ plan_id: 'p1', symbol: 'BTCUSDT', ...over });
const violatedAgo = (sec: number) => ({ violationTimestamp: String(NOW - sec) });

describe('GateEvaluator.decide (docs/contract.md §3 Gate 0)', () => {
  it('blocks in enforce with a fresh budget and a fresh violation', () => {
    const v = gate.decide(plan(), snap(violatedAgo(5)), NOW);
    expect(v.decision).toEqual({
      decision: 'BLOCK',
      reason: REASON_BUDGET_VIOLATION,
      mode: 'enforce',
      enforced: true,
      budget_usd: 1500,
    });
    expect(v.wouldBlock).toBeUndefined();
  });

  it('lets a reduce_only plan pass in enforce despite a fresh violation', () => {
    const v = gate.decide(
      plan({ reduce_only: true }),
      snap({ ...violatedAgo(1), position: position('1') }),
      NOW,
    );
    expect(v.decision).toMatchObject({ decision: 'ALLOW', reason: REASON_REDUCES_RISK, enforced: true });
    expect(v.decision.fail_open).toBeUndefined();
  });

  it('lets a side/qty that lowers |position| pass, and blocks one that does not', () => {
    const long2 = snap({ ...violatedAgo(1), position: position('2') });
    expect(gate.decide(plan({ side: 'SELL', qty: 1 }), long2, NOW).decision.reason).toBe(REASON_REDUCES_RISK);
    // a flip that ends smaller (2 long → 1 short) still lowers |position|
    expect(gate.decide(plan({ side: 'SELL', qty: 3 }), long2, NOW).decision.reason).toBe(REASON_REDUCES_RISK);
    // 2 long → 2 short does not lower it
    expect(gate.decide(plan({ side: 'SELL', qty: 4 }), long2, NOW).decision.decision).toBe('BLOCK');
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), long2, NOW).decision.decision).toBe('BLOCK');
    // qty 0 changes nothing: not a reduction
    expect(gate.decide(plan({ side: 'SELL', qty: 0 }), long2, NOW).decision.decision).toBe('BLOCK');
    // no side: cannot tell, not a reduction
    expect(gate.decide(plan({ qty: 1 }), long2, NOW).decision.decision).toBe('BLOCK');
  });

  it('reads the position sign from side (SHORT/LONG/FLAT) before the sign of the amount', () => {
    const short = snap({ ...violatedAgo(1), position: position('2', '1000', 'SHORT') });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), short, NOW).decision.reason).toBe(REASON_REDUCES_RISK);
    expect(gate.decide(plan({ side: 'SELL', qty: 1 }), short, NOW).decision.decision).toBe('BLOCK');
    const signedShort = snap({ ...violatedAgo(1), position: position('-2') });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), signedShort, NOW).decision.reason).toBe(
      REASON_REDUCES_RISK,
    );
    const flat = snap({ ...violatedAgo(1), position: position('2', '1000', 'FLAT') });
    expect(gate.decide(plan({ side: 'SELL', qty: 1 }), flat, NOW).decision.decision).toBe('BLOCK');
  });

  it('falls back to the legacy position snapshot when the current key has no amount', () => {
    const s = snap({ ...violatedAgo(1), legacyPosition: position('-3') });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), s, NOW).decision.reason).toBe(REASON_REDUCES_RISK);
    const both = snap({ ...violatedAgo(1), position: position('3'), legacyPosition: position('-3') });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), both, NOW).decision.decision).toBe('BLOCK');
  });

  it('a violation 29 s old blocks, 30 s and 31 s old do not (30 s window)', () => {
    expect(gate.decide(plan(), snap(violatedAgo(29)), NOW).decision.decision).toBe('BLOCK');
    for (const age of [30, 31]) {
      const v = gate.decide(plan(), snap(violatedAgo(age)), NOW);
      expect(v.decision).toMatchObject({ decision: 'ALLOW', reason: REASON_WITHIN_BUDGET, enforced: true });
    }
  });

  it('a budget 61 s (or exactly 60 s) old fails open as stale_budget; 59 s old still judges', () => {
    for (const age of [60, 61]) {
      const v = gate.decide(plan(), snap({ ...violatedAgo(1), budgetTimestamp: String(NOW - age) }), NOW);
      expect(v.decision).toEqual({
        decision: 'ALLOW',
        reason: REASON_STALE_BUDGET,
        mode: 'enforce',
        enforced: false,
        budget_usd: 1500,
        fail_open: REASON_STALE_BUDGET,
      });
    }
    const fresh = gate.decide(plan(), snap({ ...violatedAgo(1), budgetTimestamp: String(NOW - 59) }), NOW);
    expect(fresh.decision.decision).toBe('BLOCK');
  });

  it('no budget hash fails open as no_budget', () => {
    const v = gate.decide(plan(), snap({ budgetUsd: null, budgetTimestamp: null, ...violatedAgo(1) }), NOW);
    expect(v.decision).toEqual({
      decision: 'ALLOW',
      reason: REASON_NO_BUDGET,
      mode: 'enforce',
      enforced: false,
      fail_open: REASON_NO_BUDGET,
    });
  });

  it.each([
    ['NaN', String(NOW)],
    ['Infinity', String(NOW)],
    ['-Infinity', String(NOW)],
    ['abc', String(NOW)],
    ['', String(NOW)],
    ['-1', String(NOW)],
    ['1500', 'NaN'],
    ['1500', 'inf'],
    ['1500', ''],
    ['1500', null],
  ])('garbage budget fields (budget_usd=%j, timestamp=%j) fail open as no_budget', (budgetUsd, ts) => {
    const v = gate.decide(plan(), snap({ budgetUsd, budgetTimestamp: ts, ...violatedAgo(1) }), NOW);
    expect(v.decision).toMatchObject({
      decision: 'ALLOW',
      reason: REASON_NO_BUDGET,
      fail_open: REASON_NO_BUDGET,
    });
    expect(JSON.stringify(v.decision)).not.toMatch(/NaN|null|Infinity/);
  });

  it('ignores a violation whose timestamp is garbage', () => {
    const v = gate.decide(plan(), snap({ violationTimestamp: 'soon' }), NOW);
    expect(v.decision.reason).toBe(REASON_WITHIN_BUDGET);
  });

  it('shadow never blocks: a would-block answers shadow_mode and reports what enforce would have done', () => {
    const v = gate.decide(
      plan({ qty: 1, side: 'BUY' }),
      snap({ mode: 'shadow', ...violatedAgo(3), position: position('1', '1000') }),
      NOW,
    );
    expect(v.decision).toEqual({
      decision: 'ALLOW',
      reason: REASON_SHADOW_MODE,
      mode: 'shadow',
      enforced: false,
      budget_usd: 1500,
      position_notional: 1000,
      fail_open: REASON_SHADOW_MODE,
    });
    expect(v.wouldBlock).toEqual({ reason: REASON_BUDGET_VIOLATION, budget_usd: 1500, notional: 2000 });
  });

  it('shadow answers the normal reason when enforce would have allowed anyway', () => {
    const noBudget = gate.decide(
      plan(),
      snap({ mode: 'shadow', budgetUsd: null, budgetTimestamp: null }),
      NOW,
    );
    expect(noBudget.decision).toMatchObject({ reason: REASON_NO_BUDGET, fail_open: REASON_NO_BUDGET });
    expect(noBudget.wouldBlock).toBeUndefined();
    const within = gate.decide(plan(), snap({ mode: 'shadow' }), NOW);
    expect(within.decision).toEqual({
      decision: 'ALLOW',
      reason: REASON_WITHIN_BUDGET,
      mode: 'shadow',
      enforced: false,
      budget_usd: 1500,
    });
    expect(within.wouldBlock).toBeUndefined();
  });

  it('a per-symbol override wins over the global mode, in both directions', () => {
    const enforceOverShadow = gate.decide(
      plan(),
      snap({ mode: 'shadow', override: 'enforce', ...violatedAgo(1) }),
      NOW,
    );
    expect(enforceOverShadow.decision).toMatchObject({ decision: 'BLOCK', mode: 'enforce' });
    const shadowOverEnforce = gate.decide(
      plan(),
      snap({ mode: 'enforce', override: 'shadow', ...violatedAgo(1) }),
      NOW,
    );
    expect(shadowOverEnforce.decision).toMatchObject({
      decision: 'ALLOW',
      reason: REASON_SHADOW_MODE,
      mode: 'shadow',
    });
    expect(shadowOverEnforce.wouldBlock?.reason).toBe(REASON_BUDGET_VIOLATION);
  });

  it('uses P28_MODE when the global mode is missing or not a mode', () => {
    for (const mode of [null, 'bogus']) {
      const s = snap({ mode, ...violatedAgo(1) });
      expect(gate.decide(plan(), s, NOW).decision).toMatchObject({ decision: 'ALLOW', mode: 'shadow' });
      expect(enforceByDefault.decide(plan(), s, NOW).decision).toMatchObject({
        decision: 'BLOCK',
        mode: 'enforce',
      });
    }
    // a garbage override is ignored, not taken as shadow
    expect(gate.decide(plan(), snap({ override: 'off', ...violatedAgo(1) }), NOW).decision.decision).toBe(
      'BLOCK',
    );
  });

  it('treats an expired enforce (expires_at passed, reverter not yet run) as shadow', () => {
    const expired = snap({ modeExpiresAt: String(NOW), ...violatedAgo(1) });
    expect(gate.decide(plan(), expired, NOW).decision).toMatchObject({ decision: 'ALLOW', mode: 'shadow' });
    const pending = snap({ modeExpiresAt: String(NOW + 1), ...violatedAgo(1) });
    expect(gate.decide(plan(), pending, NOW).decision).toMatchObject({ decision: 'BLOCK', mode: 'enforce' });
  });

  it('blocks a projected notional over budget with p28_projected_over_budget (equal passes)', () => {
    const over = gate.decide(plan({ projected_notional: 1500.01 }), snap(), NOW);
    expect(over.decision).toMatchObject({ decision: 'BLOCK', reason: REASON_PROJECTED_OVER_BUDGET });
    const equal = gate.decide(plan({ projected_notional: 1500 }), snap(), NOW);
    expect(equal.decision).toMatchObject({ decision: 'ALLOW', reason: REASON_WITHIN_BUDGET });
  });

  it('computes the projected notional from position ± qty × price when not given', () => {
    const long1 = snap({ position: position('1', '1000') });
    // 1 + 1 = 2 × 1000 = 2000 > 1500
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), long1, NOW).decision).toMatchObject({
      decision: 'BLOCK',
      reason: REASON_PROJECTED_OVER_BUDGET,
      position_notional: 1000,
    });
    // 1 + 0.4 = 1400 ≤ 1500
    expect(gate.decide(plan({ side: 'BUY', qty: 0.4 }), long1, NOW).decision.reason).toBe(
      REASON_WITHIN_BUDGET,
    );
    // no side: assumed to add (1 + 0.6 = 1600 > 1500)
    expect(gate.decide(plan({ qty: 0.6 }), long1, NOW).decision.reason).toBe(REASON_PROJECTED_OVER_BUDGET);
    // no position hash and no reference price: not computable, a counted fail-open, not within_budget
    expect(gate.decide(plan({ side: 'BUY', qty: 100 }), snap(), NOW).decision.reason).toBe('no_price');
    // a smaller projected_notional does not override the computed one (docs/contract.md §3 Gate 0: the larger)
    expect(
      gate.decide(plan({ side: 'BUY', qty: 1, projected_notional: 10 }), long1, NOW).decision.reason,
    ).toBe(REASON_PROJECTED_OVER_BUDGET);
  });

  it('reports position_notional from the position hash, else from the budget hash', () => {
    const fromBudget = gate.decide(plan(), snap({ budgetPositionNotional: '1234.5' }), NOW);
    expect(fromBudget.decision.position_notional).toBe(1234.5);
    const fromPosition = gate.decide(
      plan(),
      snap({ budgetPositionNotional: '1234.5', position: position('-0.5', '2000') }),
      NOW,
    );
    expect(fromPosition.decision.position_notional).toBe(1000);
    const garbage = gate.decide(plan(), snap({ budgetPositionNotional: 'NaN' }), NOW);
    expect(garbage.decision).not.toHaveProperty('position_notional');
  });

  it('property: BLOCK only in enforce, with a valid fresh budget, for a non-reducing plan', () => {
    const str = fc.oneof(
      fc.constant(null),
      fc.constantFrom('', 'NaN', 'abc', 'Infinity', '-5', '0'),
      fc.double({ min: -1e6, max: 1e7, noNaN: true }).map(String),
      fc.integer({ min: NOW - 200, max: NOW + 5 }).map(String),
    );
    const pos = fc.option(
      fc.record({
        position_amt: str,
        quantity: str,
        qty: str,
        side: fc.constantFrom(null, 'LONG', 'SHORT', 'FLAT', 'BUY', 'SELL', 'weird'),
        mark_price: str,
        current_price: str,
        entry_price: str,
      }),
    );
    const arbSnap = fc.record({
      mode: fc.constantFrom(null, 'shadow', 'enforce', 'reduce_only', 'x'),
      modeExpiresAt: str,
      modeRevertTo: fc.constantFrom(null, 'shadow', 'enforce', 'reduce_only', 'constructor'),
      override: fc.constantFrom(null, 'shadow', 'enforce', 'reduce_only', 'x', '__proto__'),
      budgetUsd: str,
      budgetPrice: str,
      budgetTimestamp: str,
      budgetPositionNotional: str,
      violationTimestamp: str,
      position: pos,
      legacyPosition: pos,
    });
    const arbPlan = fc.record(
      {
        plan_id: fc.constant('p'),
        symbol: fc.constant('BTCUSDT'),
        side: fc.constantFrom('BUY' as const, 'SELL' as const),
        qty: fc.double({ min: 0, max: 100, noNaN: true }),
        projected_notional: fc.double({ min: 0, max: 1e6, noNaN: true }),
        reduce_only: fc.boolean(),
      },
      { requiredKeys: ['plan_id', 'symbol'] },
    );
    fc.assert(
      fc.property(arbPlan, arbSnap, (p, s) => {
        const v = gate.decide(p, s, NOW);
        const text = JSON.stringify(v);
        expect(text).not.toMatch(/NaN|Infinity|null/);
        if (v.decision.decision === 'BLOCK') {
          expect(reducesRisk(p, currentPosition(s).amount)).toBe(false);
          if (v.decision.mode === 'enforce') expect(Number(s.budgetTimestamp)).toBeGreaterThan(NOW - 60);
          else expect(v.decision).toMatchObject({ mode: 'reduce_only', reason: 'p28_reduce_only_mode' });
        }
        // the kill switch lets nothing through that it cannot see lowering |position|
        if (v.decision.mode === 'reduce_only' && v.decision.decision === 'ALLOW') {
          expect(v.decision.reason).toBe(REASON_REDUCES_RISK);
        }
        if (v.decision.mode === 'shadow') expect(v.decision.decision).toBe('ALLOW');
        if (v.wouldBlock) expect(v.decision.reason).toBe(REASON_SHADOW_MODE);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the plan is trusted no further than the data allows (docs/contract.md §3 Gate 0)', () => {
  const long1 = () => snap({ position: position('1', '1000', 'LONG') });

  it('judges the larger of projected_notional and |position ± qty| × price: a claimed 0 does not pass', () => {
    // 1 long + 1 = 2 × 1000 = 2000 > 1500, whatever the plan claims
    for (const claimed of [0, 10, 1499]) {
      const v = gate.decide(plan({ side: 'BUY', qty: 1, projected_notional: claimed }), long1(), NOW);
      expect(v.decision, `claimed ${claimed}`).toMatchObject({
        decision: 'BLOCK',
        reason: REASON_PROJECTED_OVER_BUDGET,
      });
    }
    // a claim larger than the computed value still counts
    const big = gate.decide(plan({ side: 'SELL', qty: 0.5, projected_notional: 1600 }), long1(), NOW);
    expect(big.decision.reason).toBe(REASON_REDUCES_RISK);
    const bigFlat = gate.decide(plan({ side: 'BUY', qty: 0.1, projected_notional: 1600 }), long1(), NOW);
    expect(bigFlat.decision.reason).toBe(REASON_PROJECTED_OVER_BUDGET);
  });

  it('reduce_only counts only when side and qty lower |position|', () => {
    // BUY on a long raises it: reduce_only is a false claim
    const buy = gate.decide(plan({ side: 'BUY', qty: 1, reduce_only: true }), long1(), NOW);
    expect(buy.decision).toMatchObject({ decision: 'BLOCK', reason: REASON_PROJECTED_OVER_BUDGET });
    const buyViolated = snap({ ...violatedAgo(1), position: position('1', '1000', 'LONG') });
    expect(
      gate.decide(plan({ side: 'BUY', qty: 0.1, reduce_only: true }), buyViolated, NOW).decision.decision,
    ).toBe('BLOCK');
    // a SELL of 3 against 1 long ends 2 short: larger, not a reduction
    expect(
      gate.decide(plan({ side: 'SELL', qty: 3, reduce_only: true }), buyViolated, NOW).decision.decision,
    ).toBe('BLOCK');
    // the honest one passes
    expect(
      gate.decide(plan({ side: 'SELL', qty: 0.5, reduce_only: true }), buyViolated, NOW).decision.reason,
    ).toBe(REASON_REDUCES_RISK);
    // side given, qty absent: the side must oppose the position
    expect(gate.decide(plan({ side: 'BUY', reduce_only: true }), buyViolated, NOW).decision.decision).toBe(
      'BLOCK',
    );
    expect(gate.decide(plan({ side: 'SELL', reduce_only: true }), buyViolated, NOW).decision.reason).toBe(
      REASON_REDUCES_RISK,
    );
  });

  it('reduce_only without side/qty counts only when a position exists to reduce', () => {
    expect(gate.decide(plan({ reduce_only: true }), snap(violatedAgo(1)), NOW).decision.decision).toBe(
      'BLOCK',
    );
    const flat = snap({ ...violatedAgo(1), position: position('0', '1000') });
    expect(gate.decide(plan({ reduce_only: true }), flat, NOW).decision.decision).toBe('BLOCK');
    const short = snap({ ...violatedAgo(1), position: position('2', '1000', 'SHORT') });
    expect(gate.decide(plan({ reduce_only: true }), short, NOW).decision.reason).toBe(REASON_REDUCES_RISK);
  });

  it('reads entry positions as the apply layer writes them (quantity / qty, side, entry_price)', () => {
    const entry = snap({
      position: { quantity: '0.5', side: 'SHORT', entry_price: '2000' } as PositionHash,
    });
    // 0.5 short + BUY 0.2 lowers |position|
    expect(gate.decide(plan({ side: 'BUY', qty: 0.2 }), entry, NOW).decision.reason).toBe(
      REASON_REDUCES_RISK,
    );
    // 0.5 short + SELL 0.5 = 1 short × 2000 = 2000 > 1500
    expect(gate.decide(plan({ side: 'SELL', qty: 0.5 }), entry, NOW).decision).toMatchObject({
      decision: 'BLOCK',
      reason: REASON_PROJECTED_OVER_BUDGET,
      position_notional: 1000,
    });
    const qtyOnly = snap({ position: { qty: '1', side: 'BUY', mark_price: '1000' } as PositionHash });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), qtyOnly, NOW).decision.decision).toBe('BLOCK');
  });
});

describe('position and projection helpers', () => {
  it('the position comes from the one parser of docs/contract.md §1 Inputs (price fallbacks, garbage, no key)', () => {
    const s = (p: PositionHash | null, legacy: PositionHash | null = null) =>
      currentPosition(snap({ position: p, legacyPosition: legacy }));
    expect(s({ ...position('1'), mark_price: 'NaN', current_price: '0', entry_price: '7' })).toEqual({
      amount: 1,
      price: 7,
    });
    expect(s({ ...position('1'), mark_price: null, current_price: '5' })).toEqual({ amount: 1, price: 5 });
    // garbage amount: unknown, not flat
    expect(s({ ...position('garbage'), mark_price: '5' })).toEqual({});
    // no key at all: flat
    expect(s(null)).toEqual({ amount: 0 });
  });

  it('reducesRisk needs a known non-zero position unless reduce_only', () => {
    expect(reducesRisk(plan({ side: 'SELL', qty: 1 }), undefined)).toBe(false);
    expect(reducesRisk(plan({ side: 'SELL', qty: 1 }), 0)).toBe(false);
    expect(reducesRisk(plan({ reduce_only: true }), undefined)).toBe(false);
    expect(reducesRisk(plan({ reduce_only: true }), -1)).toBe(true);
    expect(reducesRisk(plan({ reduce_only: false, side: 'SELL', qty: 0.5 }), 1)).toBe(true);
  });

  it('projectedNotional is undefined when it cannot be computed', () => {
    expect(projectedNotional(plan({ qty: 1 }), { amount: 1 })).toBeUndefined();
    expect(projectedNotional(plan({ qty: 1 }), { price: 10 })).toBeUndefined();
    expect(projectedNotional(plan({}), { amount: 1, price: 10 })).toBeUndefined();
    expect(projectedNotional(plan({ side: 'SELL', qty: 3 }), { amount: 1, price: 10 })).toBe(20);
  });
});

describe('reduce_only, the kill switch (docs/contract.md §4 Modes and the audit trail)', () => {
  const flat = snap({ mode: 'reduce_only' });
  const blocked = (mode = 'reduce_only') => ({
    decision: 'BLOCK',
    reason: 'p28_reduce_only_mode',
    mode,
    enforced: true,
  });

  it('blocks a BUY on a flat symbol whatever its budget: within, none, stale, garbage', () => {
    expect(gate.decide(plan({ side: 'BUY', qty: 0.001 }), flat, NOW).decision).toMatchObject(blocked());
    for (const over of [
      { budgetUsd: null, budgetTimestamp: null },
      { budgetTimestamp: String(NOW - 3600) },
      { budgetUsd: 'garbage' },
    ]) {
      const v = gate.decide(plan({ side: 'BUY', qty: 1 }), snap({ mode: 'reduce_only', ...over }), NOW);
      expect(v.decision).toMatchObject(blocked());
      expect(v.decision.fail_open).toBeUndefined();
      expect(v.wouldBlock).toBeUndefined();
    }
  });

  it('lets a plan that lowers |position| pass (SELL on a long), and blocks one that adds', () => {
    const long = snap({ mode: 'reduce_only', position: position('2') });
    expect(gate.decide(plan({ side: 'SELL', qty: 1 }), long, NOW).decision).toMatchObject({
      decision: 'ALLOW',
      reason: REASON_REDUCES_RISK,
      mode: 'reduce_only',
      enforced: true,
    });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), long, NOW).decision).toMatchObject(blocked());
    // a claim that the position does not back is not believed
    expect(gate.decide(plan({ reduce_only: true, side: 'BUY', qty: 1 }), long, NOW).decision).toMatchObject(
      blocked(),
    );
    // garbage position: a reduction cannot be verified
    const garbage = snap({ mode: 'reduce_only', position: position('garbage') });
    expect(gate.decide(plan({ reduce_only: true }), garbage, NOW).decision).toMatchObject(blocked());
  });

  it('a per-symbol reduce_only override blocks under a global shadow, and only that symbol', () => {
    const s = snap({ mode: 'shadow', override: 'reduce_only' });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), s, NOW).decision).toMatchObject(blocked());
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), snap({ mode: 'shadow' }), NOW).decision.decision).toBe(
      'ALLOW',
    );
  });

  it('P28_MODE=reduce_only seeds the default when Redis holds no mode', () => {
    const g = new GateEvaluator({ defaultMode: 'reduce_only', budgetMaxAgeSec: 60, violationWindowSec: 30 });
    expect(g.decide(plan({ side: 'BUY', qty: 1 }), snap({ mode: null }), NOW).decision).toMatchObject(
      blocked(),
    );
  });

  it("with no usable mode in the read, the fallback (the replica's cached mode) decides, not P28_MODE", () => {
    const asked: string[] = [];
    const g = new GateEvaluator({
      defaultMode: 'shadow',
      fallbackMode: (symbol) => (asked.push(symbol), 'enforce'),
      budgetMaxAgeSec: 60,
      violationWindowSec: 30,
    });
    for (const mode of [null, 'ENFORCE', 'constructor']) {
      expect(g.effectiveMode(snap({ mode }), NOW, 'BTCUSDT')).toBe('enforce');
    }
    expect(asked).toEqual(['BTCUSDT', 'BTCUSDT', 'BTCUSDT']);
    // a stored mode and an override are what the read says; the fallback is not asked
    expect(g.effectiveMode(snap({ mode: 'shadow' }), NOW, 'BTCUSDT')).toBe('shadow');
    expect(g.effectiveMode(snap({ mode: null, override: 'shadow' }), NOW, 'BTCUSDT')).toBe('shadow');
    expect(asked).toHaveLength(3);
  });

  it('an expired enforce set on top of reduce_only reads as reduce_only (the mode it replaced)', () => {
    const s = snap({ mode: 'enforce', modeExpiresAt: String(NOW), modeRevertTo: 'reduce_only' });
    expect(gate.effectiveMode(s, NOW - 1, 'BTCUSDT')).toBe('enforce');
    expect(gate.effectiveMode(s, NOW, 'BTCUSDT')).toBe('reduce_only');
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), s, NOW).decision).toMatchObject(blocked());
    // an unknown revert target reads as shadow, never as an Object.prototype member
    const junk = snap({ mode: 'enforce', modeExpiresAt: String(NOW), modeRevertTo: 'constructor' });
    expect(gate.effectiveMode(junk, NOW, 'BTCUSDT')).toBe('shadow');
  });
});

describe('a first entry is judged by size with the budget reference price', () => {
  it('uses the budget hash price when the position has none: a big BUY on a flat symbol blocks', () => {
    const s = snap({ budgetPrice: '1000' });
    expect(gate.decide(plan({ side: 'BUY', qty: 2 }), s, NOW).decision).toMatchObject({
      decision: 'BLOCK',
      reason: REASON_PROJECTED_OVER_BUDGET,
    });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), s, NOW).decision).toMatchObject({
      decision: 'ALLOW',
      reason: REASON_WITHIN_BUDGET,
      enforced: true,
    });
  });

  it('a position price wins over the reference price', () => {
    const s = snap({ budgetPrice: '1', position: position('0.6', '1000') });
    expect(gate.decide(plan({ side: 'BUY', qty: 1 }), s, NOW).decision.reason).toBe(
      REASON_PROJECTED_OVER_BUDGET,
    );
  });

  it('qty with no price anywhere and no projected_notional is a counted fail-open no_price', () => {
    for (const budgetPrice of [null, 'garbage', '0', '-5', 'Infinity']) {
      const v = gate.decide(plan({ side: 'BUY', qty: 1 }), snap({ budgetPrice }), NOW);
      expect(v.decision).toEqual({
        decision: 'ALLOW',
        reason: 'no_price',
        fail_open: 'no_price',
        mode: 'enforce',
        enforced: false,
        budget_usd: 1500,
      });
    }
    // projected_notional given: judged on it
    expect(
      gate.decide(plan({ side: 'BUY', qty: 1, projected_notional: 100 }), snap(), NOW).decision.reason,
    ).toBe(REASON_WITHIN_BUDGET);
  });
});
