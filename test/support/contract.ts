/**
 * Field lists copied from docs/contract.md, for tests. Written out here rather than imported
 * from src/, so a test fails when the code drifts from the contract instead of following it.
 */

/** §2: fields of `quantum:portfolio:budget:{SYMBOL}`. */
export const CONTRACT_BUDGET_FIELDS = [
  'symbol',
  'budget_usd',
  'stress_factor',
  'equity_usd',
  'portfolio_heat',
  'cluster_stress',
  'vol_regime',
  'mode',
  'timestamp',
  'base_risk_pct',
  'position_notional',
  'utilization',
  'price',
  'policy_version',
] as const;

/** §4: fields of a ledger entry (`rollback_of` only on rollbacks). */
export const CONTRACT_LEDGER_FIELDS = [
  'operation_id',
  'operation_name',
  'actor',
  'scope',
  'from_mode',
  'to_mode',
  'reason',
  'risk_class',
  'outcome',
  'rollback_of',
  'version',
  'git_commit',
  'hostname',
  'timestamp',
  'prev_hash',
  'hash',
] as const;
