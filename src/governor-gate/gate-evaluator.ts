import { parseUint } from '../core/numbers.js';
import { effectiveMode, enforces, isMode, type Mode } from '../core/mode.js';
import {
  REASON_BUDGET_VIOLATION,
  REASON_NO_BUDGET,
  REASON_NO_PRICE,
  REASON_PROJECTED_OVER_BUDGET,
  REASON_REDUCE_ONLY_MODE,
  REASON_REDUCES_RISK,
  REASON_SHADOW_MODE,
  REASON_STALE_BUDGET,
  REASON_WITHIN_BUDGET,
  type BudgetBlockReason,
  type FailOpenReason,
  type GateReason,
} from '../core/reasons.js';
import { parsePosition, type PositionHash } from '../core/position.js';
import type { GateDecision, GateSnapshot, GateVerdict, PlanInput } from './gate.types.js';

export interface GateSettings {
  /** P28_MODE: used when Redis holds no (valid) global mode and there is no fallbackMode. */
  defaultMode: Mode;
  /**
   * The mode when the read found no usable global mode (the key absent, of another type or
   * malformed): the replica's cached mode, so bad data in Redis cannot switch enforcement off.
   */
  fallbackMode?: (symbol: string) => Mode;
  budgetMaxAgeSec: number;
  violationWindowSec: number;
}

/** A finite number from a Redis string, or undefined for absent, empty or garbage values. */
export function finite(raw: string | null | undefined): number | undefined {
  if (raw === null || raw === undefined || raw.length === 0) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

const NO_OVERRIDES: ReadonlyMap<string, Mode> = new Map();

/** The position as the gate uses it. */
export interface GatePosition {
  /** Signed amount: positive long, negative short, 0 flat or no key; undefined when garbage. */
  amount?: number;
  /** mark_price, else current_price, else entry_price (first finite positive one). */
  price?: number;
}

/** One position hash through the one parser of docs/contract.md §1 Inputs (quantity/qty fallbacks included). */
function gatePosition(h: PositionHash | null): GatePosition & { known: boolean } {
  const p = parsePosition(h);
  if (p.kind === 'active') return { amount: p.amount, price: p.price, known: true };
  if (p.kind === 'inactive') return { amount: 0, price: p.price, known: true };
  return { known: false };
}

/**
 * The current-style key wins; the legacy snapshot is read only when the current key says nothing
 * usable. Neither key at all means flat (amount 0); only garbage leaves the amount unknown.
 */
export function currentPosition(s: GateSnapshot): GatePosition {
  const current = gatePosition(s.position);
  if (current.known) return { amount: current.amount, price: current.price };
  const legacy = gatePosition(s.legacyPosition);
  if (legacy.known) return { amount: legacy.amount, price: legacy.price };
  const garbage = s.position !== null || s.legacyPosition !== null;
  return garbage ? {} : { amount: 0 };
}

/**
 * True when the plan lowers |position| (docs/contract.md §3 Gate 0): the claim `reduce_only` is checked against
 * the position rather than believed. A side and qty > 0 reduce when |position ± qty| < |position|
 * (a flip that ends smaller still lowers it), whether or not reduce_only is set. With reduce_only
 * and no qty, a side must oppose the position; with neither side nor qty, a position must exist.
 */
export function reducesRisk(plan: PlanInput, amount: number | undefined): boolean {
  if (amount === undefined || amount === 0) return false;
  const { side, qty } = plan;
  if (side !== undefined && qty !== undefined) {
    if (!(qty > 0)) return false;
    const next = side === 'BUY' ? amount + qty : amount - qty;
    return Math.abs(next) < Math.abs(amount);
  }
  if (plan.reduce_only !== true) return false;
  if (side !== undefined) return side === 'BUY' ? amount < 0 : amount > 0;
  return true;
}

/**
 * The notional judged: the larger of the plan's `projected_notional` and |position ± qty| × price
 * (BUY adds, SELL subtracts; with no side the qty is assumed to add to |position|, the
 * conservative reading). Undefined when neither is known.
 */
export function projectedNotional(plan: PlanInput, pos: GatePosition): number | undefined {
  const given = plan.projected_notional;
  const claimed = given !== undefined && Number.isFinite(given) && given >= 0 ? given : undefined;
  const computed = computedNotional(plan, pos);
  if (claimed === undefined) return computed;
  return computed === undefined ? claimed : Math.max(claimed, computed);
}

function computedNotional(plan: PlanInput, pos: GatePosition): number | undefined {
  const qty = plan.qty;
  if (qty === undefined || !Number.isFinite(qty) || qty < 0) return undefined;
  if (pos.amount === undefined || pos.price === undefined) return undefined;
  const next =
    plan.side === 'BUY'
      ? pos.amount + qty
      : plan.side === 'SELL'
        ? pos.amount - qty
        : Math.abs(pos.amount) + qty;
  const n = Math.abs(next) * pos.price;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Gate 0 (docs/contract.md §3 Gate 0) as a pure function of the plan, what Redis held, and `now` (epoch seconds).
 *
 * Order of the checks, and why:
 * 1. effective mode (override > global hash > the replica's cached mode, else P28_MODE): it only
 *    decides whether a block is binding;
 * 2. a plan that lowers |position| passes before anything else, so a missing budget is not counted
 *    as a fail-open for a plan that needed no budget to be judged;
 * 3. budget present and valid (else `no_budget`), then fresh (else `stale_budget`): fail-open allows;
 * 4. a violation younger than the window, else projected notional over budget: the would-block;
 * 5. only then the mode: enforce blocks; shadow allows with `shadow_mode` and reports the would-block.
 * So a shadow plan answers `shadow_mode` only when enforce would have blocked it; otherwise it gets
 * the reason enforce would have given (`no_budget`, `within_budget`, ...).
 */
export class GateEvaluator {
  constructor(private readonly settings: GateSettings) {}

  /** The one rule of src/core/mode.ts, over the raw fields this decision read. */
  effectiveMode(s: GateSnapshot, nowSec: number, symbol: string): Mode {
    if (isMode(s.override)) return s.override;
    if (!isMode(s.mode)) return this.settings.fallbackMode?.(symbol) ?? this.settings.defaultMode;
    const state: { mode: Mode; expires_at?: number; revert_to?: Mode; overrides: ReadonlyMap<string, Mode> } =
      {
        mode: s.mode,
        overrides: NO_OVERRIDES,
      };
    const expiresAt = parseUint(s.modeExpiresAt);
    if (expiresAt !== undefined) state.expires_at = expiresAt;
    if (isMode(s.modeRevertTo)) state.revert_to = s.modeRevertTo;
    return effectiveMode(state, '', nowSec);
  }

  decide(plan: PlanInput, s: GateSnapshot, nowSec: number): GateVerdict {
    const mode = this.effectiveMode(s, nowSec, plan.symbol);
    const pos = withReferencePrice(currentPosition(s), s.budgetPrice);
    const verdict = this.judge(plan, s, nowSec, mode, pos);
    // what the decision log records, without parsing the position twice
    verdict.position = pos;
    return verdict;
  }

  private judge(
    plan: PlanInput,
    s: GateSnapshot,
    nowSec: number,
    mode: Mode,
    pos: GatePosition,
  ): GateVerdict {
    const positionNotional =
      pos.amount !== undefined && pos.price !== undefined
        ? Math.abs(pos.amount) * pos.price
        : nonNegative(finite(s.budgetPositionNotional));
    const rawBudget = finite(s.budgetUsd);
    const budget = rawBudget !== undefined && rawBudget >= 0 ? rawBudget : undefined;

    if (reducesRisk(plan, pos.amount)) {
      return { decision: allow(REASON_REDUCES_RISK, mode, enforces(mode), budget, positionNotional) };
    }
    // the kill switch fails closed: no budget, stale data or garbage never let an increase through
    if (mode === 'reduce_only') return { decision: reduceOnlyBlock(budget, positionNotional) };

    const budgetTs = finite(s.budgetTimestamp);
    if (budget === undefined || budgetTs === undefined) {
      return { decision: failOpen(REASON_NO_BUDGET, mode, undefined, positionNotional) };
    }
    if (nowSec - budgetTs >= this.settings.budgetMaxAgeSec) {
      return { decision: failOpen(REASON_STALE_BUDGET, mode, budget, positionNotional) };
    }

    let block: BudgetBlockReason | undefined;
    let projected: number | undefined;
    const violationTs = finite(s.violationTimestamp);
    if (violationTs !== undefined && nowSec - violationTs < this.settings.violationWindowSec) {
      block = REASON_BUDGET_VIOLATION;
    } else {
      projected = projectedNotional(plan, pos);
      if (projected !== undefined && projected > budget) block = REASON_PROJECTED_OVER_BUDGET;
      // a size was given but nothing prices it: not judged, so not `within_budget`
      if (projected === undefined && plan.qty !== undefined) {
        return { decision: failOpen(REASON_NO_PRICE, mode, budget, positionNotional) };
      }
    }

    if (block === undefined) {
      return { decision: allow(REASON_WITHIN_BUDGET, mode, enforces(mode), budget, positionNotional) };
    }
    if (mode === 'enforce') {
      const decision: GateDecision = {
        decision: 'BLOCK',
        reason: block,
        mode,
        enforced: true,
        budget_usd: budget,
      };
      if (positionNotional !== undefined) decision.position_notional = positionNotional;
      return { decision };
    }
    projected ??= projectedNotional(plan, pos);
    return {
      decision: failOpen(REASON_SHADOW_MODE, mode, budget, positionNotional),
      wouldBlock: { reason: block, budget_usd: budget, notional: projected ?? positionNotional },
    };
  }
}

const nonNegative = (n: number | undefined) => (n !== undefined && n >= 0 ? n : undefined);

/** The budget hash's reference price stands in when the position has no price (a first entry). */
export function withReferencePrice(pos: GatePosition, raw: string | null): GatePosition {
  if (pos.price !== undefined) return pos;
  const price = finite(raw);
  return price !== undefined && price > 0 ? { ...pos, price } : pos;
}

/** reduce_only refuses a plan it cannot see lowering |position| (docs/contract.md §4 Modes and the audit trail). */
export function reduceOnlyBlock(budget?: number, positionNotional?: number): GateDecision {
  const d: GateDecision = {
    decision: 'BLOCK',
    reason: REASON_REDUCE_ONLY_MODE,
    mode: 'reduce_only',
    enforced: true,
  };
  if (budget !== undefined) d.budget_usd = budget;
  if (positionNotional !== undefined) d.position_notional = positionNotional;
  return d;
}

function allow(
  reason: GateReason,
  mode: Mode,
  enforced: boolean,
  budget: number | undefined,
  positionNotional: number | undefined,
): GateDecision {
  const d: GateDecision = { decision: 'ALLOW', reason, mode, enforced };
  if (budget !== undefined) d.budget_usd = budget;
  if (positionNotional !== undefined) d.position_notional = positionNotional;
  return d;
}

/**
 * A fail-open allow. `enforced` is false: the answer is not the enforcing gate's judgement but the
 * absence of one (or shadow mode overruling it).
 */
export function failOpen(
  reason: FailOpenReason,
  mode: Mode,
  budget?: number,
  positionNotional?: number,
): GateDecision {
  const d = allow(reason, mode, false, budget, positionNotional);
  d.fail_open = reason;
  return d;
}
