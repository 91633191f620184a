import type { AppConfig } from '../platform/config/index.js';
import type { BudgetParams } from '../core/budget-calculator.js';

/** The calculator's parameters from the validated environment (the one place they are mapped). */
export function budgetParams(
  c: Pick<
    AppConfig,
    'ALPHA_HEAT' | 'BETA_CLUSTER' | 'GAMMA_VOL' | 'BASE_RISK_PCT' | 'MIN_BUDGET_USD' | 'MAX_BUDGET_USD'
  >,
): BudgetParams {
  return {
    alphaHeat: c.ALPHA_HEAT,
    betaCluster: c.BETA_CLUSTER,
    gammaVol: c.GAMMA_VOL,
    baseRiskPct: c.BASE_RISK_PCT,
    minBudgetUsd: c.MIN_BUDGET_USD,
    maxBudgetUsd: c.MAX_BUDGET_USD,
  };
}
