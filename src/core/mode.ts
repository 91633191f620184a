/**
 * The mode in force for a symbol at a time (CONTRACT.md §4): one rule for every reader. Pure: the
 * caller passes `now`. Overrides are a Map, so a symbol called `constructor` is just a symbol.
 */
export interface ModeSnapshotLike<M extends string> {
  mode: M;
  /** epoch seconds at which a global enforce reverts */
  expires_at?: number;
  overrides: ReadonlyMap<string, M>;
}

/** The mode an expired enforce reverts to. */
export const REVERTED_MODE = 'shadow';

/** A global enforce whose expiry has passed, reverted in Redis or not yet. */
export function isExpired(state: { mode: string; expires_at?: number }, nowSec: number): boolean {
  return state.mode === 'enforce' && state.expires_at !== undefined && nowSec >= state.expires_at;
}

/** The global mode at `nowSec`: an expired enforce reads as the mode it reverts to. */
export function globalModeAt<M extends string>(
  state: { mode: M; expires_at?: number },
  nowSec: number,
): M | typeof REVERTED_MODE {
  return isExpired(state, nowSec) ? REVERTED_MODE : state.mode;
}

/** A symbol's override first (own entries only), then the global mode at `nowSec`. */
export function effectiveMode<M extends string>(
  state: ModeSnapshotLike<M>,
  symbol: string,
  nowSec: number,
): M | typeof REVERTED_MODE {
  return state.overrides.get(symbol) ?? globalModeAt(state, nowSec);
}
