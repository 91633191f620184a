import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BudgetCalculator, roundTo, UTILIZATION_CAP, type BudgetParams } from '../core/budget-calculator.js';

const CONTRACT: BudgetParams = {
  alphaHeat: 0.4,
  betaCluster: 0.4,
  gammaVol: 0.2,
  baseRiskPct: 0.02,
  minBudgetUsd: 500,
  maxBudgetUsd: 10000,
};
const calc = new BudgetCalculator(CONTRACT);

function ok(inputs: Parameters<BudgetCalculator['compute']>[0]) {
  const out = calc.compute(inputs);
  if (!out.ok) throw new Error(`refused: ${out.field}`);
  return out.result;
}

describe('BudgetCalculator (docs/contract.md §2 Budget engine)', () => {
  it('worked check 1: equity 100000, heat .25, cluster 0, vol .33 → stress 0.166, budget 1668', () => {
    const r = ok({ equityUsd: 100000, heat: 0.25, cluster: 0, vol: 0.33 });
    expect(r.stress).toBeCloseTo(0.166, 10);
    expect(r.budgetUsd).toBe(1668);
  });

  it('heat above 1 is weighted unclamped; only the stress is clamped (heat 1.5 → stress 0.666, budget 668)', () => {
    const r = ok({ equityUsd: 100000, heat: 1.5, cluster: 0, vol: 0.33 });
    expect(r.stress).toBeCloseTo(0.666, 9);
    expect(r.budgetUsd).toBe(668);
  });

  it('worked check 2: heat .70 → stress 0.346, budget 1308', () => {
    const r = ok({ equityUsd: 100000, heat: 0.7, cluster: 0, vol: 0.33 });
    expect(r.stress).toBeCloseTo(0.346, 10);
    expect(r.budgetUsd).toBe(1308);
  });

  it('weights each component by its own coefficient', () => {
    const c = new BudgetCalculator({ ...CONTRACT, alphaHeat: 0.1, betaCluster: 0.3, gammaVol: 0.5 });
    expect(c.stress(1, 0, 0)).toBeCloseTo(0.1, 12);
    expect(c.stress(0, 1, 0)).toBeCloseTo(0.3, 12);
    expect(c.stress(0, 0, 1)).toBeCloseTo(0.5, 12);
    // 250000·0.02·(1−(0.05+0.15+0.1)) = 3500
    const out = c.compute({ equityUsd: 250000, heat: 0.5, cluster: 0.5, vol: 0.2 });
    expect(out.ok && out.result.budgetUsd).toBe(3500);
  });

  it('clamps stress to 1 when the weighted sum exceeds it, and the budget to MIN', () => {
    const c = new BudgetCalculator({ ...CONTRACT, alphaHeat: 1, betaCluster: 1 });
    const out = c.compute({ equityUsd: 100000, heat: 0.9, cluster: 0.9, vol: 1 });
    expect(out.ok && out.result.stress).toBe(1);
    expect(out.ok && out.result.budgetUsd).toBe(500);
  });

  it('stress 0 gives the full equity · BASE_RISK_PCT', () => {
    const r = ok({ equityUsd: 123456, heat: 0, cluster: 0, vol: 0 });
    expect(r.stress).toBe(0);
    expect(r.budgetUsd).toBe(2469.12);
  });

  it('clamps the budget at MIN_BUDGET_USD from below, exactly at the edge, and at MAX_BUDGET_USD', () => {
    expect(ok({ equityUsd: 1000, heat: 0, cluster: 0, vol: 0 }).budgetUsd).toBe(500); // raw 20
    expect(ok({ equityUsd: 25000, heat: 0, cluster: 0, vol: 0 }).budgetUsd).toBe(500); // raw 500
    expect(ok({ equityUsd: 25100, heat: 0, cluster: 0, vol: 0 }).budgetUsd).toBe(502); // raw 502
    expect(ok({ equityUsd: 500000, heat: 0, cluster: 0, vol: 0 }).budgetUsd).toBe(10000); // raw 10000
    expect(ok({ equityUsd: 10_000_000, heat: 0.25, cluster: 0, vol: 0.33 }).budgetUsd).toBe(10000);
  });

  it('utilisation is notional / budget; a violation needs notional strictly above the budget', () => {
    const half = ok({ equityUsd: 100000, heat: 0.25, cluster: 0, vol: 0.33, positionNotional: 834 });
    expect(half.utilization).toBeCloseTo(0.5, 12);
    expect(half.violation).toBe(false);
    expect(half.overBudget).toBe(0);

    const equal = ok({ equityUsd: 100000, heat: 0.25, cluster: 0, vol: 0.33, positionNotional: 1668 });
    expect(equal.violation).toBe(false);
    expect(equal.utilization).toBe(1);

    const over = ok({ equityUsd: 100000, heat: 0.25, cluster: 0, vol: 0.33, positionNotional: 2000.5 });
    expect(over.violation).toBe(true);
    expect(over.overBudget).toBe(332.5);
    expect(over.utilization).toBeCloseTo(2000.5 / 1668, 12);
  });

  it('no position means utilisation 0 and no violation', () => {
    const r = ok({ equityUsd: 100000, heat: 0, cluster: 0, vol: 0 });
    expect(r.positionNotional).toBe(0);
    expect(r.utilization).toBe(0);
    expect(r.violation).toBe(false);
  });

  it('a zero budget (MIN_BUDGET_USD=0, full stress) reports a capped utilisation, never Infinity', () => {
    const c = new BudgetCalculator({ ...CONTRACT, minBudgetUsd: 0 });
    const out = c.compute({ equityUsd: 100000, heat: 1, cluster: 1, vol: 1, positionNotional: 10 });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.result.budgetUsd).toBe(0);
    expect(out.result.utilization).toBe(UTILIZATION_CAP);
    expect(out.result.violation).toBe(true);
    const flat = c.compute({ equityUsd: 100000, heat: 1, cluster: 1, vol: 1 });
    expect(flat.ok && flat.result.utilization).toBe(0);
  });

  it.each([
    ['equity NaN', { equityUsd: NaN }, 'equity_usd'],
    ['equity Infinity', { equityUsd: Infinity }, 'equity_usd'],
    ['equity 0', { equityUsd: 0 }, 'equity_usd'],
    ['equity negative', { equityUsd: -5 }, 'equity_usd'],
    ['heat NaN', { heat: NaN }, 'heat'],
    ['heat negative', { heat: -0.1 }, 'heat'],
    ['cluster Infinity', { cluster: Infinity }, 'cluster_stress'],
    ['vol negative', { vol: -1 }, 'vol_regime'],
    ['notional NaN', { positionNotional: NaN }, 'position_notional'],
    ['notional negative', { positionNotional: -1 }, 'position_notional'],
  ])('refuses %s, naming the field', (_name, patch, field) => {
    const out = calc.compute({ equityUsd: 100000, heat: 0.2, cluster: 0.1, vol: 0.33, ...patch });
    expect(out).toMatchObject({ ok: false, field });
  });

  it('refuses inconsistent parameters at construction', () => {
    expect(() => new BudgetCalculator({ ...CONTRACT, minBudgetUsd: 20000 })).toThrow(/MIN_BUDGET_USD/);
    expect(() => new BudgetCalculator({ ...CONTRACT, alphaHeat: NaN })).toThrow(/alphaHeat/);
    expect(() => new BudgetCalculator({ ...CONTRACT, baseRiskPct: -0.1 })).toThrow(/baseRiskPct/);
  });

  it('for any valid inputs: stress in [0,1], budget finite within [MIN, MAX], utilisation finite', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e12, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        (equityUsd, heat, cluster, vol, positionNotional) => {
          const out = calc.compute({ equityUsd, heat, cluster, vol, positionNotional });
          expect(out.ok).toBe(true);
          if (!out.ok) return;
          const r = out.result;
          expect(r.stress).toBeGreaterThanOrEqual(0);
          expect(r.stress).toBeLessThanOrEqual(1);
          expect(r.budgetUsd).toBeGreaterThanOrEqual(500);
          expect(r.budgetUsd).toBeLessThanOrEqual(10000);
          expect(Number.isFinite(r.utilization)).toBe(true);
          expect(r.violation).toBe(r.positionNotional > r.budgetUsd);
        },
      ),
    );
  });

  it('rounding never turns a huge finite number into Infinity (found by the garbage property test)', () => {
    expect(roundTo(1.7976931348623157e308, 2)).toBe(1.7976931348623157e308);
    expect(roundTo(-1e307, 6)).toBe(-1e307);
    expect(roundTo(1234.5678, 2)).toBe(1234.57);
  });
});
