import { streamRecord } from '../core/stream-fields.js';
import { parseNonNegative } from '../core/numbers.js';
import { SYMBOL_PATTERN } from './dto/evaluate-plan.dto.js';
import type { PlanInput, PlanSide } from './gate.types.js';

export type ParsedPlanEntry =
  | { kind: 'plan'; plan: PlanInput }
  /** `decision` is not EXECUTE: acknowledged and skipped. */
  | { kind: 'skip'; decision: string; plan_id?: string }
  /** An EXECUTE entry the gate cannot judge (no plan id, no usable symbol): acknowledged, logged. */
  | { kind: 'invalid'; problem: string; plan_id?: string };

const JSON_FIELDS = ['json', 'payload', 'plan'];
const PLAN_ID_MAX = 128;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

const num = parseNonNegative;

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = str(v)?.toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  return undefined;
}

function side(v: unknown): PlanSide | undefined {
  const s = str(v)?.toUpperCase();
  if (s === 'BUY' || s === 'LONG') return 'BUY';
  if (s === 'SELL' || s === 'SHORT') return 'SELL';
  return undefined;
}

/**
 * Apply-layer actions that only take exposure off, matched whole: a name that merely contains
 * CLOSE or PARTIAL (PARTIAL_ENTRY, CLOSE_AND_REVERSE) must not skip the budget check. Anything else
 * is judged from side, qty and the current position.
 */
const CLOSING_ACTION =
  /^(FULL_CLOSE(_PROPOSED)?|CLOSE(_POSITION)?|PARTIAL_CLOSE|PARTIAL_\d{1,3}|REDUCE(_ONLY|_POSITION)?)$/i;

const first = (o: Record<string, unknown>, names: string[]): unknown => {
  for (const n of names) if (o[n] !== undefined && o[n] !== null && o[n] !== '') return o[n];
  return undefined;
};

/**
 * Reads an `apply.plan` stream entry, liberally, because the apply layer has written it in more
 * than one shape over time:
 * - a JSON plan in a `json`, `payload` or `plan` field, and/or flat fields; JSON values win;
 * - `plan_id` (or `id`, `planId`), `symbol` (upper-cased), `decision` (case-insensitive; anything
 *   but EXECUTE, missing included, is skipped);
 * - `side` BUY/SELL (LONG/SHORT accepted), `qty` (or `quantity`), `projected_notional` (or `notional`);
 * - `reduce_only` (or `reduceOnly`), and an `action` naming a close/partial/reduce counts as
 *   reduce-only: such a plan lowers |position| by definition.
 * Numbers that are not finite and ≥ 0 are dropped, never passed on.
 */
export function parsePlanEntry(fields: string[]): ParsedPlanEntry {
  const o: Record<string, unknown> = streamRecord(fields);
  for (const f of JSON_FIELDS) {
    const raw = o[f];
    if (typeof raw !== 'string') continue;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(o, parsed);
    } catch {
      /* not JSON: the flat fields still count */
    }
    break;
  }

  const planId = str(first(o, ['plan_id', 'id', 'planId']));
  const decision = (str(o.decision) ?? '').toUpperCase();
  if (decision !== 'EXECUTE') return { kind: 'skip', decision: decision || '(none)', plan_id: planId };
  if (!planId || planId.length > PLAN_ID_MAX) {
    return { kind: 'invalid', problem: `plan_id must be 1-${PLAN_ID_MAX} characters`, plan_id: planId };
  }
  const symbol = str(o.symbol)?.toUpperCase();
  if (!symbol || !SYMBOL_PATTERN.test(symbol)) {
    return { kind: 'invalid', problem: 'symbol missing or not a symbol', plan_id: planId };
  }

  const plan: PlanInput = { plan_id: planId, symbol };
  const s = side(o.side);
  if (s) plan.side = s;
  const qty = num(first(o, ['qty', 'quantity']));
  if (qty !== undefined) plan.qty = qty;
  const projected = num(first(o, ['projected_notional', 'notional']));
  if (projected !== undefined) plan.projected_notional = projected;
  const action = str(o.action);
  const reduce = bool(first(o, ['reduce_only', 'reduceOnly']));
  if (reduce === true || (action !== undefined && CLOSING_ACTION.test(action))) plan.reduce_only = true;
  return { kind: 'plan', plan };
}
