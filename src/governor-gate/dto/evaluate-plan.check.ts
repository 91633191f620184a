import { MAX_UNKNOWN_KEYS_REPORTED } from '../../platform/http/body-limits.js';
import { errorBody, type ErrorBody } from '../../platform/http/error-body.js';
import type { PlanInput } from '../gate.types.js';
import { SYMBOL_PATTERN } from './evaluate-plan.dto.js';

const KNOWN = new Set(['plan_id', 'symbol', 'side', 'qty', 'projected_notional', 'reduce_only']);

const isNonNegativeNumber = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The app's 400 body: `message: ["field: rule", ...]`, `fields: [...]` (as the global ValidationPipe's). */
type InvalidBody = ErrorBody<string[]> & { fields: string[] };

export type PlanCheck = { plan: PlanInput; invalid?: undefined } | { plan?: undefined; invalid: InvalidBody };

/**
 * Checks the evaluate body by hand: the same rules as EvaluatePlanDto (the documented contract, kept
 * as the reference), at a fraction of class-transformer + class-validator's per-request cost on the
 * gate's hot path. A property test holds the two to the same verdicts and field names. Returns the
 * error rather than throwing it: refusing a body is an answer, not an exception.
 * As with @IsOptional, an optional field sent as null counts as absent.
 */
export function checkEvaluatePlan(value: unknown): PlanCheck {
  if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    return invalid(['body: must be a JSON object'], ['body']);
  }
  const b = (value ?? {}) as Record<string, unknown>;
  let messages: string[] | undefined;
  let fields: string[] | undefined;
  const fail = (field: string, rule: string) => {
    (messages ??= []).push(`${field}: ${rule}`);
    if (!(fields ??= []).includes(field)) fields.push(field);
  };

  const planId = b.plan_id;
  if (typeof planId !== 'string') fail('plan_id', 'plan_id must be a string');
  else if (planId.length < 1 || planId.length > 128) fail('plan_id', 'plan_id must be 1-128 characters');
  const symbol = b.symbol;
  if (typeof symbol !== 'string') fail('symbol', 'symbol must be a string');
  else if (!SYMBOL_PATTERN.test(symbol)) {
    fail('symbol', 'symbol must be 1-32 upper-case letters, digits, ".", "_" or "-"');
  }
  const side = b.side;
  if (side != null && side !== 'BUY' && side !== 'SELL') fail('side', 'side must be BUY or SELL');
  const qty = b.qty;
  if (qty != null && !isNonNegativeNumber(qty)) fail('qty', 'qty must be a finite number >= 0');
  const projected = b.projected_notional;
  if (projected != null && !isNonNegativeNumber(projected)) {
    fail('projected_notional', 'projected_notional must be a finite number >= 0');
  }
  const reduceOnly = b.reduce_only;
  if (reduceOnly != null && typeof reduceOnly !== 'boolean')
    fail('reduce_only', 'reduce_only must be a boolean');
  // a few are enough to say what is wrong; naming them all lets one body cost seconds
  let unknown = 0;
  for (const key in b) {
    if (KNOWN.has(key)) continue;
    fail(key, `property ${key} should not exist`);
    if (++unknown >= MAX_UNKNOWN_KEYS_REPORTED) break;
  }
  if (messages) return invalid(messages, fields as string[]);

  const plan: PlanInput = { plan_id: planId as string, symbol: symbol as string };
  if (side != null) plan.side = side as PlanInput['side'];
  if (qty != null) plan.qty = qty as number;
  if (projected != null) plan.projected_notional = projected as number;
  if (reduceOnly != null) plan.reduce_only = reduceOnly as boolean;
  return { plan };
}

function invalid(message: string[], fields: string[]): PlanCheck {
  return { invalid: errorBody(400, message, { fields }) };
}
