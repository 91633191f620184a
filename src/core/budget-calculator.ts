import type { RiskPolicy } from './policy.js';

const clamp01 = (n: number): number => (n < 0 ? 0 : n > 1 ? 1 : n);

export interface BudgetParams {
  alphaHeat: number;
  betaCluster: number;
  gammaVol: number;
  baseRiskPct: number;
  minBudgetUsd: number;
  maxBudgetUsd: number;
}

/** The calculator's parameters from the shared risk policy (docs/contract.md §7). */
export function paramsOf(p: RiskPolicy): BudgetParams {
  return {
    alphaHeat: p.alpha_heat,
    betaCluster: p.beta_cluster,
    gammaVol: p.gamma_vol,
    baseRiskPct: p.base_risk_pct,
    minBudgetUsd: p.min_budget_usd,
    maxBudgetUsd: p.max_budget_usd,
  };
}

export interface BudgetInputs {
  equityUsd: number;
  heat: number;
  cluster: number;
  vol: number;
  /** Defaults to 0 (no position). */
  positionNotional?: number;
}

interface BudgetResult {
  stress: number;
  /** Rounded to cents, so the written budget is the one the violation check used. */
  budgetUsd: number;
  utilization: number;
  positionNotional: number;
  /** notional − budget when positive, else 0. */
  overBudget: number;
  violation: boolean;
}

export type BudgetOutcome = { ok: true; result: BudgetResult } | { ok: false; field: string; reason: string };

/** Reported when the budget is 0 (MIN_BUDGET_USD=0 and full stress): any position is "infinitely" over. */
export const UTILIZATION_CAP = 1e6;

const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;

export const roundTo = (n: number, decimals: number): number => {
  const f = 10 ** decimals;
  const scaled = n * f;
  // near Number.MAX_VALUE the scaling overflows to Infinity; such a number has no decimals to round
  return Number.isFinite(scaled) ? Math.round(scaled) / f : n;
};

/**
 * docs/contract.md §2 Budget engine, and nothing else: no Redis, no clock, no Nest.
 *   stress = clamp01(α·heat + β·cluster + γ·vol)
 *   budget = clamp(equity · BASE_RISK_PCT · (1 − stress), MIN, MAX)
 * Invalid input is refused with the field named rather than turned into a NaN budget.
 */
export class BudgetCalculator {
  constructor(readonly params: BudgetParams) {
    for (const [k, v] of Object.entries(params)) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`budget parameter ${k} must be a finite number >= 0`);
    }
    if (params.minBudgetUsd > params.maxBudgetUsd) {
      throw new Error(
        `MIN_BUDGET_USD (${params.minBudgetUsd}) must not exceed MAX_BUDGET_USD (${params.maxBudgetUsd})`,
      );
    }
  }

  stress(heat: number, cluster: number, vol: number): number {
    const { alphaHeat, betaCluster, gammaVol } = this.params;
    return clamp01(alphaHeat * heat + betaCluster * cluster + gammaVol * vol);
  }

  budget(equityUsd: number, stress: number): number {
    const { baseRiskPct, minBudgetUsd, maxBudgetUsd } = this.params;
    const raw = equityUsd * baseRiskPct * (1 - stress);
    return roundTo(Math.min(maxBudgetUsd, Math.max(minBudgetUsd, raw)), 2);
  }

  static utilization(notional: number, budgetUsd: number): number {
    if (notional <= 0) return 0;
    if (budgetUsd <= 0) return UTILIZATION_CAP;
    return Math.min(UTILIZATION_CAP, notional / budgetUsd);
  }

  compute(inputs: BudgetInputs): BudgetOutcome {
    const { equityUsd, heat, cluster, vol } = inputs;
    const notional = inputs.positionNotional ?? 0;
    if (!Number.isFinite(equityUsd) || equityUsd <= 0) {
      return { ok: false, field: 'equity_usd', reason: 'must be a finite number > 0' };
    }
    // checked one by one rather than through an array of pairs: this runs per symbol per tick
    const bad = !nonNegative(heat)
      ? 'heat'
      : !nonNegative(cluster)
        ? 'cluster_stress'
        : !nonNegative(vol)
          ? 'vol_regime'
          : !nonNegative(notional)
            ? 'position_notional'
            : undefined;
    if (bad) return { ok: false, field: bad, reason: 'must be a finite number >= 0' };
    const stress = this.stress(heat, cluster, vol);
    const budgetUsd = this.budget(equityUsd, stress);
    const positionNotional = roundTo(notional, 2);
    const violation = positionNotional > budgetUsd;
    return {
      ok: true,
      result: {
        stress,
        budgetUsd,
        utilization: BudgetCalculator.utilization(positionNotional, budgetUsd),
        positionNotional,
        overBudget: violation ? roundTo(positionNotional - budgetUsd, 2) : 0,
        violation,
      },
    };
  }
}
