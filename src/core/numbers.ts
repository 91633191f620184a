/**
 * A finite number from a value another service wrote (Redis strings arrive trimmed or not).
 * Absent, empty or whitespace → undefined; anything that is not a finite number → NaN, so a caller
 * can tell "missing" from "garbage" with `Number.isNaN`.
 */
export function parseFinite(raw: unknown): number | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : Number.NaN;
  if (typeof raw !== 'string') return Number.NaN;
  const text = raw.trim();
  if (text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** A number read from another service: present and finite, or why not. Never NaN/Infinity as `ok`. */
export type Parsed = { ok: true; n: number } | { ok: false; why: 'missing' | 'garbage' };

/**
 * `parseFinite` with a sign rule, for inputs whose absence and garbage are counted apart: absent or
 * blank → missing; not a finite number, or breaking the sign rule → garbage.
 */
export function parseNumber(raw: unknown, rule: 'any' | 'nonNegative' | 'positive' = 'any'): Parsed {
  const n = parseFinite(raw);
  if (n === undefined) return { ok: false, why: 'missing' };
  if (Number.isNaN(n)) return { ok: false, why: 'garbage' };
  if (rule === 'nonNegative' && n < 0) return { ok: false, why: 'garbage' };
  if (rule === 'positive' && n <= 0) return { ok: false, why: 'garbage' };
  return { ok: true, n };
}

/** A non-negative finite number, or undefined for anything else (absent, blank, garbage, negative). */
export function parseNonNegative(raw: unknown): number | undefined {
  const n = parseFinite(raw);
  return n !== undefined && n >= 0 ? n : undefined;
}

/**
 * Versions, sequence numbers and epoch seconds kept by this service: 1-15 decimal digits, the same
 * rule as the Lua scripts' `^[0-9]+$` (15 digits stay exact in a double), so Node and Redis agree.
 */
const UINT = /^[0-9]{1,15}$/;
export function parseUint(raw: string | null | undefined): number | undefined {
  return raw !== null && raw !== undefined && UINT.test(raw) ? Number(raw) : undefined;
}
