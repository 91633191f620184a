import { streamPairs } from '../stream-fields.js';
import { createHash } from 'node:crypto';
import type { Mode } from '../mode.js';

/**
 * The audit ledger's entry (docs/contract.md §4 Modes and the audit trail) and its SHA-256 hash chain. Pure: no Redis, no clock.
 *
 * Chain rule: `hash = sha256hex(canonical(entry))`, where `canonical` is the JSON of every field
 * except `hash` and `signature`, keys sorted, absent optionals left out. `prev_hash` is one of those fields, so each
 * hash also covers the previous entry's hash; the first entry's `prev_hash` is GENESIS_HASH.
 */
export const GENESIS_HASH = '0'.repeat(64);

export const OPERATION_NAMES = [
  'set-mode',
  'set-override',
  'clear-override',
  'rollback',
  'auto-revert',
  'set-policy',
  'revert-policy',
] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

/** Operations on the risk policy (docs/contract.md §7): their `version` is the policy's own. */
const POLICY_OPERATIONS: ReadonlySet<string> = new Set<OperationName>(['set-policy', 'revert-policy']);
export const isPolicyOperation = (name: unknown): boolean =>
  typeof name === 'string' && POLICY_OPERATIONS.has(name);
export type RiskClass = 'high' | 'low';

export interface LedgerEntry {
  operation_id: string;
  operation_name: OperationName;
  actor: string;
  /** `global`, the symbol of a per-symbol override, or `policy` */
  scope: string;
  from_mode: Mode;
  to_mode: Mode;
  reason: string;
  risk_class: RiskClass;
  /** Only applied operations are written (a refused request writes nothing), so always `applied`. */
  outcome: 'applied';
  rollback_of?: string;
  /**
   * Epoch seconds: set on an enforce change made with `expires_in_sec`. Not in docs/contract.md §4 Modes and the audit trail's
   * list, but without it a ledger restored after a Redis loss would turn a time-boxed enforce into
   * a permanent one.
   */
  expires_at?: number;
  /** policy operations only: the parameters before and after, as JSON (docs/contract.md §7) */
  policy_before?: string;
  policy_after?: string;
  /** the mode's version, or the policy's for a policy operation */
  version: number;
  git_commit: string;
  hostname: string;
  /** epoch seconds */
  timestamp: number;
  prev_hash: string;
  /**
   * Signed ledger: the signer's key id (16 hex of the SHA-256 of its public key), covered by the
   * hash, and the base64 Ed25519 signature over the hash, which the hash cannot cover.
   */
  signer?: string;
  hash: string;
  signature?: string;
}

export type UnsealedEntry = Omit<LedgerEntry, 'hash' | 'signature'>;

/** Fields the hash does not cover: the hash itself and the signature over it. */
const UNHASHED = new Set(['hash', 'signature']);

/** Numeric fields: stored as decimal strings in Redis, numbers in JSON. */
const NUMERIC_FIELDS = new Set(['version', 'timestamp', 'expires_at']);
const STRICT_UINT = /^(0|[1-9][0-9]{0,15})$/;

/** Field order used when writing to Redis and the file: the contract's order, for readability. */
export const FIELD_ORDER = [
  'operation_id',
  'operation_name',
  'actor',
  'scope',
  'from_mode',
  'to_mode',
  'reason',
  'risk_class',
  'outcome',
  'rollback_of',
  'expires_at',
  'policy_before',
  'policy_after',
  'version',
  'git_commit',
  'hostname',
  'timestamp',
  'prev_hash',
  'signer',
  'hash',
  'signature',
] as const;

/**
 * What the hash covers: every field but `hash` and `signature`, keys sorted, `undefined` dropped. Works on any
 * record (not only well-formed entries) so a tampered or extra field changes the encoding too.
 */
export function canonicalEncoding(entry: Readonly<Record<string, unknown>>): string {
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(entry).sort()) {
    if (UNHASHED.has(key) || entry[key] === undefined) continue;
    sorted[key] = entry[key];
  }
  return JSON.stringify(sorted);
}

export function entryHash(entry: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalEncoding(entry), 'utf8').digest('hex');
}

/**
 * The hash must cover exactly what Redis and the mirror store: Redis keeps strings, the mirror
 * JSON, so only strings and plain non-negative integers (numeric fields) round-trip unchanged.
 */
export function sealEntry(entry: UnsealedEntry): LedgerEntry {
  const rec = entry as unknown as Record<string, unknown>;
  for (const [key, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    const ok = NUMERIC_FIELDS.has(key)
      ? typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
      : typeof v === 'string';
    if (!ok) throw new TypeError(`ledger field ${key} cannot be stored as written: ${JSON.stringify(v)}`);
  }
  return { ...entry, hash: entryHash(rec) };
}

/** Flat `[field, value, ...]` for XADD, numbers as decimal strings, optionals left out. */
export function toStreamFields(entry: LedgerEntry): string[] {
  const rec = entry as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const key of FIELD_ORDER) {
    const v = rec[key];
    if (v !== undefined) out.push(key, String(v));
  }
  return out;
}

/** The entry as it is written to the JSONL mirror (contract order, one line). */
export function toJsonLine(entry: LedgerEntry): string {
  const rec = entry as unknown as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) if (rec[key] !== undefined) ordered[key] = rec[key];
  return JSON.stringify(ordered);
}

/**
 * A stream entry's `[field, value, ...]` back to a record. Numeric fields become numbers only when
 * they are plain integers as written, so a rewritten `"01"` or `"1.0"` stays a string and breaks
 * the hash instead of slipping through.
 */
export function fromStreamFields(fields: readonly string[]): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of streamPairs(fields))
    rec[k] = NUMERIC_FIELDS.has(k) && STRICT_UINT.test(v) ? Number(v) : v;
  return rec;
}

/** UTC calendar day of an epoch-ms instant, `YYYY-MM-DD`: the operation id's day. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** `OPS-YYYY-MM-DD-NNN`: at least three digits, more after the 999th operation of a day. */
export function formatOperationId(day: string, seq: number): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`bad day "${day}"`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`bad sequence ${seq}`);
  return `OPS-${day}-${String(seq).padStart(3, '0')}`;
}

export const OPERATION_ID = /^OPS-(\d{4}-\d{2}-\d{2})-(\d{3,})$/;

export function parseOperationId(id: string): { day: string; seq: number } | undefined {
  const m = OPERATION_ID.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) && seq >= 1 ? { day: m[1], seq } : undefined;
}
