/** One would-block record as read back from the shadow stream. */
export interface ShadowRecord {
  symbol: string;
  notional?: number;
  budget?: number;
  /** Epoch seconds. */
  time?: number;
}

export interface SymbolSummary {
  count: number;
  /** Largest notional − budget seen; null when no record carried both numbers. */
  max_over_budget: number | null;
  /** Epoch seconds of the newest record. */
  last_seen: number | null;
}

export interface ShadowReport {
  since: number;
  totals: { count: number; symbols: number; max_over_budget: number | null };
  symbols: Record<string, SymbolSummary>;
  /** True when the scan stopped at its cap before the end of the stream. */
  truncated: boolean;
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Per-symbol summary of would-block records: what an operator reads before switching to enforce. */
export function summariseShadow(
  records: Iterable<ShadowRecord>,
  since: number,
  truncated = false,
): ShadowReport {
  const symbols: Record<string, SymbolSummary> = {};
  let count = 0;
  let worst: number | null = null;
  for (const r of records) {
    count++;
    const s = (symbols[r.symbol] ??= { count: 0, max_over_budget: null, last_seen: null });
    s.count++;
    const over = r.notional !== undefined && r.budget !== undefined ? r.notional - r.budget : null;
    s.max_over_budget = maxOf(s.max_over_budget, over);
    worst = maxOf(worst, over);
    if (r.time !== undefined) s.last_seen = maxOf(s.last_seen, r.time);
  }
  return {
    since,
    totals: { count, symbols: Object.keys(symbols).length, max_over_budget: worst },
    symbols,
    truncated,
  };
}
