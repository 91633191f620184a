export interface PortfolioState {
  equityUsd: number;
  drawdown?: number;
  /** Epoch seconds when the producer wrote the state. */
  timestamp: number;
}

export type PortfolioDecision =
  | { outcome: 'fresh' | 'lkg'; state: PortfolioState; ageSec: number }
  | { outcome: 'too_old'; ageSec: number }
  | { outcome: 'missing' };

export interface LkgLimits {
  staleSec: number;
  maxLkgAgeSec: number;
}

/** How far ahead of our clock a producer's timestamp may be before the state is refused. */
const FUTURE_TOLERANCE_SEC = 60;

const ageOf = (s: PortfolioState, nowSec: number) => Math.max(0, nowSec - s.timestamp);

/**
 * docs/contract.md §2 Budget engine last-known-good rule, as a pure function.
 *
 * Age is always the age of a state's own `timestamp`, whether the state was just read or cached:
 * "cache younger than MAX_LKG_AGE_SEC" means the cached state was *produced* less than
 * MAX_LKG_AGE_SEC ago, not that we cached it recently (re-caching must not make old data young).
 *
 * The last known good is the newest valid state we know of: the one in Redis, even if stale, or
 * the cached one. So a replica that just started (empty cache) still uses a 5-minute-old state
 * found in Redis, exactly as a replica that had cached it would; and a cache never overrides a
 * newer state read from Redis.
 */
export function decidePortfolio(
  read: PortfolioState | undefined,
  cached: PortfolioState | undefined,
  nowSec: number,
  limits: LkgLimits,
): PortfolioDecision {
  // a state stamped in the future (skewed clock, µs instead of s) would never age: not usable
  if (read && read.timestamp > nowSec + FUTURE_TOLERANCE_SEC) read = undefined;
  if (read && ageOf(read, nowSec) < limits.staleSec) {
    return { outcome: 'fresh', state: read, ageSec: ageOf(read, nowSec) };
  }
  const candidates = [read, cached].filter((s): s is PortfolioState => s !== undefined);
  if (candidates.length === 0) return { outcome: 'missing' };
  const newest = candidates.reduce((a, b) => (b.timestamp > a.timestamp ? b : a));
  const ageSec = ageOf(newest, nowSec);
  if (ageSec < limits.maxLkgAgeSec) return { outcome: 'lkg', state: newest, ageSec };
  return { outcome: 'too_old', ageSec };
}

/** The per-replica cache around `decidePortfolio`: remembers the newest usable state. */
export class LkgCache {
  private cached?: PortfolioState;

  constructor(private readonly limits: LkgLimits) {}

  get current(): PortfolioState | undefined {
    return this.cached;
  }

  resolve(read: PortfolioState | undefined, nowSec: number): PortfolioDecision {
    const decision = decidePortfolio(read, this.cached, nowSec, this.limits);
    if (decision.outcome === 'fresh' || decision.outcome === 'lkg') this.cached = decision.state;
    return decision;
  }
}
