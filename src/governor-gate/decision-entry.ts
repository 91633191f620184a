import { currentPosition, finite, withReferencePrice } from './gate-evaluator.js';
import type { GateDecision, GateSnapshot, PlanInput } from './gate.types.js';

/** docs/contract.md §7: the fields of a decision log entry, in the order they are written. */
export const DECISION_FIELDS = [
  'plan_id',
  'symbol',
  'side',
  'qty',
  'projected_notional',
  'reduce_only',
  'decision',
  'reason',
  'mode',
  'enforced',
  'budget_usd',
  'budget_age_sec',
  'violation_age_sec',
  'position_amt',
  'price',
  'equity_usd',
  'portfolio_heat',
  'cluster_stress',
  'vol_regime',
  'policy_version',
  'timestamp_ms',
] as const;

const num = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '' : String(n));
const age = (nowSec: number, ts: string | null | undefined): string => {
  const t = finite(ts);
  return t === undefined ? '' : String(Math.round((nowSec - t) * 1000) / 1000);
};
const raw = (v: string | null | undefined): string => num(finite(v));

/** A JSON string literal: for values that may hold any character (ids, symbols, reasons). */
const str = (v: string): string => JSON.stringify(v);

/**
 * One decision as the log's JSON line: the values in DECISION_FIELDS order, each a string, absent
 * inputs ''. What the decision used, so that replay can judge it again from the entry alone. The
 * snapshot is absent when Redis could not be read. Written out rather than JSON.stringify of an
 * array (the gate builds one per decision): numbers and booleans need no escaping, text goes
 * through JSON.stringify, so the line is what JSON.stringify(values) gives and never holds a newline.
 */
export function decisionLine(
  plan: PlanInput,
  d: GateDecision,
  s: GateSnapshot | undefined,
  nowMs: number,
  position?: { amount?: number; price?: number },
): string {
  const nowSec = nowMs / 1000;
  const pos = position ?? (s ? withReferencePrice(currentPosition(s), s.budgetPrice) : {});
  const reduceOnly = plan.reduce_only === undefined ? '' : String(plan.reduce_only);
  return (
    `[${str(plan.plan_id)},${str(plan.symbol)},${str(plan.side ?? '')},"${num(plan.qty)}",` +
    `"${num(plan.projected_notional)}","${reduceOnly}",${str(d.decision)},${str(d.reason)},` +
    `${str(d.mode)},"${d.enforced}","${num(d.budget_usd ?? finite(s?.budgetUsd))}",` +
    `"${s ? age(nowSec, s.budgetTimestamp) : ''}","${s ? age(nowSec, s.violationTimestamp) : ''}",` +
    `"${num(pos.amount)}","${num(pos.price)}","${raw(s?.budgetEquity)}","${raw(s?.budgetHeat)}",` +
    `"${raw(s?.budgetCluster)}","${raw(s?.budgetVol)}","${raw(s?.budgetPolicyVersion)}","${nowMs}"]`
  );
}

/** The raw JSON of an entry's values: the last field `d`, as parseDecision reads it. */
function rawValues(fields: readonly string[]): string | undefined {
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'd') raw = fields[i + 1];
  return raw;
}

/**
 * A test on an entry before it is parsed: false only for an entry that cannot have this plan id
 * and symbol, so a lookup parses the few candidates, not the whole log. It relies on the gate's
 * own encoding (JSON.stringify of the values, plan_id first, symbol second); parseDecision then
 * decides. Undefined when there is nothing to filter on.
 */
export function decisionPrefilter(q: {
  plan_id?: string;
  symbol?: string;
}): ((fields: readonly string[]) => boolean) | undefined {
  const head = q.plan_id !== undefined ? `[${JSON.stringify(q.plan_id)},` : undefined;
  const sym = q.symbol !== undefined ? `,${JSON.stringify(q.symbol)},` : undefined;
  if (head === undefined && sym === undefined) return undefined;
  return (fields) => {
    const raw = rawValues(fields);
    if (raw === undefined) return false;
    if (head !== undefined && !raw.startsWith(head)) return false;
    if (sym === undefined) return true;
    // the symbol is the second value: right after the plan id's closing quote
    const end = head !== undefined ? head.length - 2 : firstStringEnd(raw);
    return end >= 0 && raw.startsWith(sym, end + 1);
  };
}

/** Index of the quote closing the first value of `["…",…`, or -1. */
function firstStringEnd(raw: string): number {
  if (!raw.startsWith('["')) return -1;
  for (let i = 2; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c)
      i++; // a backslash escapes the next character
    else if (c === 0x22) return i;
  }
  return -1;
}

/** A logged decision as read back: numbers as numbers, '' as null. */
export type LoggedDecision = Record<(typeof DECISION_FIELDS)[number], string | number | boolean | null>;

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const bool = (v: unknown): boolean | null => (v === 'true' ? true : v === 'false' ? false : null);
const number = (v: unknown): number | null => (typeof v === 'string' ? (finite(v) ?? null) : null);

/**
 * One object literal of fixed keys (DECISION_FIELDS order), not a record filled key by key: a
 * replay parses every entry of the window, and a literal keeps one shape for all of them.
 */
function decisionOf(v: readonly unknown[]): LoggedDecision {
  return {
    plan_id: text(v[0]),
    symbol: text(v[1]),
    side: text(v[2]),
    qty: number(v[3]),
    projected_notional: number(v[4]),
    reduce_only: bool(v[5]),
    decision: text(v[6]),
    reason: text(v[7]),
    mode: text(v[8]),
    enforced: bool(v[9]),
    budget_usd: number(v[10]),
    budget_age_sec: number(v[11]),
    violation_age_sec: number(v[12]),
    position_amt: number(v[13]),
    price: number(v[14]),
    equity_usd: number(v[15]),
    portfolio_heat: number(v[16]),
    cluster_stress: number(v[17]),
    vol_regime: number(v[18]),
    policy_version: number(v[19]),
    timestamp_ms: number(v[20]),
  };
}

const NOTHING: readonly unknown[] = [];

export function parseDecision(fields: readonly string[]): LoggedDecision {
  let values: unknown;
  try {
    values = JSON.parse(rawValues(fields) ?? '');
  } catch {
    values = undefined; // another writer's garbage (or no `d`): every field stays null
  }
  return decisionOf(Array.isArray(values) ? values : NOTHING);
}
