import { type PlanSide } from '../core/side.js';
import type { Mode } from '../platform/config/index.js';
import type { PositionHash } from '../core/position.js';
import type { BudgetBlockReason, FailOpenReason, GateReason } from '../core/reasons.js';

export type { PlanSide };

/** What the governor asks about (docs/contract.md §3 Gate 0), from HTTP or the plan stream. */
export interface PlanInput {
  plan_id: string;
  symbol: string;
  side?: PlanSide;
  qty?: number;
  projected_notional?: number;
  reduce_only?: boolean;
}

/**
 * Everything one decision reads, as raw strings straight from Redis, so that parsing garbage is
 * part of the pure rules (and of their tests) rather than of the I/O code.
 */
export interface GateSnapshot {
  /** Mode hash `mode` field (null when the hash is absent). */
  mode: string | null;
  /** Mode hash `expires_at`: an expiring enforce past its time counts as shadow even before the reverter runs. */
  modeExpiresAt: string | null;
  /** Mode hash `revert_to`: the mode an expiring change replaced, which it reverts to. */
  modeRevertTo: string | null;
  /** Overrides hash field for the symbol. */
  override: string | null;
  budgetUsd: string | null;
  budgetTimestamp: string | null;
  budgetPositionNotional: string | null;
  /** Budget hash `price`: the engine's reference price, used when the position carries none. */
  budgetPrice: string | null;
  violationTimestamp: string | null;
  /** Budget hash inputs the decision log records (docs/contract.md §7); absent on old hashes. */
  budgetEquity?: string | null;
  budgetHeat?: string | null;
  budgetCluster?: string | null;
  budgetVol?: string | null;
  budgetPolicyVersion?: string | null;
  /** Position hashes (docs/contract.md §1 Inputs fields); null when every field is absent. */
  position: PositionHash | null;
  legacyPosition: PositionHash | null;
}

/** The answer, exactly as docs/contract.md §3 Gate 0 shapes it. */
export interface GateDecision {
  decision: 'ALLOW' | 'BLOCK';
  reason: GateReason;
  mode: Mode;
  /**
   * True when the effective mode is enforce and the gate judged the plan on its inputs; false in
   * shadow and on every fail-open (the answer is then the absence of a judgement).
   */
  enforced: boolean;
  budget_usd?: number;
  position_notional?: number;
  fail_open?: FailOpenReason;
}

/** A shadow-mode plan that enforce would have blocked: what the would-block record carries. */
export interface WouldBlock {
  reason: BudgetBlockReason;
  budget_usd: number;
  /** The projected notional when known, else the current position notional. */
  notional?: number;
}

export interface GateVerdict {
  decision: GateDecision;
  wouldBlock?: WouldBlock;
  /** the position the rules used (signed amount, price), when the snapshot was read */
  position?: { amount?: number; price?: number };
}
