import { parseUint } from '../../core/numbers.js';
import {
  EXPIRING_MODES,
  enforces,
  globalModeAt,
  isExpired,
  isMode,
  revertTarget,
  type Mode,
} from '../../core/mode.js';
import {
  isPolicyOperation,
  type LedgerEntry,
  type OperationName,
  type RiskClass,
} from '../../core/ledger/ledger-entry.js';

/** The shared mode as stored in Redis (Keys.mode + Keys.modeOverrides), or the P28_MODE default. */
export interface ModeState {
  mode: Mode;
  version: number;
  changed_at?: number;
  changed_by?: string;
  operation_id?: string;
  expires_at?: number;
  /** the mode an expiring change replaced: what it reverts to */
  revert_to?: Mode;
  /** symbol -> mode; a Map, so a symbol named like an Object.prototype member is just a symbol */
  overrides: ReadonlyMap<string, Mode>;
  /** false while Redis holds no mode hash (readers then use P28_MODE) */
  stored: boolean;
}

export type ChangeIntent =
  | { op: 'set-mode'; mode: Mode; expiresInSec?: number }
  | { op: 'set-override'; symbol: string; mode: Mode }
  | { op: 'clear-override'; symbol: string }
  | { op: 'rollback' }
  | { op: 'auto-revert' };

/** How the change script rewrites the state (see mode.scripts.ts). */
export type StateAction = 'mode' | 'override-set' | 'override-clear' | 'rollback';

export interface ChangePlan {
  operation_name: OperationName;
  scope: string;
  from_mode: Mode;
  to_mode: Mode;
  risk_class: RiskClass;
  action: StateAction;
  /** the global mode after the change */
  mode: Mode;
  symbol?: string;
  /** `null` removes an expiry, `undefined` leaves it as it is (override changes) */
  expires_at: number | null | undefined;
  /** with an expiry: the mode it reverts to (the one the change replaced) */
  revert_to?: Mode;
}

/** Longest expiring enforce or reduce_only: a week. Anything longer should be a plain enforce, decided on purpose. */
export const MAX_EXPIRY_SEC = 7 * 24 * 3600;

/** A change that makes the gate block (enforce, or the reduce_only kill switch) is high risk. */
const riskOf = (to: Mode): RiskClass => (enforces(to) ? 'high' : 'low');

/**
 * What a change does to the state and what its ledger entry says. Pure. Returns `undefined` when
 * the intent does not apply (an auto-revert that is not due, a rollback with nothing to undo), so
 * nothing is written.
 */
export function planChange(state: ModeState, intent: ChangeIntent, nowSec: number): ChangePlan | undefined {
  switch (intent.op) {
    case 'set-mode': {
      const expires =
        EXPIRING_MODES.includes(intent.mode) && intent.expiresInSec !== undefined
          ? nowSec + intent.expiresInSec
          : null;
      // an expired mode not yet reverted is replaced as what it reads as: its revert target
      const replaced = globalModeAt(state, nowSec);
      return {
        operation_name: 'set-mode',
        scope: 'global',
        from_mode: replaced,
        to_mode: intent.mode,
        risk_class: riskOf(intent.mode),
        action: 'mode',
        mode: intent.mode,
        expires_at: expires,
        ...(expires !== null ? { revert_to: replaced } : {}),
      };
    }
    case 'set-override':
      return {
        operation_name: 'set-override',
        scope: intent.symbol,
        from_mode: state.overrides.get(intent.symbol) ?? state.mode,
        to_mode: intent.mode,
        risk_class: riskOf(intent.mode),
        action: 'override-set',
        mode: state.mode,
        symbol: intent.symbol,
        expires_at: undefined,
      };
    case 'clear-override':
      // the symbol falls back to the global mode: that is its mode after the change
      return {
        operation_name: 'clear-override',
        scope: intent.symbol,
        from_mode: state.overrides.get(intent.symbol) ?? state.mode,
        to_mode: state.mode,
        risk_class: riskOf(state.mode),
        action: 'override-clear',
        mode: state.mode,
        symbol: intent.symbol,
        expires_at: undefined,
      };
    case 'rollback': {
      // nothing to undo: no entry, so a repeated emergency call cannot flood the ledger
      if (state.mode === 'shadow' && state.overrides.size === 0 && state.expires_at === undefined) {
        return undefined;
      }
      // rollback also clears overrides, so its from_mode says whether anything was blocking, and how
      const from = enforces(state.mode) ? state.mode : [...state.overrides.values()].find(enforces);
      return {
        operation_name: 'rollback',
        scope: 'global',
        from_mode: from ?? 'shadow',
        to_mode: 'shadow',
        risk_class: 'low',
        action: 'rollback',
        mode: 'shadow',
        expires_at: null,
      };
    }
    case 'auto-revert':
      if (!isExpired(state, nowSec)) return undefined;
      return {
        operation_name: 'auto-revert',
        scope: 'global',
        from_mode: state.mode,
        to_mode: revertTarget(state),
        risk_class: riskOf(revertTarget(state)),
        action: 'mode',
        mode: revertTarget(state),
        expires_at: null,
      };
  }
}

/**
 * Finds what a rollback from `state` undoes, walking the ledger newest first (`visit` each entry in
 * that order until it answers true). The target is the newest entry that put in place an enforce
 * still in effect: the global enforce, or the enforce override of a symbol still enforcing. For each
 * such scope only the newest entry that changed it counts: if that entry did not set enforce (the
 * enforce came from the P28_MODE seed, say), the scope names nothing, and an older enforce entry,
 * long reverted, is never named. With nothing enforcing there is nothing to walk (`undefined`).
 */
export class RollbackTarget {
  /** operation_id of the entry the rollback undoes, once found. */
  target?: string;
  private global: boolean;
  private readonly symbols: Set<string>;

  private constructor(state: Pick<ModeState, 'mode' | 'overrides'>) {
    this.global = enforces(state.mode);
    this.symbols = new Set([...state.overrides].filter(([, m]) => enforces(m)).map(([symbol]) => symbol));
  }

  static from(state: Pick<ModeState, 'mode' | 'overrides'>): RollbackTarget | undefined {
    const walk = new RollbackTarget(state);
    return walk.global || walk.symbols.size > 0 ? walk : undefined;
  }

  /** Takes the next older entry; true once the walk is over (target found, or none can be). */
  visit(e: Record<string, unknown>): boolean {
    const scope = e.scope;
    if (scope === 'global') {
      if (this.global) {
        if (e.operation_name === 'set-mode' && isMode(e.to_mode) && enforces(e.to_mode)) return this.found(e);
        this.global = false;
      }
      // a rollback cleared every override: an override enforcing now was set after it, or not by an entry
      if (e.operation_name === 'rollback') this.symbols.clear();
    } else if (typeof scope === 'string' && this.symbols.has(scope)) {
      if (e.operation_name === 'set-override' && isMode(e.to_mode) && enforces(e.to_mode))
        return this.found(e);
      this.symbols.delete(scope);
    }
    return !this.global && this.symbols.size === 0;
  }

  private found(e: Record<string, unknown>): boolean {
    if (typeof e.operation_id === 'string') this.target = e.operation_id;
    return true;
  }
}

export { isExpired };

/** A field of a hash another service may have written, read as an own key only. */
const own = (h: Record<string, string>, k: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(h, k) ? h[k] : undefined;

const int = parseUint;

/**
 * The state from the raw hashes. A field that does not parse is left out rather than guessed, and
 * reported in `problems`; a bad `mode` falls back to the P28_MODE default as an absent hash does.
 */
export function parseModeState(
  modeHash: Record<string, string>,
  overridesHash: Record<string, string>,
  fallback: Mode,
): { state: ModeState; problems: string[] } {
  const problems: string[] = [];
  const stored = Object.keys(modeHash).length > 0;
  let mode = fallback;
  const field = (k: string) => own(modeHash, k);
  if (stored) {
    const m = field('mode');
    if (isMode(m)) mode = m;
    else problems.push(`mode hash field "mode" is ${JSON.stringify(m ?? null)}`);
  }
  const version = int(field('version'));
  if (stored && version === undefined) problems.push('mode hash field "version" is not an integer');
  const overrides = new Map<string, Mode>();
  for (const [symbol, m] of Object.entries(overridesHash)) {
    if (isMode(m)) overrides.set(symbol, m);
    else problems.push(`override for ${symbol} is ${JSON.stringify(m)}`);
  }
  const state: ModeState = { mode, version: version ?? 0, overrides, stored };
  const changedAt = int(field('changed_at'));
  if (changedAt !== undefined) state.changed_at = changedAt;
  const changedBy = field('changed_by');
  if (changedBy) state.changed_by = changedBy;
  const operationId = field('operation_id');
  if (operationId) state.operation_id = operationId;
  const expiresAt = int(field('expires_at'));
  if (expiresAt !== undefined) state.expires_at = expiresAt;
  else if (field('expires_at') !== undefined) problems.push('mode hash field "expires_at" is not an integer');
  const revertTo = field('revert_to');
  if (isMode(revertTo)) state.revert_to = revertTo;
  else if (revertTo !== undefined)
    problems.push(`mode hash field "revert_to" is ${JSON.stringify(revertTo)}`);
  return { state, problems };
}

export interface ReplayedState {
  mode: Mode;
  version: number;
  changed_at: number;
  changed_by: string;
  operation_id: string;
  overrides: Map<string, Mode>;
  /** The expiry of a time-boxed mode still in force at the last entry, and what it reverts to. */
  expires_at?: number;
  revert_to?: Mode;
}

/**
 * The state a ledger implies, replayed oldest first: what `POST /ops/ledger/restore` puts back when
 * Redis lost it, expiry included (a set-mode entry carries the `expires_at` it set).
 */
export function replayState(entries: readonly LedgerEntry[], initial: Mode): ReplayedState | undefined {
  // the policy's entries carry its own versions; the mode is implied by the mode's entries alone
  const modeEntries = entries.filter((e) => !isPolicyOperation(e.operation_name));
  const last = modeEntries.at(-1);
  if (!last) return undefined;
  let mode = initial;
  let expiresAt: number | undefined;
  let revertTo: Mode | undefined;
  const overrides = new Map<string, Mode>();
  for (const e of modeEntries) {
    switch (e.operation_name) {
      case 'set-override':
        overrides.set(e.scope, e.to_mode);
        break;
      case 'clear-override':
        overrides.delete(e.scope);
        break;
      case 'rollback':
        mode = 'shadow';
        expiresAt = undefined;
        revertTo = undefined;
        overrides.clear();
        break;
      default:
        // set-mode and auto-revert: a new global mode replaces any earlier expiry; an expiring
        // set-mode's from_mode is the mode it replaced, so the one it reverts to
        mode = e.to_mode;
        expiresAt = EXPIRING_MODES.includes(e.to_mode) ? e.expires_at : undefined;
        revertTo = expiresAt !== undefined ? e.from_mode : undefined;
    }
  }
  return {
    mode,
    version: last.version,
    changed_at: last.timestamp,
    changed_by: last.actor,
    operation_id: last.operation_id,
    overrides,
    ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
    ...(expiresAt !== undefined && revertTo !== undefined ? { revert_to: revertTo } : {}),
  };
}
