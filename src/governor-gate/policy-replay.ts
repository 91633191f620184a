import { Injectable } from '@nestjs/common';
import { BudgetCalculator, paramsOf } from '../core/budget-calculator.js';
import { InvalidInputError } from '../core/errors.js';
import { mergePolicy, type RiskPolicy } from '../core/policy.js';
import {
  REASON_NO_BUDGET,
  REASON_NO_PRICE,
  REASON_REDIS_UNAVAILABLE,
  REASON_REDUCE_ONLY_MODE,
  REASON_REDUCES_RISK,
  REASON_SHADOW_MODE,
  REASON_STALE_BUDGET,
  REASON_TIMEOUT,
} from '../core/reasons.js';
import { PLAN_SIDES, type PlanSide } from '../core/side.js';
import { AppConfig } from '../platform/config/index.js';
import { PolicyReader } from '../platform/policy/policy-reader.js';
import { parseDecision, type LoggedDecision } from './decision-entry.js';
import { DecisionLogReader } from './decision-log.reader.js';
import { GateEvaluator } from './gate-evaluator.js';
import type { PlanInput } from './gate.types.js';

/** Reasons replay leaves as logged (docs/contract.md §7): fail-opens and the reduce-only rules. */
const AS_LOGGED = new Set<string>([
  REASON_NO_BUDGET,
  REASON_STALE_BUDGET,
  REASON_TIMEOUT,
  REASON_REDIS_UNAVAILABLE,
  REASON_NO_PRICE,
  REASON_REDUCE_ONLY_MODE,
  REASON_REDUCES_RISK,
]);

const REPLAY_ASSUMPTION =
  'mode taken as enforce for every decision; the budget recomputed from the logged equity, heat, cluster and vol; ' +
  'a logged violation counts only while the logged position notional exceeds the new budget; ' +
  'no_budget, stale_budget, timeout, redis_unavailable, no_price and reduce-only decisions stay as logged';

const SAMPLES = 20;
/** The evaluator judges ages against this instant; only differences matter. */
const T = 1_000_000;

export interface Rejudged {
  blockedBefore: boolean;
  blocked: boolean;
  /** the recomputed budget, when the logged inputs allow one */
  budget?: number;
}

const isPlanSide = (v: unknown): v is PlanSide => (PLAN_SIDES as readonly unknown[]).includes(v);
const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * One logged decision judged again under `calc`'s policy, in enforce, through the same pure rules
 * as the live gate: BudgetCalculator for the budget, GateEvaluator for the verdict.
 */
export function rejudge(d: LoggedDecision, calc: BudgetCalculator, evaluator: GateEvaluator): Rejudged {
  const blockedBefore = d.decision === 'BLOCK' || d.reason === REASON_SHADOW_MODE;
  const asLogged = { blockedBefore, blocked: blockedBefore };
  const equity = n(d.equity_usd);
  if (typeof d.reason !== 'string' || AS_LOGGED.has(d.reason) || equity === undefined) return asLogged;
  const amount = n(d.position_amt);
  const price = n(d.price);
  const notional = amount !== undefined && price !== undefined ? Math.abs(amount) * price : 0;
  const out = calc.compute({
    equityUsd: equity,
    heat: n(d.portfolio_heat) ?? 0,
    cluster: n(d.cluster_stress) ?? 0,
    vol: n(d.vol_regime) ?? 0,
    positionNotional: notional,
  });
  if (!out.ok) return asLogged;
  const budget = out.result.budgetUsd;
  const violationAge = n(d.violation_age_sec);
  const violation = violationAge !== undefined && notional > budget;
  const plan: PlanInput = { plan_id: String(d.plan_id ?? ''), symbol: String(d.symbol ?? '') };
  if (isPlanSide(d.side)) plan.side = d.side;
  if (n(d.qty) !== undefined) plan.qty = n(d.qty);
  if (n(d.projected_notional) !== undefined) plan.projected_notional = n(d.projected_notional);
  if (typeof d.reduce_only === 'boolean') plan.reduce_only = d.reduce_only;
  const now = T + (n(d.budget_age_sec) ?? 0);
  const verdict = evaluator.decide(
    plan,
    {
      mode: 'enforce',
      modeExpiresAt: null,
      modeRevertTo: null,
      override: null,
      budgetUsd: String(budget),
      budgetTimestamp: String(T),
      budgetPositionNotional: null,
      budgetPrice: null,
      violationTimestamp: violation ? String(now - (violationAge ?? 0)) : null,
      position:
        amount !== undefined
          ? { position_amt: String(amount), ...(price !== undefined ? { mark_price: String(price) } : {}) }
          : null,
      legacyPosition: null,
    },
    now,
  );
  return { blockedBefore, blocked: verdict.decision.decision === 'BLOCK', budget };
}

interface SymbolTally {
  decisions: number;
  blocked_before: number;
  blocked_after: number;
  newly_blocked: number;
  newly_allowed: number;
  budgetBefore: [number, number];
  budgetAfter: [number, number];
}

export interface ReplayRequest {
  policy: unknown;
  since?: number;
  until?: number;
  symbol?: string;
}

const avg = ([sum, count]: [number, number]) => (count === 0 ? null : Math.round((sum / count) * 100) / 100);

/** `POST /ops/policy/replay`: the logged decisions of a window under a candidate policy; writes nothing. */
@Injectable()
export class PolicyReplay {
  private readonly evaluator: GateEvaluator;

  constructor(
    private readonly reader: DecisionLogReader,
    private readonly policy: PolicyReader,
    config: AppConfig,
  ) {
    this.evaluator = new GateEvaluator({
      defaultMode: 'enforce',
      budgetMaxAgeSec: config.GATE_BUDGET_MAX_AGE_SEC,
      violationWindowSec: config.GATE_VIOLATION_WINDOW_SEC,
    });
  }

  candidate(change: unknown): RiskPolicy {
    const current = this.policy.current().policy;
    if (
      typeof change === 'object' &&
      change !== null &&
      !Array.isArray(change) &&
      Object.keys(change).length === 0
    ) {
      return current;
    }
    const merged = mergePolicy(current, change);
    if (!merged.ok) {
      throw new InvalidInputError(
        merged.problems.map((p) => p.message),
        { fields: merged.problems.map((p) => p.field) },
      );
    }
    return merged.policy;
  }

  async replay(req: ReplayRequest) {
    const policy = this.candidate(req.policy);
    const calc = new BudgetCalculator(paramsOf(policy));
    const tallies = new Map<string, SymbolTally>();
    const samples = { newly_blocked: [] as string[], newly_allowed: [] as string[] };
    let decisions = 0;
    let newlyBlocked = 0;
    let newlyAllowed = 0;
    let firstMs: number | undefined;
    let lastMs: number | undefined;
    const from = req.since !== undefined ? String(Math.floor(req.since * 1000)) : '-';
    const to = req.until !== undefined ? String(Math.floor(req.until * 1000)) : '+';
    for await (const rows of this.reader.pages(from, to)) {
      for (const [, fields] of rows) {
        const d = parseDecision(fields);
        if (req.symbol !== undefined && d.symbol !== req.symbol) continue;
        const r = rejudge(d, calc, this.evaluator);
        decisions++;
        const ts = n(d.timestamp_ms);
        if (ts !== undefined) {
          firstMs = firstMs === undefined ? ts : Math.min(firstMs, ts);
          lastMs = lastMs === undefined ? ts : Math.max(lastMs, ts);
        }
        const symbol = String(d.symbol ?? '');
        let t = tallies.get(symbol);
        if (!t) {
          t = {
            decisions: 0,
            blocked_before: 0,
            blocked_after: 0,
            newly_blocked: 0,
            newly_allowed: 0,
            budgetBefore: [0, 0],
            budgetAfter: [0, 0],
          };
          tallies.set(symbol, t);
        }
        t.decisions++;
        if (r.blockedBefore) t.blocked_before++;
        if (r.blocked) t.blocked_after++;
        const before = n(d.budget_usd);
        if (before !== undefined && r.budget !== undefined) {
          t.budgetBefore[0] += before;
          t.budgetBefore[1]++;
          t.budgetAfter[0] += r.budget;
          t.budgetAfter[1]++;
        }
        const id = String(d.plan_id ?? '');
        if (r.blocked && !r.blockedBefore) {
          newlyBlocked++;
          t.newly_blocked++;
          if (samples.newly_blocked.length < SAMPLES) samples.newly_blocked.push(id);
        } else if (!r.blocked && r.blockedBefore) {
          newlyAllowed++;
          t.newly_allowed++;
          if (samples.newly_allowed.length < SAMPLES) samples.newly_allowed.push(id);
        }
      }
    }
    return {
      decisions,
      from: req.since ?? (firstMs !== undefined ? Math.floor(firstMs / 1000) : null),
      to: req.until ?? (lastMs !== undefined ? Math.floor(lastMs / 1000) : null),
      policy,
      assumption: REPLAY_ASSUMPTION,
      changed: { newly_blocked: newlyBlocked, newly_allowed: newlyAllowed },
      // fromEntries makes own properties: a symbol named __proto__ is just a key
      per_symbol: Object.fromEntries(
        [...tallies].map(([s, t]) => [
          s,
          {
            decisions: t.decisions,
            blocked_before: t.blocked_before,
            blocked_after: t.blocked_after,
            newly_blocked: t.newly_blocked,
            newly_allowed: t.newly_allowed,
            budget_before_avg: avg(t.budgetBefore),
            budget_after_avg: avg(t.budgetAfter),
          },
        ]),
      ),
      samples,
    };
  }
}
