/** The sides a trade plan may take (docs/contract.md §3 Gate 0). */
export const PLAN_SIDES = ['BUY', 'SELL'] as const;
export type PlanSide = (typeof PLAN_SIDES)[number];
