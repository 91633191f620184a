/** One would-block record as read back from the shadow stream. */
export interface ShadowRecord {
  symbol: string;
  /** Absent in records of older versions: each such record then counts as its own plan. */
  plan_id?: string;
  notional?: number;
  budget?: number;
  /** Epoch seconds. */
  time?: number;
}

export interface SymbolSummary {
  /** Distinct plan ids: a plan asked about ten times is one plan. */
  count: number;
  /** Records, repeats included. */
  records: number;
  /** Largest notional − budget seen; null when no record carried both numbers. */
  max_over_budget: number | null;
  /** Epoch seconds of the newest record. */
  last_seen: number | null;
}

export interface ShadowReport {
  since: number;
  totals: { count: number; records: number; symbols: number; max_over_budget: number | null };
  /** A null-prototype object: a symbol is a key, whatever its name. */
  symbols: Record<string, SymbolSummary>;
  /** Seconds since the oldest record in the window (how far back the stream's cap lets it see). */
  oldest_age_sec: number | null;
  /** True when the scan stopped at its cap before the end of the stream. */
  truncated: boolean;
}

/**
 * No plan is worth more than this (USD). Records carry what the gate computed, clamped to it, and
 * the report ignores anything beyond it, so no record can make the report say 1.8e308.
 */
export const MAX_RECORDED_NOTIONAL_USD = 1e12;

const inRange = (n: number | undefined) =>
  n !== undefined && Number.isFinite(n) && n >= 0 && n <= MAX_RECORDED_NOTIONAL_USD ? n : undefined;

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Per-symbol summary of would-block records: what an operator reads before switching to enforce. */
export function summariseShadow(
  records: Iterable<ShadowRecord>,
  since: number,
  nowSec: number,
  truncated = false,
): ShadowReport {
  const bySymbol = new Map<string, SymbolSummary & { plans: Set<string> }>();
  const allPlans = new Set<string>();
  let recordCount = 0;
  let worst: number | null = null;
  let oldest: number | null = null;
  for (const r of records) {
    const planKey = r.plan_id ?? `#${recordCount}`;
    recordCount++;
    let s = bySymbol.get(r.symbol);
    if (!s) {
      s = { count: 0, records: 0, max_over_budget: null, last_seen: null, plans: new Set() };
      bySymbol.set(r.symbol, s);
    }
    s.records++;
    s.plans.add(planKey);
    allPlans.add(`${r.symbol}\u0000${planKey}`);
    const notional = inRange(r.notional);
    const budget = inRange(r.budget);
    const over = notional !== undefined && budget !== undefined ? notional - budget : null;
    s.max_over_budget = maxOf(s.max_over_budget, over);
    worst = maxOf(worst, over);
    if (r.time !== undefined && Number.isFinite(r.time)) {
      s.last_seen = maxOf(s.last_seen, r.time);
      oldest = oldest === null ? r.time : Math.min(oldest, r.time);
    }
  }
  const symbols: Record<string, SymbolSummary> = Object.create(null) as Record<string, SymbolSummary>;
  for (const [symbol, { plans, ...summary }] of bySymbol) symbols[symbol] = { ...summary, count: plans.size };
  return {
    since,
    totals: { count: allPlans.size, records: recordCount, symbols: bySymbol.size, max_over_budget: worst },
    symbols,
    oldest_age_sec: oldest === null ? null : Math.max(0, nowSec - oldest),
    truncated,
  };
}
