/**
 * Every reason code Gate 0 answers with (docs/contract.md §3 Gate 0). Other services and dashboards match on
 * these strings, so they never change meaning; add new ones rather than renaming.
 */

/** BLOCK: the engine recorded a violation for the symbol within GATE_VIOLATION_WINDOW_SEC. */
export const REASON_BUDGET_VIOLATION = 'p28_budget_violation';
/** BLOCK: the plan's projected notional exceeds the symbol's budget. */
export const REASON_PROJECTED_OVER_BUDGET = 'p28_projected_over_budget';
/** BLOCK: reduce_only (the kill switch) and the plan does not lower |position|, or that cannot be verified. */
export const REASON_REDUCE_ONLY_MODE = 'p28_reduce_only_mode';

/** Fail-open ALLOW: no budget hash for the symbol (or its fields are garbage). */
export const REASON_NO_BUDGET = 'no_budget';
/** Fail-open ALLOW: the budget hash is older than GATE_BUDGET_MAX_AGE_SEC. */
export const REASON_STALE_BUDGET = 'stale_budget';
/** Fail-open ALLOW: the read failed (connection down, not ready, command error). */
export const REASON_REDIS_UNAVAILABLE = 'redis_unavailable';
/** Fail-open ALLOW: the read did not answer within GATE_TIMEOUT_MS. */
export const REASON_TIMEOUT = 'timeout';
/** Fail-open ALLOW: shadow mode let through a plan that enforce would have blocked. */
export const REASON_SHADOW_MODE = 'shadow_mode';
/** Fail-open ALLOW: the plan gives qty but no projected_notional, and no price is known to size it. */
export const REASON_NO_PRICE = 'no_price';

/** ALLOW: the plan lowers |position| (reduce_only, or a side/qty against the current position). */
export const REASON_REDUCES_RISK = 'reduces_risk';
/** ALLOW: fresh budget, no recent violation, projected notional within budget (or not computable). */
export const REASON_WITHIN_BUDGET = 'within_budget';

/** A budget block: what shadow would have blocked (the would-block record's reasons). */
export type BudgetBlockReason = typeof REASON_BUDGET_VIOLATION | typeof REASON_PROJECTED_OVER_BUDGET;
export type BlockReason = BudgetBlockReason | typeof REASON_REDUCE_ONLY_MODE;
export type FailOpenReason =
  | typeof REASON_NO_BUDGET
  | typeof REASON_STALE_BUDGET
  | typeof REASON_REDIS_UNAVAILABLE
  | typeof REASON_TIMEOUT
  | typeof REASON_SHADOW_MODE
  | typeof REASON_NO_PRICE;
type AllowReason = FailOpenReason | typeof REASON_REDUCES_RISK | typeof REASON_WITHIN_BUDGET;
export type GateReason = BlockReason | AllowReason;

export const BLOCK_REASONS: readonly BlockReason[] = [
  REASON_BUDGET_VIOLATION,
  REASON_PROJECTED_OVER_BUDGET,
  REASON_REDUCE_ONLY_MODE,
];
export const FAIL_OPEN_REASONS: readonly FailOpenReason[] = [
  REASON_NO_BUDGET,
  REASON_STALE_BUDGET,
  REASON_REDIS_UNAVAILABLE,
  REASON_TIMEOUT,
  REASON_SHADOW_MODE,
  REASON_NO_PRICE,
];
