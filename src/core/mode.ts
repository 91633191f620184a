/**
 * The modes and the mode in force for a symbol at a time (docs/contract.md §4 Modes and the audit trail): one vocabulary and one
 * rule for every reader. Pure: the caller passes `now`. Overrides are a Map, so a symbol called
 * `constructor` is just a symbol.
 */

/** Every mode, global or per symbol. `reduce_only` is the kill switch: only plans lowering |position| pass. */
export const MODES = ['shadow', 'enforce', 'reduce_only'] as const;
export type Mode = (typeof MODES)[number];

/** Modes that may carry an expiry (shadow is where everything ends, so it has nothing to expire). */
export const EXPIRING_MODES: readonly Mode[] = ['enforce', 'reduce_only'];

const MODE_SET: ReadonlySet<unknown> = new Set<unknown>(MODES);

/** A mode string from Redis, a request or a ledger entry; anything else (`constructor`, null) is not. */
export function isMode(v: unknown): v is Mode {
  return MODE_SET.has(v);
}

/** Modes in which the gate's blocks bind (p28_enforce_mode is 1). */
export const enforces = (m: Mode): boolean => m !== 'shadow';

export interface ModeSnapshotLike<M extends string> {
  mode: M;
  /** epoch seconds at which an expiring global mode reverts */
  expires_at?: number;
  /** the mode the expiring change replaced, which it reverts to (shadow when absent) */
  revert_to?: M;
  overrides: ReadonlyMap<string, M>;
}

/** The mode an expiring change reverts to when it does not say which it replaced. */
export const REVERTED_MODE = 'shadow';

/** An expiring global mode whose expiry has passed, reverted in Redis or not yet. */
export function isExpired(state: { mode: string; expires_at?: number }, nowSec: number): boolean {
  return (
    (state.mode === 'enforce' || state.mode === 'reduce_only') &&
    state.expires_at !== undefined &&
    nowSec >= state.expires_at
  );
}

/** What an expired global mode reverts to: the mode its change replaced. */
export function revertTarget<M extends string>(state: { revert_to?: M }): M | typeof REVERTED_MODE {
  return state.revert_to ?? REVERTED_MODE;
}

/** The global mode at `nowSec`: an expired mode reads as the mode it reverts to. */
export function globalModeAt<M extends string>(
  state: { mode: M; expires_at?: number; revert_to?: M },
  nowSec: number,
): M | typeof REVERTED_MODE {
  return isExpired(state, nowSec) ? revertTarget(state) : state.mode;
}

/** A symbol's override first (own entries only), then the global mode at `nowSec`. */
export function effectiveMode<M extends string>(
  state: ModeSnapshotLike<M>,
  symbol: string,
  nowSec: number,
): M | typeof REVERTED_MODE {
  return state.overrides.get(symbol) ?? globalModeAt(state, nowSec);
}
