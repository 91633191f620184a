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
