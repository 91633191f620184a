import { parseFinite } from './numbers.js';

/**
 * The position hash fields of docs/contract.md §1 Inputs, in the order every reader fetches them (HMGET and the
 * gate's Lua use this list, so the parser and the readers cannot drift apart).
 */
export const POSITION_FIELDS = [
  'position_amt',
  'quantity',
  'qty',
  'side',
  'mark_price',
  'current_price',
  'entry_price',
] as const;
type PositionField = (typeof POSITION_FIELDS)[number];
export type PositionHash = Partial<Record<PositionField, string | null | undefined>>;

export type ParsedPosition =
  /** amount is signed (long > 0, short < 0); price is undefined when no price field is usable */
  | { kind: 'active'; amount: number; side: string; price: number | undefined }
  /** a real answer: the symbol holds nothing (zero amount or side FLAT) */
  | { kind: 'inactive'; price: number | undefined }
  /** every field absent: the key vanished between discovery and read */
  | { kind: 'gone' }
  /** present but unusable */
  | { kind: 'garbage'; why: string };

const SHORT_SIDES = new Set(['SHORT', 'SELL']);
const LONG_SIDES = new Set(['LONG', 'BUY']);

/** HMGET replies (in POSITION_FIELDS order) to a PositionHash. */
export function positionHashFromList(values: ReadonlyArray<string | null | undefined>): PositionHash {
  const out: PositionHash = {};
  POSITION_FIELDS.forEach((f, i) => {
    out[f] = values[i] ?? null;
  });
  return out;
}

/**
 * One position rule for the engine and the gate (docs/contract.md §1 Inputs): `position_amt` when present, else
 * `quantity`, else `qty` (the apply layer writes these at entry); a side of SHORT/SELL or LONG/BUY
 * sets the sign, FLAT means no position; price is `mark_price`, else `current_price`, else
 * `entry_price`, the first finite positive one.
 */
export function parsePosition(h: PositionHash | null | undefined): ParsedPosition {
  if (!h || POSITION_FIELDS.every((f) => h[f] === null || h[f] === undefined)) return { kind: 'gone' };
  const side = typeof h.side === 'string' ? h.side.trim().toUpperCase() : '';
  let price: number | undefined;
  for (const f of ['mark_price', 'current_price', 'entry_price'] as const) {
    const p = parseFinite(h[f]);
    if (p !== undefined && p > 0) {
      price = p;
      break;
    }
  }
  if (side === 'FLAT') return { kind: 'inactive', price };
  let field: PositionField | undefined;
  let amt: number | undefined;
  for (const f of ['position_amt', 'quantity', 'qty'] as const) {
    const v = parseFinite(h[f]);
    if (v === undefined) continue;
    field = f;
    amt = v;
    break;
  }
  if (amt === undefined || field === undefined)
    return { kind: 'garbage', why: 'no position_amt, quantity or qty' };
  if (Number.isNaN(amt)) return { kind: 'garbage', why: `${field}=${String(h[field]).slice(0, 32)}` };
  if (amt === 0) return { kind: 'inactive', price };
  const signed = SHORT_SIDES.has(side) ? -Math.abs(amt) : LONG_SIDES.has(side) ? Math.abs(amt) : amt;
  return { kind: 'active', amount: signed, side, price };
}
